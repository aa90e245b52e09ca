"""The yardstick of benchmarks/bench_flow_overhead.py: a night's deterministic rules as a
plain script, no Prefect, no Great Expectations, no warehouse.

    .venv/bin/python benchmarks/plain_night.py EXPORT_ROOT YYYY-MM-DD

Reads the night's export files and those of the night before (export-v1: parquet
or csv.gz, both read by DuckDB), loads them into an in-memory DuckDB and runs the
rules' plain hand-written SQL of benchmarks/bench_rules.py (CROSS_CHECK_SQL: every
rule except the linkage codes). Imports and reading are part of what it costs, so
time the whole process (the benchmark does). Prints how many findings of each code.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import yaml

HERE = Path(__file__).resolve().parent
RULES = HERE.parent / "expectations" / "rules"
sys.path.insert(0, str(HERE))

from bench_rules import CROSS_CHECK_SQL  # noqa: E402

from coklit_dq.config import select_election  # noqa: E402

COLUMNS = {
    "wilayah": {c: "VARCHAR" for c in ("kode_desa", "nama_desa", "kode_kec", "nama_kec",
                                       "kode_kab", "nama_kab", "kode_prov", "nama_prov")},
    "tps": {"kode_desa": "VARCHAR", "no_tps": "INTEGER", "jumlah_diturunkan": "INTEGER"},
    "pantarlih": {"id_pantarlih": "VARCHAR", "kode_desa": "VARCHAR", "no_tps": "INTEGER",
                  "terakhir_login": "TIMESTAMPTZ", "terakhir_sinkron": "TIMESTAMPTZ",
                  "jumlah_tercoklit_app": "INTEGER"},
    "pemilih": {"id_pemilih": "VARCHAR", "nik": "VARCHAR", "nkk": "VARCHAR", "nama": "VARCHAR",
                "tempat_lahir": "VARCHAR", "tanggal_lahir": "DATE", "jenis_kelamin": "VARCHAR",
                "status_kawin": "VARCHAR", "alamat": "VARCHAR", "rt": "VARCHAR", "rw": "VARCHAR",
                "disabilitas": "INTEGER", "kode_desa": "VARCHAR", "no_tps": "INTEGER",
                "status_coklit": "VARCHAR", "kode_tms": "INTEGER", "dokumen_tms": "VARCHAR",
                "id_pantarlih": "VARCHAR", "waktu_coklit": "TIMESTAMPTZ"},
}  # fmt: skip


def load_night(con: duckdb.DuckDBPyConnection, root: Path, tanggal: date) -> dict:
    """Every file the manifest lists, into the table it belongs to; returns the manifest."""
    folder = root / tanggal.isoformat()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        path = folder / entry["path"]
        table = entry["path"].split("/")[0].split(".")[0]
        cols = COLUMNS[table]
        reader = (
            f"read_parquet('{path}')"
            if path.suffix == ".parquet"
            else f"read_csv('{path}', header = true, all_varchar = true)"
        )
        select = ", ".join(f"TRY_CAST({c} AS {t}) AS {c}" for c, t in cols.items())
        con.execute(f"INSERT INTO {table} SELECT DATE '{tanggal}', {select} FROM {reader}")
    return manifest


def main(argv: list[str]) -> int:
    root, tanggal = Path(argv[0]), date.fromisoformat(argv[1])
    lalu = tanggal - timedelta(days=1)
    con = duckdb.connect()
    for table, cols in COLUMNS.items():
        typed = ", ".join(f"{c} {t}" for c, t in cols.items())
        con.execute(f"CREATE TABLE {table} (tanggal_ekspor DATE, {typed})")
    provinces = {}
    for night in (lalu, tanggal):
        manifest = load_night(con, root, night)
        paths = [f["path"] for f in manifest["files"]]
        provinces[night] = sorted(p[8:10] for p in paths if p.startswith("pemilih/"))
    e = select_election()
    param = {
        k: yaml.safe_load((RULES / f"{k}.yaml").read_text(encoding="utf-8"))["parameter"]
        for k in ("PENURUNAN_TAJAM", "PANTARLIH_BELUM_SINKRON", "USIA_TIDAK_WAJAR")
    }
    params = {
        "t": tanggal, "l": lalu, "now": provinces[tanggal],
        "both": sorted(set(provinces[tanggal]) & set(provinces[lalu])),
        "usia": e.usia_minimum, "hari": e.hari_pemungutan, "valid": list(e.kode_tms_valid),
        "maks": e.maks_pemilih_per_tps,
        "dibuat": datetime.fromisoformat(manifest["dibuat"]),
        "ambang": param["PENURUNAN_TAJAM"]["ambang_persen"],
        "jam": param["PANTARLIH_BELUM_SINKRON"]["batas_jam"],
        "usia_maks": param["USIA_TIDAK_WAJAR"]["usia_tertinggi"],
    }  # fmt: skip
    query = CROSS_CHECK_SQL.replace("{unreadable}", "FALSE")
    rows = con.execute(
        f"SELECT kode, count(DISTINCT kunci) FROM ({query}) GROUP BY 1 ORDER BY 1", params
    ).fetchall()
    for kode, n in rows:
        sys.stdout.write(f"{kode:<24} {n:>8}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
