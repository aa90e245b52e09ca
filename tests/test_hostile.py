"""Hostile and damaged exports (issue 10): every value of an export is untrusted.

Each test feeds one hostile or damaged input to the real ingest (and, where the
outcome is a published folder, to the real pipeline) on small nights written by
tests/flow_fixtures, and asserts what happens to it and to the rest of the night.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import subprocess
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from flow_fixtures import NAME_NIKS, make_night, night_tables, plant_names, relist

from coklit_dq import warehouse
from coklit_dq.config import Settings, resolve_settings
from coklit_dq.ingest import IngestResult, ingest_night
from coklit_dq.publish.store import NightWriter, UnsafePath
from coklit_dq.simulate.writer import conform, write_night

N1, N2 = date(2024, 7, 1), date(2024, 7, 2)
ALL_FILES = {
    "wilayah.parquet",
    "tps.parquet",
    "pantarlih.parquet",
    "pemilih/31.csv.gz",
    "pemilih/32.parquet",
}
PAYLOADS = ["../2024-07-01/32", "../../../../tmp/x", "javascript:alert(1)//", "=1+2", "/etc", "3"]


# --- helpers ----------------------------------------------------------------------------


def settings_for(tmp_path: Path, **kw: str) -> Settings:
    return resolve_settings(
        warehouse=str(tmp_path / "wh" / "w.duckdb"), outbox=str(tmp_path / "out"), **kw
    )


def ingest(tmp_path: Path, tanggal: date = N1) -> tuple[IngestResult, duckdb.DuckDBPyConnection]:
    s = settings_for(tmp_path)
    con = warehouse.connect(s.warehouse)
    return ingest_night(con, str(tmp_path / "src"), tanggal, s), con


def quarantine_dir(tmp_path: Path, tanggal: date = N1) -> Path:
    return tmp_path / "wh" / "quarantine" / tanggal.isoformat()


def write_with(tmp_path: Path, tanggal: date, **tables: pl.DataFrame) -> Path:
    """A night of flow_fixtures with some tables (wilayah=..., pemilih_32=...) replaced."""
    base, pem = night_tables(tanggal)
    for name, df in tables.items():
        if name.startswith("pemilih_"):
            pem[name.split("_")[1]] = df
        else:
            base[name] = df
    write_night(str(tmp_path / "src"), tanggal, base, pem, formats={"pemilih/31": "csv.gz"})
    return tmp_path / "src" / tanggal.isoformat()


def row_set(df: pl.DataFrame, i: int, **values: str) -> pl.DataFrame:
    """`df` with row i's columns set to `values`."""
    at = pl.int_range(pl.len()) == i
    return df.with_columns(
        **{c: pl.when(at).then(pl.lit(v)).otherwise(pl.col(c)) for c, v in values.items()}
    )


def files_on_disk(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


# --- 1. codes that would become paths or links ------------------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("column", ["kode_prov", "kode_kab", "kode_desa"])
def test_wilayah_row_with_an_invalid_code_is_set_aside_the_rest_used(
    tmp_path: Path, column: str, payload: str
):
    wil, _ = night_tables(N1)
    wil = wil["wilayah"]
    bad = row_set(wil, 5, **{column: payload})
    write_with(tmp_path, N1, wilayah=bad)
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES and result.quarantined == []
    assert result.rows_set_aside == {"wilayah.parquet": 1}
    warn = next(w for w in result.warnings if w["file"] == "wilayah.parquet")
    # row 6 of the file (1-based); the first code that fails is named
    assert warn["line"] == 6
    assert warn["column"] in ("kode_prov", "kode_kab", "kode_kec", "kode_desa")
    loaded = con.execute("SELECT kode_desa FROM wilayah ORDER BY kode_desa").fetchall()
    kept = wil["kode_desa"].to_list()
    del kept[5]
    assert [r[0] for r in loaded] == sorted(kept)
    doc = json.loads(
        (quarantine_dir(tmp_path) / "wilayah.parquet.baris.json").read_text(encoding="utf-8")
    )
    assert doc["rows_set_aside"] == 1 and doc["rows"][0]["line"] == 6
    assert not (tmp_path / "out").exists()


def test_wilayah_code_not_starting_with_its_parent_is_set_aside(tmp_path: Path):
    wil = night_tables(N1)[0]["wilayah"]
    # a valid-looking kabupaten of another province under province 31
    bad = row_set(wil, 2, kode_kab="3371", kode_kec="337101", kode_desa="3371012001")
    write_with(tmp_path, N1, wilayah=bad)
    result, con = ingest(tmp_path)
    warn = next(w for w in result.warnings if w["file"] == "wilayah.parquet")
    assert (warn["line"], warn["column"]) == (3, "kode_kab")
    assert con.execute("SELECT count(*) FROM wilayah WHERE kode_kab = '3371'").fetchone() == (0,)


@pytest.mark.parametrize("payload", ["../x", "javascript:alert(1)//", "32/../../etc/x"])
def test_voter_with_an_invalid_kode_desa_is_loaded_never_a_region(tmp_path: Path, payload: str):
    _, pem = night_tables(N1)
    write_with(tmp_path, N1, pemilih_32=row_set(pem["32"], 7, kode_desa=payload))
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES and result.rows_set_aside == {}
    got = con.execute("SELECT baris FROM pemilih WHERE kode_desa = ?", [payload]).fetchall()
    assert got == [(8,)]  # loaded: a finding of its row (DATA_TIDAK_VALID), not an error
    codes = con.execute("SELECT kode_desa, kode_kab FROM agregat_desa").fetchall()
    assert all(len(d) == 10 and d.isdigit() and d.startswith(k) for d, k in codes)


def test_hostile_wilayah_on_night_2_never_touches_night_1(tmp_path: Path):
    """The reported attack: kode_prov `../2024-07-01/32` on night 2 overwrote night 1's
    published Kab. Bogor. Now the row is set aside, night 1's files stay byte for byte,
    and no path of `_SELESAI.json` leaves its night."""
    from coklit_dq.pipeline import run_night

    s = settings_for(tmp_path)
    make_night(tmp_path / "src", N1, voters=600)
    first = run_night(s, str(tmp_path / "src"), N1)
    assert first.ok, first.message
    night1 = tmp_path / "out" / N1.isoformat()
    before = {p: (night1 / p).read_bytes() for p in files_on_disk(night1)}

    wil, pem = night_tables(N2, voters=600)
    w = wil["wilayah"]
    hostile = row_set(w.head(1), 0, kode_prov="../2024-07-01/32", kode_kab="../2024-07-01/32/3201")
    wil["wilayah"] = pl.concat([w, hostile])
    pem["32"] = row_set(pem["32"], 3, kode_desa="../2024-07-01/32/3201/x")
    write_night(str(tmp_path / "src"), N2, wil, pem, formats={"pemilih/31": "csv.gz"})
    second = run_night(s, str(tmp_path / "src"), N2)
    assert second.quarantined == [] and second.used, second.message

    assert {p: (night1 / p).read_bytes() for p in files_on_disk(night1)} == before
    out = tmp_path / "out"
    assert {p.name for p in out.iterdir() if not p.name.startswith(".")} == {
        N1.isoformat(),
        N2.isoformat(),
    }
    marker = json.loads((out / N2.isoformat() / "_SELESAI.json").read_text(encoding="utf-8"))
    assert marker["berkas"]
    for rel in marker["berkas"]:
        assert ".." not in rel.split("/") and ":" not in rel, rel
        assert (out / N2.isoformat() / rel).resolve().is_relative_to(out / N2.isoformat())
    # the hostile voter is a finding of its row, on the national list only
    nasional = pl.read_parquet(out / N2.isoformat() / "nasional" / "temuan.parquet")
    hit = nasional.filter(pl.col("kode_desa") == "../2024-07-01/32/3201/x")
    assert "DATA_TIDAK_VALID" in hit["kode_temuan"].to_list()


@pytest.mark.parametrize(
    "rel",
    ["../2024-07-01/32/3201/temuan.csv", "32/../../x", "/etc/passwd", "javascript:alert(1)//x",
     "32/3201/", "32\\..\\x", "32/./3201/a.csv"],
)  # fmt: skip
def test_outbox_writer_refuses_paths_outside_the_night(tmp_path: Path, rel: str):
    w = NightWriter(str(tmp_path / "out"), N2)
    w.begin()
    with pytest.raises(UnsafePath, match="refusing to write"):
        w.write(rel, b"x")
    w.write("32/3201/temuan.csv", b"ok")
    w.commit({"berkas": w.written})
    assert files_on_disk(tmp_path / "out") == {
        "2024-07-02/32/3201/temuan.csv",
        "2024-07-02/_SELESAI.json",
    }


def test_outbox_writer_refuses_a_link_planted_in_its_staging(tmp_path: Path):
    w = NightWriter(str(tmp_path / "out"), N2)
    w.begin()
    (tmp_path / "elsewhere").mkdir()
    Path(w.staging, "32").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UnsafePath, match="resolves outside"):
        w.write("32/temuan.csv", b"x")
    assert list((tmp_path / "elsewhere").iterdir()) == []


