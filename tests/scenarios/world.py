"""Small worlds for the rules and lifecycle tests, loaded straight into a warehouse.

No ingest stage: the snapshot tables, runs and files are filled directly, the
way ingest leaves them (tanggal_ekspor column, pemilih.baris, runs.dibuat,
files with one used pemilih file per loaded province).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import duckdb
import polars as pl

from coklit_dq import warehouse
from coklit_dq.contract import schema

WIB = timezone(timedelta(hours=7))
DESA = "3204052001"  # Jawa Barat, kab 3204, kec 320405, desa 2001
DESA2 = "3204052002"
DESA_LAIN = "3171011001"  # DKI


def dibuat_of(tanggal: date) -> datetime:
    return datetime.combine(tanggal, datetime.min.time(), tzinfo=WIB) + timedelta(hours=23)


def nik_for(born: date, female: bool, kec: str = "320405", serial: int = 1) -> str:
    day = born.day + (40 if female else 0)
    return f"{kec}{day:02d}{born:%m%y}{serial:04d}"


def name_of(i: int) -> str:
    """A readable name without digits for voter i (NAMA_TIDAK_WAJAR reads names)."""
    letters = ""
    while True:
        i, r = divmod(i, 26)
        letters = chr(ord("A") + r) + letters
        if i == 0:
            return f"Pemilih {letters}"


def voter(i: int, **over: Any) -> dict[str, Any]:
    """A clean voter record of DESA, TPS 1; `over` changes any column."""
    born = over.pop("born", date(1980, 3, 10))
    female = over.pop("female", False)
    rec = {
        "id_pemilih": f"P{i:06d}",
        "nik": nik_for(born, female, serial=i % 9000 + 1),
        "nkk": f"320405150190{i:04d}",
        "nama": name_of(i),
        "tempat_lahir": "Bandung",
        "tanggal_lahir": born,
        "jenis_kelamin": "P" if female else "L",
        "status_kawin": "S",
        "alamat": "Jl. Contoh",
        "rt": "001",
        "rw": "002",
        "disabilitas": 0,
        "kode_desa": DESA,
        "no_tps": 1,
        "status_coklit": "MS",
        "kode_tms": None,
        "dokumen_tms": None,
        "id_pantarlih": f"{DESA}-1",
        "waktu_coklit": datetime(2024, 6, 30, 9, tzinfo=UTC),
    }
    rec.update(over)
    return rec


def frame(table: str, rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    sch = schema(table)
    rows = list(rows)
    return pl.DataFrame({c: [r.get(c) for r in rows] for c in sch}, schema=sch, strict=False)


def wilayah(desas: Iterable[str] = (DESA, DESA2, DESA_LAIN)) -> pl.DataFrame:
    return frame(
        "wilayah",
        [
            {
                "kode_desa": d, "nama_desa": f"Desa {d}", "kode_kec": d[:6],
                "nama_kec": f"Kec {d[:6]}", "kode_kab": d[:4], "nama_kab": f"Kab {d[:4]}",
                "kode_prov": d[:2], "nama_prov": f"Prov {d[:2]}",
            }
            for d in desas
        ],
    )  # fmt: skip


def tps_rows(spec: dict[tuple[str, int], int]) -> pl.DataFrame:
    return frame(
        "tps",
        [{"kode_desa": d, "no_tps": n, "jumlah_diturunkan": j} for (d, n), j in spec.items()],
    )


def officer(kode_desa: str, no_tps: int, app: int, tanggal: date, **over: Any) -> dict[str, Any]:
    sync = dibuat_of(tanggal) - timedelta(hours=3)
    rec = {
        "id_pantarlih": f"{kode_desa}-{no_tps}",
        "kode_desa": kode_desa,
        "no_tps": no_tps,
        "terakhir_login": sync,
        "terakhir_sinkron": sync,
        "jumlah_tercoklit_app": app,
    }
    rec.update(over)
    return rec


def load_night(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    *,
    pemilih: pl.DataFrame,
    tps: pl.DataFrame,
    pantarlih: pl.DataFrame,
    wil: pl.DataFrame | None = None,
    dibuat: datetime | None = None,
    provinces: Iterable[str] | None = None,
    quarantined: Iterable[str] = (),
) -> None:
    """Replace night `tanggal` in the warehouse with these tables.

    `provinces`: provinces whose pemilih file counts as used (default: those in
    pemilih); `quarantined` provinces are recorded as set aside and their
    records are not loaded.
    """
    wil = wil if wil is not None else wilayah()
    q = set(quarantined)
    pem = pemilih.filter(~pl.col("kode_desa").str.slice(0, 2).is_in(list(q)).fill_null(False))
    provs = (
        set(provinces)
        if provinces is not None
        else set(pemilih["kode_desa"].str.slice(0, 2).unique().to_list())
    )
    for t in ("runs", "files", *warehouse.SNAPSHOT_TABLES):
        con.execute(f"DELETE FROM {t} WHERE tanggal_ekspor = ?", [tanggal])
    con.execute(
        "INSERT INTO runs (tanggal_ekspor, dibuat, source, state) VALUES (?, ?, 'test', 'done')",
        [tanggal, dibuat or dibuat_of(tanggal)],
    )
    for name in ("wilayah", "tps", "pantarlih"):
        con.execute(
            "INSERT INTO files VALUES (?, ?, ?, NULL, 0, 'used', NULL)",
            [tanggal, f"{name}.parquet", name],
        )
    for prov in sorted(provs | q):
        con.execute(
            "INSERT INTO files VALUES (?, ?, 'pemilih', ?, 0, ?, NULL)",
            [tanggal, f"pemilih/{prov}.parquet", prov, "quarantined" if prov in q else "used"],
        )
    for name, df in (("wilayah", wil), ("tps", tps), ("pantarlih", pantarlih)):
        _insert(con, name, tanggal, df.select(schema(name).names()))
    pem = pem.select(schema("pemilih").names()).with_columns(
        baris=pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(
            pl.col("kode_desa").str.slice(0, 2)
        )
    )
    _insert(con, "pemilih", tanggal, pem)


def _insert(con: duckdb.DuckDBPyConnection, table: str, tanggal: date, df: pl.DataFrame) -> None:
    df = df.with_columns(tanggal_ekspor=pl.lit(tanggal)).select(
        "tanggal_ekspor", *[c for c in df.columns if c != "tanggal_ekspor"]
    )
    con.register("_baru", df.to_arrow())
    try:
        cols = ", ".join(df.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _baru")
    finally:
        con.unregister("_baru")


def auto_tables(
    records: list[dict[str, Any]],
    tanggal: date,
    tps_extra: dict[tuple[str, int], int] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """pemilih, tps and pantarlih that agree with `records`.

    Every (desa, TPS) of the records plus TPS 1 and 2 of DESA exists, with
    jumlah_diturunkan = its handed-down records and one officer whose counter
    equals its records that are not BELUM; `tps_extra` sets jumlah_diturunkan
    of more TPS (or overrides).
    """
    pem = frame("pemilih", records)
    per = (
        pem.filter(pl.col("no_tps").is_not_null())
        .group_by("kode_desa", "no_tps")
        .agg(
            turun=pl.col("status_coklit").is_in(["BELUM", "MS", "UBAH", "TMS"]).sum(),
            coklit=(pl.col("status_coklit") != "BELUM").sum(),
        )
    )
    spec = {(DESA, 1): 0, (DESA, 2): 0}
    spec.update({(d, n): int(t) for d, n, t, _ in per.iter_rows()})
    spec.update(tps_extra or {})
    coklit = {(d, n): int(c) for d, n, _, c in per.iter_rows()}
    officers = [officer(d, n, coklit.get((d, n), 0), tanggal) for (d, n) in spec]
    return pem, tps_rows(spec), frame("pantarlih", officers)


def fixture_night(
    con: duckdb.DuckDBPyConnection, tanggal: date, voters: int = 1200, drop: int = 0, **kw: Any
) -> None:
    """A night of tests/flow_fixtures.night_tables (clean data) loaded directly."""
    from flow_fixtures import night_tables

    tables, pem = night_tables(tanggal, voters=voters, drop=drop)
    load_night(
        con,
        tanggal,
        pemilih=pl.concat(list(pem.values())),
        tps=tables["tps"],
        pantarlih=tables["pantarlih"],
        wil=tables["wilayah"],
        **kw,
    )
