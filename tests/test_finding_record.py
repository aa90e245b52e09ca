"""One definition of a finding record (contract.FINDING_FIELDS) and its completion at
findings time (coklit_dq.findings): whose record, who acts, prioritas."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl
from test_publish_support import N1, N2, load_night

from coklit_dq import warehouse
from coklit_dq.contract import (
    FINDING_COLUMNS,
    FINDING_SCHEMA,
    RAW_FINDING_SCHEMA,
    RECORD_FIELDS,
    RECORD_FINDING_SCHEMA,
    STORED_FINDING_COLUMNS,
)
from coklit_dq.findings import complete_findings
from coklit_dq.rules.catalog import load_catalog


def test_schemas_ddl_and_columns_all_come_from_one_record():
    con = warehouse.connect(":memory:")
    for table in ("temuan", "temuan_selesai"):
        cols = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
        assert cols[: len(STORED_FINDING_COLUMNS)] == list(STORED_FINDING_COLUMNS)
    assert tuple(FINDING_SCHEMA.names()) == FINDING_COLUMNS
    assert set(RAW_FINDING_SCHEMA.names()) < set(RECORD_FINDING_SCHEMA.names())
    assert set(RECORD_FINDING_SCHEMA.names()) - {"kunci"} < set(FINDING_COLUMNS)
    # v1.1's columns follow v1's, in the contract's order
    assert FINDING_COLUMNS[-10:] == (
        "nama", "jenis_kelamin", "usia", "alamat", "rt", "rw",
        "nama_desa", "nama_kec", "ditangani_oleh", "prioritas",
    )  # fmt: skip


def test_a_warehouse_from_before_v11_gets_the_new_columns(tmp_path):
    path = tmp_path / "old.duckdb"
    old = duckdb.connect(str(path))
    old.execute("CREATE TABLE temuan (tanggal_ekspor DATE, kode_temuan VARCHAR, kunci VARCHAR)")
    old.execute("INSERT INTO temuan VALUES ('2024-07-01', 'GANDA_ID', 'x')")
    old.close()
    con = warehouse.connect(path)
    cols = {r[0] for r in con.execute("DESCRIBE temuan").fetchall()}
    assert {"nama", "usia", "prioritas", "ditangani_oleh"} <= cols
    assert con.execute("SELECT count(*) FROM temuan").fetchall()[0][0] == 1


def _raw(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=RAW_FINDING_SCHEMA)


def test_completion_says_whose_record_and_who_acts(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    _, pem1 = load_night(con, N1)
    _, pem2 = load_night(con, N2, drop=6)
    night1 = pl.concat(list(pem1.values()))
    gone = night1.filter(~pl.col("id_pemilih").is_in(pl.concat(list(pem2.values()))["id_pemilih"]))
    here = pl.concat(list(pem2.values())).row(0, named=True)
    lost = gone.row(0, named=True)
    raw = _raw([
        {"kode_temuan": "NIK_TIDAK_VALID", "tingkat": "SEDANG", "kode_desa": here["kode_desa"],
         "kode_kec": here["kode_desa"][:6], "id_pemilih": here["id_pemilih"], "kunci": "a"},
        {"kode_temuan": "DATA_HILANG", "tingkat": "TINGGI", "kode_desa": lost["kode_desa"],
         "kode_kec": lost["kode_desa"][:6], "id_pemilih": lost["id_pemilih"], "kunci": "b"},
        {"kode_temuan": "TPS_MELEBIHI_KAPASITAS", "tingkat": "SEDANG",
         "kode_desa": here["kode_desa"],
         "kode_kec": here["kode_desa"][:6], "no_tps": 1, "kunci": "c"},
    ])  # fmt: skip
    polling = date(2024, 11, 27)
    out = complete_findings(con, N2, raw, polling)
    assert out.schema == RECORD_FINDING_SCHEMA and out.height == 3
    a, b, c = out.iter_rows(named=True)
    assert (a["nama"], a["alamat"], a["rt"]) == (here["nama"], here["alamat"], here["rt"])
    born = here["tanggal_lahir"]
    age = polling.year - born.year - ((polling.month, polling.day) < (born.month, born.day))
    assert a["usia"] == age and a["jenis_kelamin"] == here["jenis_kelamin"]
    assert b["nama"] == lost["nama"]  # gone tonight: last night's record says whose it was
    assert all(c[f] is None for f in RECORD_FIELDS)  # a TPS finding is not a record's
    for row in (a, b, c):
        rule = load_catalog()[row["kode_temuan"]]
        assert (row["prioritas"], row["ditangani_oleh"]) == (rule.prioritas, rule.ditangani_oleh)
        assert row["nama_desa"] == f"Desa {row['kode_desa']}"
        assert row["nama_kec"] == f"Kec {row['kode_kec']}"
    assert b["ditangani_oleh"] == "PUSDATIN"