# --- 2. damaged files: each set aside alone; bad values are findings ------------------------


def _plain_parquet(tmp_path: Path, marker: str) -> tuple[Path, pl.DataFrame]:
    """pemilih/32 as uncompressed Parquet (4 row groups) with `marker` as one name."""
    night = make_night(tmp_path / "src", N1)
    df = conform("pemilih", night_tables(N1)[1]["32"])
    df = row_set(df, 450, nama=marker)
    (night / "pemilih/32.parquet").unlink()
    df.write_parquet(
        night / "pemilih/32.parquet", compression="uncompressed", statistics=False,
        row_group_size=150,
    )  # fmt: skip
    return night, df


def test_invalid_utf8_in_a_parquet_string_sets_that_file_aside_alone(tmp_path: Path):
    night, _ = _plain_parquet(tmp_path, "SITI ZQZQ AMINAH")
    raw = (night / "pemilih/32.parquet").read_bytes()
    assert raw.count(b"ZQZQ") == 1
    relist(night, "pemilih/32.parquet", raw.replace(b"ZQZQ", b"Z\xff\xfeQ"))  # sha256 matches
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES - {"pemilih/32.parquet"}
    (q,) = result.quarantined
    assert q.path == "pemilih/32.parquet"
    assert q.reason["column"] == "nama"
    assert q.reason["line"] == 451 and "row group 3 (rows 451-600)" in q.reason["message"]
    assert "AMINAH" not in json.dumps(q.reason)  # DuckDB quotes the string: never kept
    n = con.execute("SELECT count(*) FROM pemilih WHERE left(kode_desa, 2) = '31'").fetchone()
    assert n == (600,)


def test_corrupt_parquet_page_sets_that_file_aside_alone(tmp_path: Path):
    night, _ = _plain_parquet(tmp_path, "X")
    path = night / "pemilih/32.parquet"
    con = duckdb.connect()
    (off,) = con.execute(
        "SELECT data_page_offset FROM parquet_metadata(?) "
        "WHERE row_group_id = 1 AND path_in_schema = 'alamat'",
        [str(path)],
    ).fetchone()
    raw = bytearray(path.read_bytes())
    raw[off : off + 24] = bytes(range(200, 224))  # the page header: garbage
    relist(night, "pemilih/32.parquet", bytes(raw))
    result, wh = ingest(tmp_path)
    assert set(result.used) == ALL_FILES - {"pemilih/32.parquet"}
    why = result.quarantined[0].reason
    assert why["column"] == "alamat" and why["line"] == 151
    assert "row group 1" in why["message"]
    n = wh.execute("SELECT count(*) FROM pemilih").fetchone()
    assert n == (600,)


def test_a_zero_birth_date_is_a_finding_of_its_row_not_a_province(tmp_path: Path):
    night = make_night(tmp_path / "src", N1)
    import gzip

    rel = "pemilih/31.csv.gz"
    lines = gzip.decompress((night / rel).read_bytes()).decode("utf-8").split("\n")
    col = lines[0].split(",").index("tanggal_lahir")
    f = lines[77].split(",")
    f[col] = "0000-00-00"
    lines[77] = ",".join(f)
    relist(night, rel, gzip.compress("\n".join(lines).encode("utf-8")))
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES and result.quarantined == []
    got = con.execute(
        "SELECT baris, tanggal_lahir, nilai_tidak_valid FROM pemilih "
        "WHERE nilai_tidak_valid IS NOT NULL"
    ).fetchall()
    assert got == [(77, None, "tanggal_lahir")]
    assert con.execute("SELECT count(*) FROM pemilih").fetchone() == (1200,)


def _edit_csv_cells(night: Path, rel: str, edits: dict[tuple[int, str], str]) -> list[str]:
    """Set cells of a CSV.gz of the night: {(file line, column): text}; the manifest follows.
    Returns the file's lines as they were before (line 1 = header)."""
    import gzip

    lines = gzip.decompress((night / rel).read_bytes()).decode("utf-8").split("\n")
    before = list(lines)
    head = lines[0].split(",")
    for (ln, col), text in edits.items():
        f = lines[ln - 1].split(",")
        f[head.index(col)] = text
        lines[ln - 1] = ",".join(f)
    relist(night, rel, gzip.compress("\n".join(lines).encode("utf-8")))
    return before


