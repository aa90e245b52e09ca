"""Settings, resolved in one place and never at import time.

Precedence: explicit arguments > environment (COKLIT_DQ_*) > files in config/.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
LINKAGE_DIR = PROJECT_ROOT / "linkage"

DEFAULT_ELECTION = "pilkada-2024"
DEFAULT_WAREHOUSE = "coklit-dq.duckdb"
DEFAULT_OUTBOX = "outbox"
DEFAULT_INBOX = "inbox"


@dataclass(frozen=True)
class Election:
    """The election the coklit is for (export-v1 "Election settings")."""

    kode: str
    nama: str
    hari_pemungutan: date
    maks_pemilih_per_tps: int
    usia_minimum: int
    kode_tms_valid: tuple[int, ...]

    @property
    def lahir_paling_lambat(self) -> date:
        """The last birth date that is of age on polling day (29 Feb -> 28 Feb)."""
        d = self.hari_pemungutan
        year = d.year - self.usia_minimum
        try:
            return d.replace(year=year)
        except ValueError:  # polling day on 29 Feb, target year not leap
            return date(year, 2, 28)


def load_elections(path: Path | None = None) -> dict[str, Election]:
    raw: dict[str, dict[str, Any]] = yaml.safe_load(
        (path or CONFIG_DIR / "elections.yaml").read_text(encoding="utf-8")
    )
    out = {}
    for kode, v in raw.items():
        hari = v["hari_pemungutan"]
        out[kode] = Election(
            kode=kode,
            nama=v["nama"],
            hari_pemungutan=hari if isinstance(hari, date) else date.fromisoformat(hari),
            maks_pemilih_per_tps=int(v["maks_pemilih_per_tps"]),
            usia_minimum=int(v["usia_minimum"]),
            kode_tms_valid=tuple(int(x) for x in v["kode_tms_valid"]),
        )
    return out


@dataclass(frozen=True)
class Settings:
    """Everything a night needs to know that is not in the export."""

    election: Election
    warehouse: str = DEFAULT_WAREHOUSE
    outbox: str = DEFAULT_OUTBOX
    quarantine: str | None = None  # default: <warehouse dir>/quarantine (never in the outbox)
    mask_ids: bool = True  # reports-v1: nik/nkk masked unless configured otherwise
    linkage_backend: str = "duckdb"  # or "spark"
    linkage_full: bool = False  # re-link every record tonight instead of only what changed
    recipients_file: Path = field(default=CONFIG_DIR / "recipients.yaml")
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "coklit-dq@kpu.go.id"
    storage_options: dict[str, Any] = field(default_factory=dict)
    # --- issue 9 (operations) -----------------------------------------------------
    source: str | None = None  # export root; a deployment reads it at run time (PATH_ENV)
    duckdb_memory_limit: str = "2GB"  # DuckDB memory_limit of the night (warehouse + Splink)
    duckdb_threads: int | None = None  # DuckDB's threads; None: DuckDB's default (all cores)
    # Nights whose snapshots are kept, counted back from the newest loaded night;
    # None keeps every night (the whole coklit period): a rerun of any earlier
    # night then gives its first run's findings. See docs/operations.md.
    snapshot_retention_nights: int | None = None
    # A province file with fewer records than this fraction of its last loaded
    # night (a header-only or truncated dump) is set aside, not taken as real.
    collapse_threshold: float = 0.5
    pusdatin_email: str | None = None  # who is mailed when a night fails
    # the Great Expectations Data Docs root (<root>/<date>/index.html) the national page
    # links to; None: <warehouse dir>/datadocs
    data_docs: str | None = None
    inbox: str = DEFAULT_INBOX  # tanggapan-v1: regions' responses (any fsspec root)
    # Spark backend of the linkage (full re-link). Defaults fit this 2-core machine in
    # local mode; on a cluster (docs/stages.md) e.g. master "yarn", driver memory 8g,
    # 400 shuffle partitions (~2-4 per executor core over the 205 M records).
    linkage_spark_master: str = "local[2]"
    linkage_spark_driver_memory: str = "3g"
    linkage_spark_partitions: int = 8


def _flag(value: str) -> bool:
    return value.strip().lower() not in ("0", "false", "no", "off")


# Each setting's environment variable and how its text is read; a variable unset or
# empty leaves the setting at its default, which lives once, in `Settings` above.
# (A new setting: its field at the end of Settings, its variable at the end here.)
ENV: dict[str, tuple[str, Callable[[str], Any]]] = {
    "warehouse": ("COKLIT_DQ_WAREHOUSE", str),
    "outbox": ("COKLIT_DQ_OUTBOX", str),
    "quarantine": ("COKLIT_DQ_QUARANTINE", str),
    "mask_ids": ("COKLIT_DQ_MASK_IDS", _flag),
    "linkage_backend": ("COKLIT_DQ_LINKAGE_BACKEND", str),
    "linkage_full": ("COKLIT_DQ_LINKAGE_FULL", _flag),
    "recipients_file": ("COKLIT_DQ_RECIPIENTS", Path),
    "smtp_host": ("COKLIT_DQ_SMTP_HOST", str),
    "smtp_port": ("COKLIT_DQ_SMTP_PORT", int),
    "mail_from": ("COKLIT_DQ_MAIL_FROM", str),
    "source": ("COKLIT_DQ_SOURCE", str),
    "duckdb_memory_limit": ("COKLIT_DQ_DUCKDB_MEMORY_LIMIT", str),
    "duckdb_threads": ("COKLIT_DQ_DUCKDB_THREADS", int),
    "snapshot_retention_nights": ("COKLIT_DQ_SNAPSHOT_RETENTION_NIGHTS", int),
    "collapse_threshold": ("COKLIT_DQ_COLLAPSE_THRESHOLD", float),
    "pusdatin_email": ("COKLIT_DQ_PUSDATIN_EMAIL", str),
    "data_docs": ("COKLIT_DQ_DATA_DOCS", str),
    "inbox": ("COKLIT_DQ_INBOX", str),
    "linkage_spark_master": ("COKLIT_DQ_SPARK_MASTER", str),
    "linkage_spark_driver_memory": ("COKLIT_DQ_SPARK_DRIVER_MEMORY", str),
    "linkage_spark_partitions": ("COKLIT_DQ_SPARK_PARTITIONS", int),
}


# The paths a deployment needs, and the environment variable of each. A
# deployed run resolves them at run time (flow parameter > Prefect Variable of
# the same name in lower case > the worker's environment), so moving a path
# needs no redeploy (docs/operations.md).
PATH_ENV = {
    "source": "COKLIT_DQ_SOURCE",
    "outbox": "COKLIT_DQ_OUTBOX",
    "warehouse": "COKLIT_DQ_WAREHOUSE",
}


def select_election(code: str | None = None) -> Election:
    """The election named `code`, else COKLIT_DQ_ELECTION, else Pilkada 2024.

    Raises ValueError naming the configured ones when there is no such election.
    """
    code = code or os.environ.get("COKLIT_DQ_ELECTION") or DEFAULT_ELECTION
    elections = load_elections()
    if code not in elections:
        raise ValueError(f"unknown election {code!r}; configured: {', '.join(sorted(elections))}")
    return elections[code]


def resolve_settings(**overrides: Any) -> Settings:
    """The one Settings: config files, then COKLIT_DQ_* variables (ENV), then overrides.

    Overrides whose value is None or "" are ignored, so CLI flags and deployment
    parameters can be passed as-is.
    """
    values: dict[str, Any] = {"election": select_election(overrides.pop("election", None))}
    for name, (variable, parse) in ENV.items():
        text = os.environ.get(variable, "").strip()
        if text:
            values[name] = parse(text)
    values.update({k: v for k, v in overrides.items() if v is not None and v != ""})
    return Settings(**values)


def origin(name: str) -> str:
    """Where `resolve_settings` takes setting `name` from when no override gives it: its
    environment variable when that is set, else "default" (so a command can say which
    warehouse it writes, and why)."""
    variable = ENV[name][0]
    return variable if os.environ.get(variable, "").strip() else "default"
