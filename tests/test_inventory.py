"""Everything loads: prefect.yaml's entrypoints, its schedules, the findings catalog.

A snapshot of the inventory (deployments, schedules, finding codes) so nothing
vanishes silently: changing it means changing this file on purpose.
"""

import importlib.util
import inspect
from pathlib import Path

import pytest
import yaml
from prefect import Flow

from coklit_dq.config import EXPECTATIONS_DIR
from coklit_dq.rules.catalog import load_catalog, load_rule

REPO = Path(__file__).resolve().parent.parent
PREFECT_YAML = yaml.safe_load((REPO / "prefect.yaml").read_text(encoding="utf-8"))
DEPLOYMENTS = {d["name"]: d for d in PREFECT_YAML["deployments"]}

# reports-v1 "The catalog": every build must produce these codes.
REPORTS_V1_CODES = {
    "NIK_TIDAK_VALID", "NIK_TIDAK_SESUAI", "NKK_TIDAK_VALID", "GANDA_ID", "GANDA_NIK",
    "GANDA_ORANG", "TPS_TIDAK_DIKENAL", "KK_TERPISAH", "USIA_BELUM_CUKUP", "TMS_TIDAK_SESUAI",
    "TMS_TANPA_DOKUMEN", "TMS_8_TANPA_PENGGANTI", "STATUS_TIDAK_WAJAR", "DATA_HILANG",
    "TPS_MELEBIHI_KAPASITAS", "PROGRES_MELEBIHI_DATA", "JUMLAH_TIDAK_SESUAI", "PENURUNAN_TAJAM",
    "PANTARLIH_BELUM_LOGIN", "PANTARLIH_BELUM_SINKRON",
}  # fmt: skip

INVENTORY = {
    "deployments": {
        "nightly-coklit": {
            "entrypoint": "flows/nightly.py:nightly_coklit",
            "flow": "nightly-coklit",
            "schedules": [("0 1 * * *", "Asia/Jakarta")],
            "work_pool": "coklit-process",
            # no per-deployment limit: one lock on the warehouse serialises every
            # writer, nightly and backfill alike (issue 9, docs/operations.md)
            "concurrency_limit": None,
        },
        "backfill-coklit": {
            "entrypoint": "flows/backfill.py:backfill_coklit",
            "flow": "backfill-coklit",
            "schedules": [],
            "work_pool": "coklit-process",
            # no per-deployment limit: one lock on the warehouse serialises every
            # writer, nightly and backfill alike (issue 9, docs/operations.md)
            "concurrency_limit": None,
        },
    },
}


def load_entrypoint(entrypoint: str) -> Flow:
    path, func = entrypoint.split(":")
    spec = importlib.util.spec_from_file_location(f"_ep_{func}", REPO / path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, func)


def _limit(d: dict) -> int | None:
    c = d.get("concurrency_limit")
    return c.get("limit") if isinstance(c, dict) else c


def test_inventory_snapshot():
    found = {
        name: {
            "entrypoint": d["entrypoint"],
            "flow": load_entrypoint(d["entrypoint"]).name,
            "schedules": [(s["cron"], s["timezone"]) for s in d.get("schedules") or []],
            "work_pool": d["work_pool"]["name"],
            "concurrency_limit": _limit(d),
        }
        for name, d in DEPLOYMENTS.items()
    }
    assert found == INVENTORY["deployments"]


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_entrypoint_loads_as_a_flow_taking_its_parameters(name):
    d = DEPLOYMENTS[name]
    fl = load_entrypoint(d["entrypoint"])
    assert isinstance(fl, Flow)
    accepted = set(inspect.signature(fl.fn).parameters)
    assert set(d.get("parameters") or {}) <= accepted
    # no secrets, no literal paths: values come from the environment of `prefect deploy`
    for value in (d.get("parameters") or {}).values():
        assert str(value).startswith("{{ $COKLIT_DQ_"), value


def test_nightly_schedule_is_one_am_jakarta():
    (sched,) = DEPLOYMENTS["nightly-coklit"]["schedules"]
    assert sched["cron"] == "0 1 * * *"
    assert sched["timezone"] == "Asia/Jakarta"
    assert sched.get("active", True) is True
    from prefect.client.schemas.schedules import CronSchedule

    CronSchedule(cron=sched["cron"], timezone=sched["timezone"])  # valid for Prefect


def test_pull_step_runs_from_the_local_checkout():
    (step,) = PREFECT_YAML["pull"]
    assert step == {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $PWD }}"}}


def test_catalog_holds_every_reports_v1_code():
    assert REPORTS_V1_CODES <= set(load_catalog())


def test_every_rule_file_compiles():
    files = sorted((EXPECTATIONS_DIR / "rules").glob("*.yaml"))
    assert len(files) >= len(REPORTS_V1_CODES)
    for f in files:
        rule = load_rule(f)
        assert rule.kode_temuan == f.stem