def test_bad_values_in_tps_and_pantarlih_are_findings_of_their_rows_not_of_the_file(
    tmp_path: Path,
):
    """export-v1: rows with bad values in a usable file are findings, not errors of the file.
    tps and pantarlih (CSV) each hold unreadable values: both files are used, the TPS and the
    officers are TPS_DATA_TIDAK_VALID / PANTARLIH_DATA_TIDAK_VALID (never "never logged in",
    never a progress or count finding made of an empty value); a tps row whose no_tps cannot
    be read, or whose kode_desa is not a desa code (a path, say), is no TPS and is set aside
    alone with its line, never a folder."""
    from coklit_dq.pipeline import run_night

    fmts = {"pemilih/31": "csv.gz", "tps": "csv.gz", "pantarlih": "csv.gz"}
    night = make_night(tmp_path / "src", N1, voters=600, formats=fmts)
    tps = _edit_csv_cells(night, "tps.csv.gz", {
        (3, "jumlah_diturunkan"): "banyak", (5, "no_tps"): "=1+2", (6, "no_tps"): "-3",
        (9, "kode_desa"): "../../2024-06-30/x",
    })  # fmt: skip
    pan = _edit_csv_cells(night, "pantarlih.csv.gz", {
        (2, "terakhir_login"): "kemarin", (4, "jumlah_tercoklit_app"): "=1+2",
        (7, "terakhir_sinkron"): "2024-07-01 20:00",
    })  # fmt: skip
    s = settings_for(tmp_path)
    result = run_night(s, str(tmp_path / "src"), N1)
    assert result.quarantined == [], result.message
    con = duckdb.connect(s.warehouse, read_only=True)
    files = dict(con.execute("SELECT path, state FROM files").fetchall())
    assert files["tps.csv.gz"] == files["pantarlih.csv.gz"] == "used"
    doc = json.loads((quarantine_dir(tmp_path) / "tps.csv.gz.baris.json").read_text())
    assert [(r["line"], r["column"]) for r in doc["rows"]] == [(5, "no_tps"), (9, "kode_desa")]
    assert doc["rows"][1]["found"] == "../../2024-06-30/x"  # shown in a reason, never a path

    def cell(lines: list[str], ln: int, col: str) -> str:
        return lines[ln - 1].split(",")[lines[0].split(",").index(col)]

    found = con.execute(
        "SELECT kode_temuan, kunci, keterangan FROM temuan WHERE tanggal_ekspor = ?", [N1]
    ).fetchall()
    by = {(k, u): t for k, u, t in found}
    tps3 = f"{cell(tps, 3, 'kode_desa')}:{cell(tps, 3, 'no_tps')}"
    assert "isian jumlah diturunkan tidak terbaca" in by["TPS_DATA_TIDAK_VALID", tps3]
    tps6 = f"{cell(tps, 6, 'kode_desa')}:-3"
    assert "nomor TPS -3 kurang dari 1" in by["TPS_DATA_TIDAK_VALID", tps6]
    officers = {ln: cell(pan, ln, "id_pantarlih") for ln in (2, 4, 7)}
    for ln, what in ((2, "terakhir login"), (4, "jumlah tercoklit app"),
                     (7, "terakhir sinkron")):  # fmt: skip
        assert f"isian {what} tidak terbaca" in by["PANTARLIH_DATA_TIDAK_VALID", officers[ln]]
    codes = {k for k, _, _ in found}
    # an empty value read from a bad one is no finding of its own
    assert "PANTARLIH_BELUM_LOGIN" not in codes and "PANTARLIH_BELUM_SINKRON" not in codes
    assert ("PROGRES_MELEBIHI_DATA", tps3) not in by
    tps_of_4 = f"{cell(pan, 4, 'kode_desa')}:{cell(pan, 4, 'no_tps')}"
    assert ("JUMLAH_TIDAK_SESUAI", tps_of_4) not in by
    con.close()
    # the hostile kode_desa of a tps row became no folder; every path is a code's
    out = tmp_path / "out" / N1.isoformat()
    for rel in files_on_disk(out):
        assert ".." not in rel and "2024-06-30" not in rel, rel
    assert {p.name for p in (tmp_path / "out").iterdir()} == {N1.isoformat()}


# Every file kind in both formats: a damaged file is set aside alone, its reason naming
# the file, the line (CSV) or row group (Parquet) and the column where it is known.
KIND_STRING = {"wilayah": "nama_desa", "tps": "kode_desa", "pantarlih": "id_pantarlih",
               "pemilih/32": "nama"}  # fmt: skip
ALL_CSV = {"wilayah": "csv.gz", "tps": "csv.gz", "pantarlih": "csv.gz", "pemilih/31": "csv.gz",
           "pemilih/32": "csv.gz"}  # fmt: skip


def _one_kind_parquet(
    tmp_path: Path, kind: str, marker: tuple[int, str] | None = None
) -> tuple[Path, str, pl.DataFrame]:
    """The night with `kind` rewritten as uncompressed Parquet in row groups of 8 rows
    (`marker`: (row, column) whose value becomes a unique `...ZQZQ`)."""
    night = make_night(tmp_path / "src", N1)
    tables, pem = night_tables(N1)
    table = kind.split("/", maxsplit=1)[0]
    df = conform(table, pem["32"] if table == "pemilih" else tables[kind])
    if marker:
        df = row_set(df, marker[0], **{marker[1]: "MARKAZQZQ"})
    rel = f"{kind}.parquet"
    df.write_parquet(night / rel, compression="uncompressed", statistics=False, row_group_size=8)
    relist(night, rel)
    return night, rel, df


@pytest.mark.parametrize("kind", list(KIND_STRING))
def test_a_string_not_utf8_in_parquet_of_any_kind_sets_that_file_aside_alone(
    tmp_path: Path, kind: str
):
    col = KIND_STRING[kind]
    night, rel, _ = _one_kind_parquet(tmp_path, kind, marker=(11, col))  # row 12: group 1
    raw = (night / rel).read_bytes()
    assert raw.count(b"ZQZQ") == 1
    relist(night, rel, raw.replace(b"ZQZQ", b"Z\xff\xfeQ"))  # sha256 matches the bytes
    result, _ = ingest(tmp_path)
    assert set(result.used) == ALL_FILES - {rel}
    (q,) = result.quarantined
    assert (q.path, q.reason["file"], q.reason["column"], q.reason["line"]) == (rel, rel, col, 9)
    assert "row group 1 (rows 9-16)" in q.reason["message"]


