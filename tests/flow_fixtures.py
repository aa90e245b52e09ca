"""Small, exact export-v1 nights for the flow, CLI and server tests.

Built here with polars (vectorised) and written with the project's own writer,
so these tests do not depend on the simulator; a few thousand voters at most.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from coklit_dq.simulate.writer import write_night

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
WIB = timezone(timedelta(hours=7))


def night_tables(
    tanggal: date, voters: int = 1200, provinces: tuple[str, ...] = ("31", "32"), drop: int = 0
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """wilayah, tps, pantarlih and pemilih per province for one night.

    Per province: 2 kab x 2 kec x 2 desa, 3 TPS per desa, families of 3 in one TPS.
    `drop` leaves out the last records of each province (night-to-night change).
    """
    per_prov = voters // len(provinces)
    wil, tps, pan, pem = [], [], [], {}
    for prov in provinces:
        desa = pl.DataFrame({"i": list(range(8))}).with_columns(
            kode_kab=pl.lit(prov)
            + pl.when(pl.col("i") < 4).then(pl.lit("01")).otherwise(pl.lit("71")),
        )
        desa = desa.with_columns(
            kode_kec=pl.col("kode_kab")
            + pl.format("{}", (pl.col("i") // 2 % 2 + 1).cast(pl.String).str.zfill(2)),
        ).with_columns(
            kode_desa=pl.col("kode_kec")
            + pl.lit("2")
            + (pl.col("i") % 2 + 1).cast(pl.String).str.zfill(3),
            kode_prov=pl.lit(prov),
        )
        wil.append(
            desa.select(
                "kode_desa",
                nama_desa=pl.lit("Desa ") + pl.col("kode_desa"),
                kode_kec=pl.col("kode_kec"),
                nama_kec=pl.lit("Kec ") + pl.col("kode_kec"),
                kode_kab=pl.col("kode_kab"),
                nama_kab=pl.lit("Kab ") + pl.col("kode_kab"),
                kode_prov=pl.col("kode_prov"),
                nama_prov=pl.lit("Prov ") + pl.col("kode_prov"),
            )
        )
        n = per_prov - drop
        r = pl.int_range(0, n, eager=True).alias("r").to_frame()
        fam = pl.col("r") // 3
        p = r.with_columns(
            desa_i=(fam % 8).cast(pl.Int64),
            no_tps=((fam // 8) % 3 + 1).cast(pl.Int32),
            female=(pl.col("r") % 2 == 1),
            born=pl.lit(date(1960, 1, 2)) + pl.duration(days=(pl.col("r") * 37) % 14000),
        ).join(desa.select(pl.col("i").alias("desa_i"), "kode_desa", "kode_kec"), on="desa_i")
        p = p.with_columns(
            dd=(pl.col("born").dt.day() + pl.when(pl.col("female")).then(40).otherwise(0))
            .cast(pl.String)
            .str.zfill(2),
            mmyy=pl.col("born").dt.strftime("%m%y"),
        )
        p = p.select(
            id_pemilih=pl.lit(f"P{prov}-") + pl.col("r").cast(pl.String).str.zfill(7),
            nik=pl.col("kode_kec")
            + pl.col("dd")
            + pl.col("mmyy")
            + (pl.col("r") % 9000 + 1).cast(pl.String).str.zfill(4),
            nkk=pl.col("kode_kec") + pl.lit("1501") + (fam + 10).cast(pl.String).str.zfill(6),
            # letters only: a digit in a name is NAMA_TIDAK_WAJAR (reports-v1 v1.1)
            nama=pl.lit("Pemilih ")
            + pl.col("r").cast(pl.String).str.replace_many(list("0123456789"), list("ABCDEFGHIJ")),
            tempat_lahir=pl.lit("Jakarta"),
            tanggal_lahir=pl.col("born"),
            jenis_kelamin=pl.when(pl.col("female")).then(pl.lit("P")).otherwise(pl.lit("L")),
            status_kawin=pl.lit("S"),
            alamat=pl.lit("Jl. Contoh ") + (fam % 50).cast(pl.String),
            rt=pl.lit("001"),
            rw=pl.lit("002"),
            disabilitas=pl.lit(0, pl.Int8),
            kode_desa=pl.col("kode_desa"),
            no_tps=pl.col("no_tps"),
            status_coklit=pl.lit("MS"),
            kode_tms=pl.lit(None, pl.Int16),
            dokumen_tms=pl.lit(None, pl.String),
            id_pantarlih=pl.col("kode_desa") + pl.lit("-") + pl.col("no_tps").cast(pl.String),
            waktu_coklit=pl.lit(datetime(2024, 6, 30, 9, tzinfo=UTC)),
        )
        pem[prov] = p
        per_tps = pl.concat([p]).group_by("kode_desa", "no_tps").agg(n=pl.len().cast(pl.Int64))
        all_tps = (
            desa.select("kode_desa")
            .join(pl.DataFrame({"no_tps": [1, 2, 3]}, schema={"no_tps": pl.Int32}), how="cross")
            .join(per_tps, on=["kode_desa", "no_tps"], how="left")
            .with_columns(pl.col("n").fill_null(0))
        )
        tps.append(all_tps.select("kode_desa", "no_tps", jumlah_diturunkan=pl.col("n") + drop))
        sync = datetime.combine(tanggal, datetime.min.time(), tzinfo=WIB) + timedelta(hours=20)
        pan.append(
            all_tps.select(
                id_pantarlih=pl.col("kode_desa") + pl.lit("-") + pl.col("no_tps").cast(pl.String),
                kode_desa="kode_desa",
                no_tps="no_tps",
                terakhir_login=pl.lit(sync),
                terakhir_sinkron=pl.lit(sync),
                jumlah_tercoklit_app=pl.col("n"),
            )
        )
    tables = {"wilayah": pl.concat(wil), "tps": pl.concat(tps), "pantarlih": pl.concat(pan)}
    return tables, pem


def make_night(
    root: Path,
    tanggal: date,
    *,
    voters: int = 1200,
    provinces: tuple[str, ...] = ("31", "32"),
    drop: int = 0,
    formats: Mapping[str, str] | None = None,
) -> Path:
    tables, pem = night_tables(tanggal, voters, provinces, drop)
    dibuat = datetime.combine(tanggal, datetime.min.time(), tzinfo=WIB) + timedelta(hours=23)
    write_night(
        str(root), tanggal, tables, pem, formats=formats or {"pemilih/31": "csv.gz"}, dibuat=dibuat
    )
    return root / tanggal.isoformat()


def break_file(night: Path, rel: str) -> None:
    """Truncate a file so it no longer matches the manifest (and cannot be read)."""
    p = night / rel
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])


def manifest(night: Path) -> dict:
    return json.loads((night / "manifest.json").read_text(encoding="utf-8"))


def relist(night: Path, rel: str, data: bytes | None = None, rows: int | None = None) -> None:
    """(Re)write `rel` and make the manifest agree with it (sha256, rows): a damaged dump
    whose manifest was written from the damaged bytes."""
    import hashlib

    if data is not None:
        (night / rel).write_bytes(data)
    data = (night / rel).read_bytes()
    m = manifest(night)
    for f in m["files"]:
        if f["path"] == rel:
            f["sha256"] = hashlib.sha256(data).hexdigest()
            if rows is not None:
                f["rows"] = rows
    (night / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


# A full nik in a file's name, each way an export can carry one (review-priv F2): a file
# present but not listed, one listed but absent, one listed and present; neither listed
# name is one of export-v1 (a name that is holds only a province code).
NAME_NIKS = {
    "unlisted": "3502011712730001",
    "listed, absent": "3501010706020001",
    "listed, present": "3271015601670003",
}


def plant_names(night: Path) -> dict[str, str]:
    """Add the files of NAME_NIKS to `night`; returns kind -> the file's path in it."""
    import hashlib

    paths = {
        "unlisted": f"catatan-{NAME_NIKS['unlisted']}.txt",
        "listed, absent": f"pemilih/{NAME_NIKS['listed, absent']}.parquet",
        "listed, present": f"tps_{NAME_NIKS['listed, present']}.parquet",
    }
    for kind in ("unlisted", "listed, present"):
        (night / paths[kind]).write_bytes(b"x")
    m = manifest(night)
    m["files"] += [
        {"path": paths["listed, absent"], "rows": 1, "sha256": "0" * 64},
        {"path": paths["listed, present"], "rows": 1, "sha256": hashlib.sha256(b"x").hexdigest()},
    ]
    (night / "manifest.json").write_text(json.dumps(m), encoding="utf-8")
    return paths


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop a process this test started (and its children, in its own session) by PID."""
    import os
    import signal

    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


# --- Prefect: one test harness for the whole session -----------------------------------
# tests/conftest.py registers this file as a plugin (`pytest_plugins`), so the
# fixture below is defined once and every flow test shares one temporary server.


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """A temporary Prefect server (prefect_test_harness); yields its API URL."""
    from prefect.settings import PREFECT_API_URL
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield str(PREFECT_API_URL.value())


def subprocess_env(api_url: str, **extra: str) -> dict[str, str]:
    """Environment for a child that reports to the harness's server."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": api_url, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"})
    env.update(extra)
    return env