@pytest.mark.parametrize("kind", list(KIND_STRING))
def test_a_corrupt_parquet_page_of_any_kind_sets_that_file_aside_alone(tmp_path: Path, kind: str):
    night, rel, _ = _one_kind_parquet(tmp_path, kind)
    col = KIND_STRING[kind]
    (off,) = (
        duckdb.connect()
        .execute(
            "SELECT data_page_offset FROM parquet_metadata(?) "
            "WHERE row_group_id = 1 AND path_in_schema = ?",
            [str(night / rel), col],
        )
        .fetchone()
    )
    raw = bytearray((night / rel).read_bytes())
    raw[off : off + 24] = bytes(range(200, 224))
    relist(night, rel, bytes(raw))
    result, _ = ingest(tmp_path)
    assert set(result.used) == ALL_FILES - {rel}
    (q,) = result.quarantined
    assert (q.reason["file"], q.reason["column"], q.reason["line"]) == (rel, col, 9)
    assert "row group 1 (rows 9-16)" in q.reason["message"]


@pytest.mark.parametrize("kind", list(ALL_CSV))
@pytest.mark.parametrize("damage", ["extra_field", "header_renamed", "truncated"])
def test_a_damaged_csv_of_any_kind_sets_that_file_aside_alone(
    tmp_path: Path, kind: str, damage: str
):
    import gzip

    night = make_night(tmp_path / "src", N1, formats=ALL_CSV)
    rel = f"{kind}.csv.gz"
    data = gzip.decompress((night / rel).read_bytes())
    lines = data.decode("utf-8").split("\n")
    if damage == "extra_field":
        lines[6] += ",lebih"  # file line 7
        data = "\n".join(lines).encode("utf-8")
    elif damage == "header_renamed":
        lines[0] = lines[0].replace("kode_desa", "kd_desa")
        data = "\n".join(lines).encode("utf-8")
    packed = gzip.compress(data, mtime=0)
    if damage == "truncated":
        packed = packed[: len(packed) // 2]
    relist(night, rel, packed)
    result, _ = ingest(tmp_path)
    used = {f"{k}.{v}" for k, v in ALL_CSV.items()}
    assert set(result.used) == used - {rel}
    (q,) = result.quarantined
    why = q.reason
    assert why["file"] == rel and why["message"] and why["expected"]
    if damage == "extra_field":
        assert why["line"] == 7
    elif damage == "header_renamed":
        assert (why["line"], why["column"]) == (1, "kode_desa")
        assert "kd_desa" in why["found"]
    else:
        assert "gzip" in why["message"]


def test_a_manifest_entry_with_a_wrong_row_count_sets_only_that_file_aside(tmp_path: Path):
    night = make_night(tmp_path / "src", N1)
    m = json.loads((night / "manifest.json").read_text())
    entry = next(f for f in m["files"] if f["path"] == "tps.parquet")
    entry["rows"] += 1
    (night / "manifest.json").write_text(json.dumps(m))
    result, _ = ingest(tmp_path)
    assert set(result.used) == ALL_FILES - {"tps.parquet"}
    (q,) = result.quarantined
    assert q.reason["file"] == "tps.parquet" and "the manifest lists" in q.reason["message"]


# --- 3. manifest entries and symlinks ------------------------------------------------------


@pytest.mark.parametrize("bad", ["../2024-06-30/pemilih/32.parquet", "/etc/passwd",
                                 "pemilih/../../x.parquet", "C:/x.parquet"])  # fmt: skip
def test_a_traversal_manifest_entry_is_set_aside_alone(tmp_path: Path, bad: str):
    night = make_night(tmp_path / "src", N1)
    secret = tmp_path / "src" / "2024-06-30" / "pemilih"
    secret.mkdir(parents=True)
    (secret / "32.parquet").write_bytes(b"not yours")
    m = json.loads((night / "manifest.json").read_text())
    m["files"].append({"path": bad, "rows": 1, "sha256": "0" * 64})
    (night / "manifest.json").write_text(json.dumps(m))
    result, _ = ingest(tmp_path)
    assert set(result.used) == ALL_FILES
    (q,) = result.quarantined
    assert q.path == bad and "never opened" in q.reason["message"]
    qdir = quarantine_dir(tmp_path)
    assert files_on_disk(qdir) == {"_manifest/files-5.reason.json"}


def test_symlinks_are_never_followed(tmp_path: Path):
    night = make_night(tmp_path / "src", N1)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"3201014501900001 SITI AMINAH")
    (night / "catatan").symlink_to(secret)  # unlisted link to any local file
    # a listed link whose target is the right bytes (sha256 matches) but outside the night
    outside = tmp_path / "outside.parquet"
    shutil.move(night / "pemilih/32.parquet", outside)
    (night / "pemilih/32.parquet").symlink_to(outside)
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES - {"pemilih/32.parquet"}
    why = {q.path: q.reason for q in result.quarantined}
    assert set(why) == {"catatan", "pemilih/32.parquet"}
    assert all("symbolic link" in w["message"] for w in why.values())
    qdir = quarantine_dir(tmp_path)
    assert files_on_disk(qdir) == {"catatan.reason.json", "pemilih/32.parquet.reason.json"}
    assert con.execute("SELECT count(*) FROM pemilih").fetchone() == (600,)


def test_named_pipes_in_the_night_folder_are_never_opened(tmp_path: Path):
    """A named pipe has no writer: opening it to read would hold the night forever. Listed
    or not, it is set aside without being opened, and the other files are used."""
    night = make_night(tmp_path / "src", N1)
    os.mkfifo(night / "catatan")  # unlisted
    (night / "pemilih/32.parquet").unlink()
    os.mkfifo(night / "pemilih/32.parquet")  # listed
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES - {"pemilih/32.parquet"}
    why = {q.path: q.reason for q in result.quarantined}
    assert set(why) == {"catatan", "pemilih/32.parquet"}
    assert all("a named pipe, not a regular file" in w["message"] for w in why.values())
    assert con.execute("SELECT count(*) FROM pemilih").fetchone() == (600,)


def test_a_manifest_that_is_a_named_pipe_stops_the_night_without_waiting(tmp_path: Path):
    from coklit_dq.ingest import IngestError

    night = make_night(tmp_path / "src", N1)
    (night / "manifest.json").unlink()
    os.mkfifo(night / "manifest.json")
    with pytest.raises(IngestError, match=r"manifest\.json: a named pipe"):
        ingest(tmp_path)


def test_a_manifest_that_is_a_symlink_is_never_read(tmp_path: Path):
    from coklit_dq.ingest import IngestError

    night = make_night(tmp_path / "src", N1)
    shutil.move(night / "manifest.json", tmp_path / "manifest.json")
    (night / "manifest.json").symlink_to(tmp_path / "manifest.json")
    with pytest.raises(IngestError, match=r"manifest\.json: a symbolic link"):
        ingest(tmp_path)


# --- 4. a province file holding another province's rows --------------------------------------


def test_copied_rows_of_another_province_are_set_aside_naming_file_and_line(tmp_path: Path):
    _, pem = night_tables(N1)
    mixed = pl.concat([pem["32"].head(300), pem["31"].slice(10, 4), pem["32"].slice(300)])
    write_with(tmp_path, N1, pemilih_32=mixed)
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES and result.quarantined == []
    assert result.rows_set_aside == {"pemilih/32.parquet": 4}
    warn = next(w for w in result.warnings if w["file"] == "pemilih/32.parquet")
    assert (warn["line"], warn["column"]) == (301, "kode_desa")
    assert "4 rows of another province" in warn["message"]
    ids = con.execute("SELECT id_pemilih, count(*) FROM pemilih GROUP BY 1 HAVING count(*) > 1")
    assert ids.fetchall() == []  # no GANDA_ID made from the copies
    doc = json.loads((quarantine_dir(tmp_path) / "pemilih/32.parquet.baris.json").read_text())
    assert [r["line"] for r in doc["rows"]] == [301, 302, 303, 304]


def test_a_file_of_another_province_under_the_wrong_name_is_set_aside(tmp_path: Path):
    tables, pem = night_tables(N1, provinces=("31", "32", "33"))
    pem["32"] = pem["33"]  # upstream wrote province 33 into pemilih/32
    write_night(str(tmp_path / "src"), N1, tables, pem, formats={"pemilih/31": "csv.gz"})
    result, _ = ingest(tmp_path)
    why = next(q.reason for q in result.quarantined if q.path == "pemilih/32.parquet")
    assert "province(s) 33" in why["message"] and "pemilih/32.parquet" == why["file"]


# --- 6. owner-only quarantine and warehouse ---------------------------------------------------


def test_quarantine_and_warehouse_are_owner_only(tmp_path: Path):
    night = make_night(tmp_path / "src", N1)
    (night / "tps.parquet").write_bytes(b"junk")
    old = os.umask(0o022)
    try:
        result, _ = ingest(tmp_path)
    finally:
        os.umask(old)
    assert [q.path for q in result.quarantined] == ["tps.parquet"]
    mode = lambda p: stat.S_IMODE(Path(p).stat().st_mode)  # noqa: E731
    qroot = tmp_path / "wh" / "quarantine"
    for d in (qroot, qroot / N1.isoformat()):
        assert mode(d) == 0o700, d
    for f in quarantine_dir(tmp_path).iterdir():
        assert mode(f) == 0o600, f
    assert mode(tmp_path / "wh") == 0o700
    assert mode(tmp_path / "wh" / "w.duckdb") == 0o600


class _ModesAtEachStep(logging.Handler):
    """At the start and end of each step, the modes of everything under `roots` (some files
    exist only while a run runs: DuckDB's WAL)."""

    def __init__(self, *roots: Path) -> None:
        super().__init__()
        self.roots, self.seen = roots, {}

    def emit(self, record: logging.LogRecord) -> None:
        if "step" not in record.getMessage():  # the start and end of each step
            return
        for root in self.roots:
            for p in [root, *root.rglob("*")] if root.exists() else []:
                with contextlib.suppress(FileNotFoundError):
                    self.seen[p] = stat.S_IMODE(p.lstat().st_mode)


def test_warehouse_wal_lock_spill_and_quarantine_are_owner_only_on_two_nights(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """Under a umask of 022, in a warehouse folder the operator made 0755 (the working
    folder, say): on two nights, every file the writer makes is owner-only while it exists
    (the DuckDB file, its WAL, which DuckDB deletes at each checkpoint and makes again, the
    lock, the quarantine, the outbox's staging); a complete published night gets the
    operator's modes; DuckDB's spill folder is 0700."""
    from coklit_dq.pipeline import run_night, warehouse_lock

    s = settings_for(tmp_path)
    wh, out = tmp_path / "wh", tmp_path / "out"
    wh.mkdir(mode=0o755)
    wh.chmod(0o755)
    spy = _ModesAtEachStep(wh)
    caplog.set_level(logging.INFO, logger="coklit_dq")
    logging.getLogger("coklit_dq").addHandler(spy)
    old = os.umask(0o022)
    try:
        for tanggal in (N1, N2):
            night = make_night(tmp_path / "src", tanggal, voters=600)
            (night / "tps.parquet").write_bytes(b"junk")  # set aside: the quarantine is used
            result = run_night(s, str(tmp_path / "src"), tanggal)
            assert [q["path"] for q in result.quarantined] == ["tps.parquet"], result.message
        with warehouse_lock(s.warehouse):  # the writer's context: DuckDB spills to <wh>.tmp
            con = warehouse.connect(s.warehouse, memory_limit="40MB", threads=1)
            con.execute("SET preserve_insertion_order = false")
            con.execute("CREATE TEMP TABLE big AS SELECT md5(range::VARCHAR) y FROM range(1500000)")
            con.execute("SELECT y, count(*) FROM big GROUP BY y ORDER BY y LIMIT 1").fetchall()
            spill = stat.S_IMODE((wh / "w.duckdb.tmp").stat().st_mode)
            con.close()
    finally:
        os.umask(old)
        logging.getLogger("coklit_dq").removeHandler(spy)
    assert spill == 0o700
    seen = {str(p.relative_to(tmp_path)): m for p, m in spy.seen.items()}
    assert "wh/w.duckdb.wal" in seen, sorted(seen)
    private = {p: oct(m) for p, m in seen.items() if p.startswith("wh/")}
    assert {p: m for p, m in private.items() if m not in ("0o600", "0o700")} == {}
    # after the runs: the warehouse's files and the quarantine of both nights
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    for p in wh.rglob("*"):
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    assert {p.name for p in wh.iterdir()} >= {"w.duckdb", "w.duckdb.lock", "quarantine"}
    # the complete published nights: the operator's umask (022)
    for p in out.rglob("*"):
        assert mode(p) == (0o755 if p.is_dir() else 0o644), p
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_outbox_staging_is_owner_only_until_the_night_is_complete(tmp_path: Path):
    from coklit_dq.privacy import owner_only_files

    old = os.umask(0o022)
    try:
        with owner_only_files():  # as in a run (pipeline.warehouse_lock)
            w = NightWriter(str(tmp_path / "out"), N2)
            w.begin()
            w.write("32/3201/temuan.csv", b"nama,alamat")
            staged = Path(w.staging)
            modes = [
                stat.S_IMODE(p.stat().st_mode)
                for p in (staged, staged / "32", staged / "32/3201/temuan.csv")
            ]
            assert modes == [0o700, 0o700, 0o600]
            w.commit({"berkas": w.written})
    finally:
        os.umask(old)
    night = tmp_path / "out" / N2.isoformat()
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755
    assert stat.S_IMODE(night.stat().st_mode) == 0o755
    assert stat.S_IMODE((night / "32/3201/temuan.csv").stat().st_mode) == 0o644


# --- 7. a full disk says so -------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a 1 MB tmpfs here (needs root): {proc.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_says_no_space_left_on_device(tmp_path: Path, tiny_disk: Path):
    make_night(tmp_path / "src", N1, voters=20000)
    s = resolve_settings(warehouse=str(tiny_disk / "w.duckdb"), outbox=str(tmp_path / "out"),
                         quarantine=str(tmp_path / "q"))  # fmt: skip
    with pytest.raises(OSError, match="No space left on device") as err:
        con = warehouse.connect(s.warehouse)
        ingest_night(con, str(tmp_path / "src"), N1, s)
    assert "cannot rollback" not in str(err.value)
    assert not list((tmp_path / "q").rglob("*.json"))  # a full disk is no error of a file


# --- 5. no raw personal value in any log line, exception, run record, artifact or reason -------


PEOPLE = {
    "31": ("3174054903710007", "3174051203090011", "Zubaidah Hostilewati", "Kotarahasia",
           date(1971, 3, 9), 'Jl. Rahasia No. 77\nBlok "Z", Gg. 5: Buntu'),
    "32": ("3273016208850004", "3273011504100021", "Sumarni ZQZQ Bocorwati", "Desarahasia",
           date(1985, 8, 22), "Jl. Tersembunyi 12"),
    "33": ("3374020510920003", "3374021104120009", "Bambang Tidakbolehterlihat", "Tempatrahasia",
           date(1992, 10, 5), "Jl. Privasi Gg. 3"),
    "34": ("3471011207660001", "3471010101990001", "Wagiyem Tanpakepala", "Lahirrahasia",
           date(1966, 7, 12), "Jl. Kepala Hilang 1"),
    # used: its nik's date part (1 Mar 1958) disagrees with the birth date: NIK_TIDAK_SESUAI,
    # whose text must not show the date part (digits beyond the mask)
    "35": ("3578010103580002", "3578012208140004", "Suparti Tanggalsalah", "Kampungrahasia",
           date(1959, 4, 2), "Jl. Tanggal Salah 9"),
}  # fmt: skip
# tps and pantarlih values that cannot be read, holding a planted nik and nkk
TPS_NIK, PANTARLIH_NKK = "3273016208850004", "3273011504100021"


def _secrets() -> set[str]:
    out = set()
    for nik, nkk, nama, tempat, lahir, alamat in PEOPLE.values():
        out |= {nik, nkk, nama, nama.split()[-1], tempat, lahir.isoformat()}
        out |= set(alamat.split("\n")) | _never_shown(nik, nkk, lahir)
    return out


def _never_shown(nik: str, nkk: str, lahir: date) -> set[str]:
    """What no text may show, not even a region's list: a whole nik or nkk, the digits a
    mask hides (a nik's date part is six of them), a birth date (ISO or in words)."""
    from coklit_dq.bahasa import tanggal_id

    return {nik, nkk, nik[6:14], nik[6:12], nkk[6:14], lahir.isoformat(), tanggal_id(lahir)}


def _hostile_night(root: Path) -> Path:
    """Four provinces, each file hostile in its own way, one planted person in each."""
    import gzip

    tables, pem = night_tables(N1, voters=2000, provinces=("31", "32", "33", "34", "35"))
    for prov, (nik, nkk, nama, tempat, lahir, alamat) in PEOPLE.items():
        at = pl.int_range(pl.len()) == 20
        pem[prov] = pem[prov].with_columns(
            nik=pl.when(at).then(pl.lit(nik)).otherwise("nik"),
            nkk=pl.when(at).then(pl.lit(nkk)).otherwise("nkk"),
            nama=pl.when(at).then(pl.lit(nama)).otherwise("nama"),
            tempat_lahir=pl.when(at).then(pl.lit(tempat)).otherwise("tempat_lahir"),
            tanggal_lahir=pl.when(at).then(pl.lit(lahir)).otherwise("tanggal_lahir"),
            alamat=pl.when(at).then(pl.lit(alamat)).otherwise("alamat"),
        )
    formats = {"pemilih/31": "csv.gz", "pemilih/33": "csv.gz", "pemilih/34": "csv.gz",
               "tps": "csv.gz", "pantarlih": "csv.gz"}  # fmt: skip
    write_night(str(root), N1, tables, pem, formats=formats)
    night = root / N1.isoformat()

    def edit_csv(rel: str, fn) -> None:
        text = gzip.decompress((night / rel).read_bytes()).decode("utf-8")
        relist(night, rel, gzip.compress(fn(text).encode("utf-8"), mtime=0))

    # 31: the planted record (a quoted newline in its address) has one field too many
    edit_csv("pemilih/31.csv.gz", lambda t: t.replace('Gg. 5: Buntu"', 'Gg. 5: Buntu",x', 1))

    # 33: birth date 0000-00-00 and a nik where no_tps belongs: values, loaded as NULL
    def bad_values(t: str) -> str:
        lines = t.split("\n")
        head = lines[0].split(",")
        f = lines[21].split(",")
        f[head.index("tanggal_lahir")] = "0000-00-00"
        f[head.index("no_tps")] = PEOPLE["33"][0]
        lines[21] = ",".join(f)
        return "\n".join(lines)

    edit_csv("pemilih/33.csv.gz", bad_values)
    # tps: a no_tps that is a nik (the row is set aside: its reason shows the value masked),
    # a jumlah_diturunkan holding a nik (province 35, used); pantarlih: a counter holding an
    # nkk (findings)
    tps_edits = {(4, "no_tps"): TPS_NIK, (100, "jumlah_diturunkan"): f"NIK {TPS_NIK}"}
    _edit_csv_cells(night, "tps.csv.gz", tps_edits)
    _edit_csv_cells(night, "pantarlih.csv.gz", {(3, "jumlah_tercoklit_app"): f"KK{PANTARLIH_NKK}"})
    # 34: no header row: the first line read as a header is the planted record
    edit_csv("pemilih/34.csv.gz", lambda t: "\n".join(
        [ln for ln in t.split("\n")[1:] if "Wagiyem" in ln] + t.split("\n")[1:]))  # fmt: skip
    # 32: Parquet whose planted name holds bytes that are not UTF-8 (sha256 matches)
    df = conform("pemilih", pem["32"])
    df.write_parquet(night / "pemilih/32.parquet", compression="uncompressed", statistics=False)
    raw = (night / "pemilih/32.parquet").read_bytes()
    relist(night, "pemilih/32.parquet", raw.replace(b"ZQZQ", b"Z\xff\xfeQ"))
    return night


def test_no_personal_value_escapes_into_logs_records_artifacts_or_reasons(
    prefect_api, tmp_path: Path, capsys, caplog
):
    import logging

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterId,
        LogFilter,
        LogFilterFlowRunId,
    )

    from flows.cli import main  # the console script: nightly starts the flow

    caplog.set_level(logging.DEBUG)
    _hostile_night(tmp_path / "export")
    wh, out, qroot = tmp_path / "w.duckdb", tmp_path / "out", tmp_path / "quarantine"
    code = main(["nightly", "--source", str(tmp_path / "export"), "--date", N1.isoformat(),
                 "--outbox", str(out), "--warehouse", str(wh)])  # fmt: skip
    std = capsys.readouterr()
    assert code == 1  # files were set aside: the night alerts

    texts: dict[str, str] = {"stdout": std.out, "stderr": std.err, "log": caplog.text}
    con = duckdb.connect(str(wh), read_only=True)
    for table in ("runs", "files"):
        texts[table] = json.dumps(con.execute(f"SELECT * FROM {table}").fetchall(), default=str)
    states = dict(con.execute("SELECT path, state FROM files").fetchall())
    row33 = con.execute(
        "SELECT nilai_tidak_valid FROM pemilih WHERE nama = ?", [PEOPLE["33"][2]]
    ).fetchall()
    # texts for regions (they may name the voter, v1.1): never a nik, nkk, hidden digit,
    # birth date; and GX's kept results (internal, rendered as Data Docs): nothing personal
    shown: dict[str, str] = {}
    kinds = dict(con.execute("SELECT kode_temuan, count(*) FROM temuan GROUP BY 1").fetchall())
    for kode, ket in con.execute("SELECT kode_temuan, keterangan FROM temuan").fetchall():
        shown[f"keterangan {kode}"] = shown.get(f"keterangan {kode}", "") + ket + "\n"
    for table in ("gx_validasi", "gx_laporan"):
        texts[table] = json.dumps(con.execute(f"SELECT * FROM {table}").fetchall(), default=str)
    con.close()
    for p in (tmp_path / "datadocs").rglob("*"):
        if p.is_file():
            texts[f"datadocs {p.name}"] = p.read_text(encoding="utf-8", errors="replace")
    for p in out.rglob("*"):  # every published file, read back as text
        if p.suffix == ".xlsx":
            import zipfile

            with zipfile.ZipFile(p) as z:
                text = "".join(z.read(n).decode("utf-8", "replace") for n in z.namelist())
        elif p.suffix == ".parquet":
            text = pl.read_parquet(p).write_csv()
        elif p.is_file():
            text = p.read_text(encoding="utf-8", errors="replace")
        else:
            continue
        shown[f"outbox {p.relative_to(out)}"] = text
    for p in qroot.rglob("*.json"):  # reasons (the raw copies beside them are the files)
        texts[str(p.relative_to(qroot))] = p.read_text(encoding="utf-8")
    with get_client(sync_client=True) as client:
        runs = [r for r in client.read_flow_runs(limit=50) if r.name == f"nightly-{N1}"]
        ids = [r.id for r in runs]
        for r in runs:
            texts[f"flow run {r.id}"] = str(r.state.message if r.state else "")
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=ids))
        )
        texts["artifacts"] = json.dumps([str(a.data) + str(a.description) for a in arts])
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=ids)))
        texts["prefect logs"] = "\n".join(lg.message for lg in logs)
        tasks = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)))
        texts["task runs"] = "\n".join(
            f"{t.name} {t.state.message if t.state else ''}" for t in tasks
        )
    assert arts and logs and tasks  # the scan saw Prefect's own records

    # the hostile files were set aside or used as intended ...
    assert states["pemilih/31.csv.gz"] == "quarantined"
    assert states["pemilih/32.parquet"] == "quarantined"
    assert states["pemilih/34.csv.gz"] == "quarantined"
    assert states["pemilih/33.csv.gz"] == "used" and row33 == [("tanggal_lahir,no_tps",)]
    assert states["tps.csv.gz"] == states["pantarlih.csv.gz"] == "used"
    assert states["pemilih/35.parquet"] == "used"
    for kode in ("DATA_TIDAK_VALID", "NIK_TIDAK_SESUAI", "TPS_DATA_TIDAK_VALID",
                 "PANTARLIH_DATA_TIDAK_VALID"):  # fmt: skip
        assert kinds.get(kode), (kode, kinds)  # the texts scanned include these
    assert any(str(p).endswith("temuan.xlsx") for p in out.rglob("*"))
    assert (qroot / N1.isoformat() / "tps.csv.gz.baris.json").is_file()
    # ... and not one planted personal value is in any of those texts
    leaks = {where: sorted(s for s in _secrets() if s in text) for where, text in texts.items()}
    never = set().union(*(_never_shown(p[0], p[1], p[4]) for p in PEOPLE.values()))
    never |= {TPS_NIK, TPS_NIK[6:14], PANTARLIH_NKK, PANTARLIH_NKK[6:14]}
    leaks |= {where: sorted(s for s in never if s in text) for where, text in shown.items()}
    assert {w: s for w, s in leaks.items() if s} == {}


def test_an_unreadable_value_is_reported_as_data_tidak_valid_of_its_record(tmp_path: Path):
    """The rules side of nilai_tidak_valid: the record is a DATA_TIDAK_VALID finding."""
    import gzip

    from coklit_dq.pipeline import run_night

    night = make_night(tmp_path / "src", N1, voters=600)
    rel = "pemilih/31.csv.gz"
    lines = gzip.decompress((night / rel).read_bytes()).decode("utf-8").split("\n")
    head = lines[0].split(",")
    f = lines[12].split(",")
    f[head.index("tanggal_lahir")] = "0000-00-00"
    lines[12] = ",".join(f)
    relist(night, rel, gzip.compress("\n".join(lines).encode("utf-8")))
    result = run_night(settings_for(tmp_path), str(tmp_path / "src"), N1)
    assert result.quarantined == [] and result.ok, result.message
    con = duckdb.connect(str(tmp_path / "wh" / "w.duckdb"), read_only=True)
    got = con.execute(
        "SELECT keterangan FROM temuan WHERE kode_temuan = 'DATA_TIDAK_VALID' AND id_pemilih = ?",
        [f[head.index("id_pemilih")]],
    ).fetchall()
    con.close()
    assert len(got) == 1 and "isian tanggal lahir tidak terbaca" in got[0][0]
    assert "0000" not in got[0][0]


def test_unlisted_files_with_odd_names_are_set_aside_not_a_crash(tmp_path: Path):
    night = make_night(tmp_path / "src", N1)
    for name in ("a\\..\\b", "baris\nbaru", "sel:=1+2"):
        (night / name).write_bytes(b"x")
    result, _ = ingest(tmp_path)
    assert set(result.used) == ALL_FILES
    assert {q.path for q in result.quarantined} == {"a\\..\\b", "baris\nbaru", "sel:=1+2"}


def test_a_nik_in_a_file_name_is_shown_masked_while_the_quarantine_keeps_the_name(
    tmp_path: Path, caplog
):
    """review-priv F2: a file's name comes from the export. Its reason, the ingest's log
    lines and the run's texts show it masked (`shown_name`); the quarantine, raw data kept
    owner-only, stores the file under its own name."""
    from coklit_dq.pipeline import _quarantined
    from coklit_dq.privacy import mask_id

    night = make_night(tmp_path / "src", N1)
    paths = plant_names(night)
    with caplog.at_level(logging.INFO, logger="coklit_dq"):
        result, con = ingest(tmp_path)
    con.close()
    assert set(result.used) == ALL_FILES
    assert {q.path for q in result.quarantined} == set(paths.values())
    qdir = quarantine_dir(tmp_path)
    for kind, rel in paths.items():
        nik = NAME_NIKS[kind]
        shown = rel.replace(nik, mask_id(nik) or "")
        why = next(q.reason for q in result.quarantined if q.path == rel)
        assert why["file"] == shown, kind
        doc = json.loads((qdir / f"{rel}.reason.json").read_text(encoding="utf-8"))
        assert doc["file"] == shown and nik[6:14] not in json.dumps(doc), kind
        assert f"quarantined {shown!r}" in caplog.text
    assert (qdir / paths["unlisted"]).read_bytes() == b"x"  # kept under its own name
    # what the run's message, artifacts and the command line are built from
    assert {q["path"] for q in _quarantined(result)} == {
        rel.replace(NAME_NIKS[k], mask_id(NAME_NIKS[k]) or "") for k, rel in paths.items()
    }
    assert not [n for n in NAME_NIKS.values() if n[6:14] in caplog.text]


def test_a_line_break_in_a_file_name_is_shown_escaped() -> None:
    from coklit_dq.ingest.quarantine import shown_name

    assert shown_name("a\nb 3502011712730001\u2028.txt") == "a\\nb 350201********01\\u2028.txt"


def test_unlisted_files_whose_names_cannot_be_stored_are_kept_under_names_of_ours(
    tmp_path: Path,
):
    """A name over NAME_MAX once `.reason.json` is added, a name not UTF-8, and a file
    under one of our own folders: each is set aside under a name of ours (its name as
    received, escaped and cut, in the reason); the rest of the night is used."""
    night = make_night(tmp_path / "src", N1)
    long_name = "x" * 250
    (night / long_name).write_bytes(b"hello")
    (night / "_unlisted").mkdir()
    (night / "_unlisted" / "file-0").write_bytes(b"mine")
    raw = os.fsencode(night) + b"/pemilih/33\xff.csv.gz"
    fd = os.open(raw, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"not utf-8")
    os.close(fd)
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES
    why = {q.path: q.reason for q in result.quarantined}
    # sorted names: "_unlisted/file-0" < "pemilih/33\udcff.csv.gz" < "xxx..."
    assert set(why) == {"_unlisted/file-0", "_unlisted/file-1", "_unlisted/file-2"}
    assert why["_unlisted/file-0"]["file"] == "_unlisted/file-0"
    assert why["_unlisted/file-1"]["file"] == "pemilih/33\\xff.csv.gz"
    assert why["_unlisted/file-2"]["file"] == long_name
    assert all("not listed" in w["message"] and "kept as _unlisted/" in w["message"]
               for w in why.values())  # fmt: skip
    qdir = quarantine_dir(tmp_path)
    assert files_on_disk(qdir) == {
        f"_unlisted/file-{n}{ext}" for n in range(3) for ext in ("", ".reason.json")
    }
    assert (qdir / "_unlisted/file-0").read_bytes() == b"mine"
    assert (qdir / "_unlisted/file-1").read_bytes() == b"not utf-8"
    assert (qdir / "_unlisted/file-2").read_bytes() == b"hello"
    doc = json.loads((qdir / "_unlisted/file-1.reason.json").read_text(encoding="utf-8"))
    assert doc["file"] == "pemilih/33\\xff.csv.gz"
    assert sorted(con.execute("SELECT path FROM files WHERE state = 'quarantined'").fetchall()) == [
        (f"_unlisted/file-{n}",) for n in range(3)
    ]


def test_listed_and_rejected_names_that_cannot_be_stored_are_kept_under_names_of_ours(
    tmp_path: Path,
):
    """The same for manifest entries: a long path listed (not an export-v1 file), and a
    `../` path holding a lone surrogate (JSON may carry one) are kept as files-N."""
    night = make_night(tmp_path / "src", N1)
    m = json.loads((night / "manifest.json").read_text())
    long_name = "y" * 300
    m["files"].append({"path": long_name, "rows": 1, "sha256": "0" * 64})
    m["files"].append({"path": "../\ud800" + "z" * 5000, "rows": 1, "sha256": "0" * 64})
    (night / "manifest.json").write_text(json.dumps(m))  # ensure_ascii: "\\ud800" as text
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES
    why = {q.path: q.reason for q in result.quarantined}
    assert set(why) == {"_manifest/files-5", "_manifest/files-6"}
    assert why["_manifest/files-5"]["file"] == long_name
    shown = why["_manifest/files-6"]["file"]
    assert shown.startswith("../\\ud800zzz") and shown.endswith("...") and len(shown) == 1024
    assert files_on_disk(quarantine_dir(tmp_path)) == {
        "_manifest/files-5.reason.json",
        "_manifest/files-6.reason.json",
    }
    assert sorted(con.execute("SELECT path FROM files WHERE state = 'quarantined'").fetchall()) == [
        ("_manifest/files-5",),
        ("_manifest/files-6",),
    ]
