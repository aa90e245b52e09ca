"""Ingest on real files: every kind of bad input of export-v1, and what must still load.

Each night is written by the project's writer (tests/flow_fixtures.make_night:
wilayah, tps, pantarlih and pemilih/32 as Parquet, pemilih/31 as CSV.gz, 600
voters per province) and then broken on disk the way real dumps break.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from flow_fixtures import make_night, night_tables, relist

from coklit_dq import warehouse
from coklit_dq.config import Settings, resolve_settings
from coklit_dq.contract import EXPORT_TABLES
from coklit_dq.ingest import LATIN1_POLICY, IngestError, IngestResult, ingest_night
from coklit_dq.simulate.writer import conform, encode_table, write_night

N1 = date(2024, 7, 1)
PER_PROV = 600
ALL_FILES = {
    "wilayah.parquet",
    "tps.parquet",
    "pantarlih.parquet",
    "pemilih/31.csv.gz",
    "pemilih/32.parquet",
}


# --- helpers ----------------------------------------------------------------------------


def settings_for(tmp_path: Path) -> Settings:
    return resolve_settings(
        warehouse=str(tmp_path / "wh" / "w.duckdb"), outbox=str(tmp_path / "out")
    )


def ingest(tmp_path: Path, tanggal: date = N1) -> tuple[IngestResult, duckdb.DuckDBPyConnection]:
    s = settings_for(tmp_path)
    con = warehouse.connect(s.warehouse)
    return ingest_night(con, str(tmp_path / "src"), tanggal, s), con


def csv_lines(night: Path, rel: str) -> list[str]:
    return gzip.decompress((night / rel).read_bytes()).decode("utf-8").split("\n")


def gz(text: str, encoding: str = "utf-8") -> bytes:
    return gzip.compress(text.encode(encoding), mtime=0)


def reason_of(result: IngestResult, rel: str) -> dict:
    found = [q.reason for q in result.quarantined if q.path == rel]
    assert found, f"{rel} not quarantined; quarantined: {[q.path for q in result.quarantined]}"
    return found[0]


def quarantine_dir(tmp_path: Path, tanggal: date = N1) -> Path:
    return tmp_path / "wh" / "quarantine" / tanggal.isoformat()


def assert_rest_loaded(
    result: IngestResult, con: duckdb.DuckDBPyConnection, bad: str, tanggal: date = N1
) -> None:
    """Every file but `bad` was used and its rows are in the warehouse."""
    assert set(result.used) == ALL_FILES - {bad}
    assert [q.path for q in result.quarantined] == [bad]
    for rel in result.used:
        table = rel.split(".")[0].split("/")[0]
        if table == "pemilih":
            prov = rel.split("/")[1].split(".")[0]
            n = con.execute(
                "SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ? AND left(kode_desa, 2) = ?",
                [tanggal, prov],
            ).fetchone()[0]
            assert n == PER_PROV, rel
        else:
            n = con.execute(f"SELECT count(*) FROM {table} WHERE tanggal_ekspor = ?", [tanggal])
            assert n.fetchone()[0] == result.rows[rel] > 0
    states = dict(
        con.execute("SELECT path, state FROM files WHERE tanggal_ekspor = ?", [tanggal]).fetchall()
    )
    assert states[bad] == "quarantined"
    assert all(states[r] == "used" for r in result.used)


def assert_quarantined_copy(tmp_path: Path, bad: str, original: bytes | None) -> dict:
    """The file's bytes as received and its reason.json lie in the quarantine folder."""
    qdir = quarantine_dir(tmp_path)
    if original is not None:
        assert (qdir / bad).read_bytes() == original
    doc = json.loads((qdir / f"{bad}.reason.json").read_text(encoding="utf-8"))
    assert set(doc) == {"file", "line", "column", "expected", "found", "message"}
    assert doc["file"] == bad
    return doc


@pytest.fixture
def night(tmp_path: Path) -> Path:
    return make_night(tmp_path / "src", N1)


# --- a good night ---------------------------------------------------------------------------


def test_good_night_loads_every_file_with_contract_types(tmp_path: Path, night: Path):
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES and result.quarantined == [] and result.ok
    assert result.provinces_loaded == ["31", "32"] and result.provinces_missing == []
    assert result.dibuat is not None and result.dibuat.isoformat().startswith("2024-07-01T23:00")
    _, pem = night_tables(N1)
    for prov in ("31", "32"):  # CSV and Parquet load the same values
        got = con.sql(
            "SELECT * EXCLUDE (tanggal_ekspor, baris, nilai_tidak_valid) FROM pemilih "
            f"WHERE left(kode_desa, 2) = '{prov}' ORDER BY baris"
        ).pl()
        want = conform("pemilih", pem[prov])
        assert got.columns == want.columns
        assert got.cast(want.schema).equals(want), prov
    baris = con.execute("SELECT min(baris), max(baris), count(DISTINCT baris) FROM pemilih "
                        "WHERE left(kode_desa, 2) = '31'").fetchone()  # fmt: skip
    assert baris == (1, PER_PROV, PER_PROV)
    unread = con.execute("SELECT count(nilai_tidak_valid) FROM pemilih").fetchone()
    assert unread == (0,)  # every value was read
    run = con.execute("SELECT state, source, dibuat FROM runs WHERE tanggal_ekspor = ?", [N1])
    state, source, dibuat = run.fetchone()
    assert state == "running" and source == str(tmp_path / "src") and dibuat == result.dibuat
    assert not quarantine_dir(tmp_path).exists()


def test_leading_zero_codes_from_csv_are_kept(tmp_path: Path):
    tables, pem = night_tables(N1, voters=400, provinces=("01", "32"))
    write_night(
        str(tmp_path / "src"),
        N1,
        tables,
        pem,
        formats={
            "wilayah": "csv.gz",
            "tps": "csv.gz",
            "pantarlih": "csv.gz",
            "pemilih/01": "csv.gz",
        },
    )
    result, con = ingest(tmp_path)
    assert result.quarantined == [] and result.provinces_loaded == ["01", "32"]
    assert (
        con.execute(
            "SELECT count(*) FROM pemilih WHERE kode_desa LIKE '01%' AND rt = '001' AND rw = '002' "
            "AND nik LIKE '01%' AND length(nik) = 16"
        ).fetchone()[0]
        == 200
    )
    assert con.execute(
        "SELECT min(kode_prov), min(kode_kab), min(length(kode_desa)) FROM wilayah"
    ).fetchone() == ("01", "0101", 10)
    assert con.execute("SELECT count(*) FROM tps WHERE kode_desa LIKE '01%'").fetchone()[0] == 24
    # timestamps with +07:00 in the CSV are the same instants as in Parquet
    ts = con.execute(
        "SELECT DISTINCT terakhir_sinkron FROM pantarlih WHERE kode_desa LIKE '01%'"
    ).fetchall()
    assert [t[0].isoformat() for t in ts] == ["2024-07-01T13:00:00+00:00"]


def test_value_problems_in_pemilih_are_loaded_as_they_are(tmp_path: Path):
    tables, pem = night_tables(N1)
    p = pem["31"].with_columns(
        nik=pl.when(pl.int_range(pl.len()) == 5).then(pl.lit("310101010190001")).otherwise("nik"),
        jenis_kelamin=pl.when(pl.int_range(pl.len()) == 6).then(pl.lit("X"))
        .otherwise("jenis_kelamin"),
        no_tps=pl.when(pl.int_range(pl.len()) == 7).then(pl.lit(99, pl.Int32)).otherwise("no_tps"),
        disabilitas=pl.when(pl.int_range(pl.len()) == 8).then(pl.lit(9, pl.Int8))
        .otherwise("disabilitas"),
    )  # fmt: skip
    dup = p.head(3)  # the same id_pemilih three times more: GANDA_ID is a finding, not an error
    pem["31"] = pl.concat([p, dup])
    write_night(str(tmp_path / "src"), N1, tables, pem, formats={"pemilih/31": "csv.gz"})
    result, con = ingest(tmp_path)
    assert result.quarantined == []
    rows = dict(
        con.execute(
            "SELECT baris, nik || '|' || jenis_kelamin || '|' || no_tps || '|' || disabilitas "
            "FROM pemilih WHERE left(kode_desa, 2) = '31' AND baris BETWEEN 6 AND 9"
        ).fetchall()
    )
    assert rows[6].startswith("310101010190001|")
    assert rows[7].split("|")[1] == "X"
    assert rows[8].split("|")[2] == "99"
    assert rows[9].split("|")[3] == "9"
    ids = con.execute(
        "SELECT count(*), count(DISTINCT id_pemilih) FROM pemilih WHERE left(kode_desa, 2) = '31'"
    ).fetchone()
    assert ids == (PER_PROV + 3, PER_PROV)


def test_extra_columns_are_allowed_and_ignored(tmp_path: Path, night: Path):
    lines = csv_lines(night, "pemilih/31.csv.gz")
    lines = [ln + (",tambahan" if i else ",kolom_baru") if ln else ln for i, ln in enumerate(lines)]
    relist(night, "pemilih/31.csv.gz", gz("\n".join(lines)))
    tables, _ = night_tables(N1)
    extra = conform("tps", tables["tps"]).with_columns(catatan=pl.lit("x"))
    relist(night, "tps.parquet", encode_table(extra, "parquet"))
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES and result.quarantined == []
    cols = [r[0] for r in con.execute("DESCRIBE pemilih").fetchall()]
    assert "kolom_baru" not in cols


# --- bad files: each is quarantined, the rest of the night loads ------------------------------


def test_truncated_gzip(tmp_path: Path, night: Path):
    rel = "pemilih/31.csv.gz"
    data = (night / rel).read_bytes()[:-200]
    relist(night, rel, data)  # the manifest agrees: the dump itself was cut short
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["file"] == rel and "gzip" in why["message"]
    assert why["expected"] == "a complete gzip-compressed CSV"
    assert_rest_loaded(result, con, rel)
    assert_quarantined_copy(tmp_path, rel, data)
    assert warehouse.loaded_provinces(con, N1) == ["32"]


def test_parquet_that_is_not_parquet(tmp_path: Path, night: Path):
    rel = "pemilih/32.parquet"
    data = b"PAR1 this is a CSV someone renamed\n1,2,3\n"
    relist(night, rel, data)
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert "not a readable Parquet file" in why["message"]
    assert why["expected"] == "a Parquet file" and why["file"] == rel
    assert_rest_loaded(result, con, rel)
    assert_quarantined_copy(tmp_path, rel, data)


def test_sha256_differs_from_manifest(tmp_path: Path, night: Path):
    rel = "tps.parquet"
    listed = json.loads((night / "manifest.json").read_text())["files"]
    sha = next(f["sha256"] for f in listed if f["path"] == rel)
    data = (night / rel).read_bytes() + b"\0"
    (night / rel).write_bytes(data)
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["expected"] == f"sha256 {sha}"
    assert why["found"].startswith("sha256 ") and sha not in why["found"]
    assert "sha256" in why["message"]
    assert_rest_loaded(result, con, rel)
    assert_quarantined_copy(tmp_path, rel, data)
    # without tps the desa aggregates say "unknown", not zero
    assert con.execute(
        "SELECT count(*), count(jumlah_diturunkan), count(n_tps) FROM agregat_desa"
    ).fetchone() == (16, 0, 0)


def test_row_count_differs_from_manifest(tmp_path: Path, night: Path):
    for rel in ("pemilih/31.csv.gz", "pemilih/32.parquet"):
        relist(night, rel, (night / rel).read_bytes(), rows=PER_PROV + 1)
    result, con = ingest(tmp_path)
    for rel in ("pemilih/31.csv.gz", "pemilih/32.parquet"):
        why = reason_of(result, rel)
        assert why["expected"] == f"{PER_PROV + 1} rows (manifest)"
        assert why["found"] == f"{PER_PROV} rows"
    assert set(result.used) == {"wilayah.parquet", "tps.parquet", "pantarlih.parquet"}
    assert con.execute("SELECT count(*) FROM pemilih").fetchone()[0] == 0
    assert result.provinces_loaded == [] and warehouse.loaded_provinces(con, N1) == []
    # no province loaded: no desa aggregates that would look like every voter vanished
    assert con.execute("SELECT count(*) FROM agregat_desa").fetchone()[0] == 0


def test_listed_file_missing(tmp_path: Path, night: Path):
    rel = "pantarlih.parquet"
    (night / rel).unlink()
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["message"] == "listed in manifest.json but absent"
    assert why["expected"] == "the file"
    assert_rest_loaded(result, con, rel)
    assert_quarantined_copy(tmp_path, rel, None)
    assert not (quarantine_dir(tmp_path) / rel).exists()


def test_unlisted_file(tmp_path: Path, night: Path):
    rel = "pemilih/33.csv.gz"
    data = (night / "pemilih/31.csv.gz").read_bytes()
    (night / rel).write_bytes(data)
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert "not listed" in why["message"] and why["expected"] == "only the files the manifest lists"
    assert set(result.used) == ALL_FILES
    assert_quarantined_copy(tmp_path, rel, data)
    assert con.execute(
        "SELECT state, tabel, kode_prov FROM files WHERE path = ?", [rel]
    ).fetchone() == ("quarantined", "pemilih", "33")
    assert result.provinces_loaded == ["31", "32"]


def test_renamed_column_in_csv(tmp_path: Path, night: Path):
    rel = "pemilih/31.csv.gz"
    lines = csv_lines(night, rel)
    lines[0] = lines[0].replace("tanggal_lahir", "tgl_lahir")
    data = gz("\n".join(lines))
    relist(night, rel, data)
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["column"] == "tanggal_lahir" and why["line"] == 1
    assert why["expected"] == "a column named tanggal_lahir"
    assert "tgl_lahir" in why["found"]
    assert_rest_loaded(result, con, rel)
    assert_quarantined_copy(tmp_path, rel, data)


def test_missing_column_in_parquet(tmp_path: Path, night: Path):
    rel = "pemilih/32.parquet"
    _, pem = night_tables(N1)
    df = conform("pemilih", pem["32"]).drop("status_coklit")
    relist(night, rel, encode_table(df, "parquet"))
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["column"] == "status_coklit" and why["expected"] == "a column named status_coklit"
    assert "missing" in why["message"]
    assert_rest_loaded(result, con, rel)


def test_wrong_column_type_in_parquet(tmp_path: Path, night: Path):
    rel = "wilayah.parquet"
    tables, _ = night_tables(N1)
    df = conform("wilayah", tables["wilayah"]).with_columns(pl.col("kode_desa").cast(pl.Int64))
    relist(night, rel, encode_table(df, "parquet"))
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["column"] == "kode_desa" and why["found"] == "BIGINT"
    assert why["expected"] == "a string (VARCHAR)"
    assert_rest_loaded(result, con, rel)
    # provinces still known (from the pemilih files); nothing reported missing
    assert result.provinces_loaded == ["31", "32"]


def test_naive_timestamp_column_in_parquet_is_the_wrong_type(tmp_path: Path, night: Path):
    rel = "pantarlih.parquet"
    tables, _ = night_tables(N1)
    df = conform("pantarlih", tables["pantarlih"]).with_columns(
        pl.col("terakhir_sinkron").dt.replace_time_zone(None)
    )
    relist(night, rel, encode_table(df, "parquet"))
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["column"] == "terakhir_sinkron" and why["found"] == "TIMESTAMP"
    assert why["expected"] == "an ISO 8601 timestamp with offset (TIMESTAMPTZ)"
    assert_rest_loaded(result, con, rel)


def test_integer_too_large_in_pemilih_is_a_finding_of_its_row(tmp_path: Path, night: Path):
    """export-v1: a bad value in a usable file is no error of the file; the row is loaded
    with the value empty and nilai_tidak_valid naming the column."""
    rel = "pemilih/32.parquet"
    _, pem = night_tables(N1)
    df = conform("pemilih", pem["32"]).with_columns(
        disabilitas=pl.when(pl.int_range(pl.len()) == 41)
        .then(pl.lit(300))
        .otherwise(pl.col("disabilitas").cast(pl.Int64))
    )
    relist(night, rel, encode_table(df, "parquet"))
    result, con = ingest(tmp_path)
    assert result.quarantined == [] and rel in result.used
    got = con.execute(
        "SELECT baris, disabilitas, nilai_tidak_valid FROM pemilih "
        "WHERE nilai_tidak_valid IS NOT NULL"
    ).fetchall()
    assert got == [(42, None, "disabilitas")]
    warn = next(w for w in result.warnings if w["file"] == rel)
    assert (warn["line"], warn["column"]) == (42, "disabilitas")


def test_integer_too_large_in_tps_no_tps_sets_that_row_aside(tmp_path: Path, night: Path):
    """A TPS is kode_desa + no_tps: a row whose no_tps cannot be read is no TPS. It alone is
    set aside (file, line, column); the rest of tps is used."""
    rel = "tps.parquet"
    tables, _ = night_tables(N1)
    df = conform("tps", tables["tps"]).with_columns(
        no_tps=pl.when(pl.int_range(pl.len()) == 4)
        .then(pl.lit(1 << 33))
        .otherwise(pl.col("no_tps").cast(pl.Int64))
    )
    relist(night, rel, encode_table(df, "parquet"))
    result, con = ingest(tmp_path)
    assert result.quarantined == [] and set(result.used) == ALL_FILES
    assert result.rows_set_aside == {rel: 1}
    warn = next(w for w in result.warnings if w["file"] == rel)
    assert (warn["line"], warn["column"]) == (5, "no_tps")
    doc = json.loads((quarantine_dir(tmp_path) / f"{rel}.baris.json").read_text())
    (row,) = doc["rows"]
    assert (row["line"], row["column"], row["found"]) == (5, "no_tps", str(1 << 33))
    assert row["expected"] == "an integer (INTEGER)"
    n = con.execute("SELECT count(*) FROM tps").fetchone()
    assert n == (df.height - 1,)


def test_unparsable_dates_are_findings_of_their_rows(tmp_path: Path, night: Path):
    rel = "pemilih/31.csv.gz"
    lines = csv_lines(night, rel)
    header = lines[0].split(",")
    col = header.index("tanggal_lahir")
    for ln, bad in ((40, "1990-02-30"), (90, "31/12/1990"), (95, "0000-00-00")):
        fields = lines[ln - 1].split(",")
        fields[col] = bad
        lines[ln - 1] = ",".join(fields)
    relist(night, rel, gz("\n".join(lines)))
    result, con = ingest(tmp_path)
    assert result.quarantined == [] and set(result.used) == ALL_FILES
    got = con.execute(
        "SELECT baris + 1, tanggal_lahir, nilai_tidak_valid FROM pemilih "
        "WHERE nilai_tidak_valid IS NOT NULL ORDER BY 1"
    ).fetchall()
    assert got == [(40, None, "tanggal_lahir"), (90, None, "tanggal_lahir"),
                   (95, None, "tanggal_lahir")]  # fmt: skip
    n = con.execute("SELECT count(*) FROM pemilih WHERE left(kode_desa, 2) = '31'").fetchone()
    assert n == (PER_PROV,)
    warn = next(w for w in result.warnings if w["file"] == rel)
    assert (warn["line"], warn["column"]) == (40, "tanggal_lahir")
    assert "3 value(s)" in warn["message"]
    assert "1990" not in json.dumps(warn)  # a birth date is personal: never quoted


@pytest.mark.parametrize(
    ("column", "bad", "expected"),
    [
        ("terakhir_sinkron", "2024-07-01 20:00", "an ISO 8601 timestamp with offset"),
        ("terakhir_login", "kemarin", "an ISO 8601 timestamp with offset"),
        ("no_tps", "dua", "an integer (INTEGER)"),
        ("jumlah_tercoklit_app", "1.5", "an integer (BIGINT)"),
    ],
)
def test_bad_timestamp_or_integer_in_pantarlih_csv_is_a_finding_of_its_row(
    tmp_path: Path, column: str, bad: str, expected: str
):
    """export-v1: a bad value in a usable file is no error of the file. The officer's row is
    loaded with that value empty and nilai_tidak_valid naming it (the rules report the
    officer: PANTARLIH_DATA_TIDAK_VALID); the warning names line and column."""
    night = make_night(
        tmp_path / "src", N1, formats={"pemilih/31": "csv.gz", "pantarlih": "csv.gz"}
    )
    rel = "pantarlih.csv.gz"
    lines = csv_lines(night, rel)
    col = lines[0].split(",").index(column)
    fields = lines[7].split(",")
    fields[col] = bad
    lines[7] = ",".join(fields)
    relist(night, rel, gz("\n".join(lines)))
    result, con = ingest(tmp_path)
    assert result.quarantined == []
    assert set(result.used) == {"wilayah.parquet", "tps.parquet", rel, "pemilih/31.csv.gz",
                                "pemilih/32.parquet"}  # fmt: skip
    warn = next(w for w in result.warnings if w["file"] == rel)
    assert (warn["line"], warn["column"], warn["expected"]) == (8, column, expected)
    got = con.execute(
        f"SELECT id_pantarlih, {column} FROM pantarlih WHERE nilai_tidak_valid IS NOT NULL"
    ).fetchall()
    ids = [ln.split(",")[0] for ln in lines[1:] if ln]
    assert got == [(ids[6], None)]
    assert con.execute("SELECT count(*) FROM pantarlih").fetchone() == (len(ids),)


def test_csv_line_with_too_many_fields(tmp_path: Path, night: Path):
    rel = "pemilih/31.csv.gz"
    lines = csv_lines(night, rel)
    lines[10] += ",surplus"
    relist(night, rel, gz("\n".join(lines)))
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["line"] == 11
    assert why["expected"] == f"{len(EXPORT_TABLES['pemilih'])} comma-separated fields per line"
    # DuckDB quotes the record in its error; the reason must not carry the nik
    nik = lines[10].split(",")[1]
    assert nik not in json.dumps(why)
    assert_rest_loaded(result, con, rel)


def test_bom_and_crlf_csv_is_accepted(tmp_path: Path, night: Path):
    rel = "pemilih/31.csv.gz"
    lines = [ln for ln in csv_lines(night, rel) if ln]
    relist(night, rel, gz("\ufeff" + "\r\n".join(lines) + "\r\n"))
    result, con = ingest(tmp_path)
    assert set(result.used) == ALL_FILES and result.quarantined == [] and result.warnings == []
    _, pem = night_tables(N1)
    got = con.execute(
        "SELECT id_pemilih, nama, alamat, waktu_coklit FROM pemilih "
        "WHERE left(kode_desa, 2) = '31' ORDER BY baris LIMIT 1"
    ).fetchone()
    first = pem["31"].row(0, named=True)
    assert got[:3] == (first["id_pemilih"], first["nama"], first["alamat"])  # no BOM, no \r
    assert got[3] == first["waktu_coklit"]


def test_latin1_name_is_decoded_with_a_warning(tmp_path: Path, night: Path):
    assert LATIN1_POLICY == "decode"
    rel = "pemilih/31.csv.gz"
    lines = csv_lines(night, rel)
    lines[4] = lines[4].replace("Pemilih D", "José Muñoz")  # r = 3, digits spelled A-J
    relist(night, rel, gz("\n".join(lines), encoding="latin-1"))
    result, con = ingest(tmp_path)
    assert rel in result.used and result.quarantined == []
    (warning,) = result.warnings
    assert warning["file"] == rel and warning["line"] == 5
    assert warning["expected"] == "UTF-8 text" and "decoded as Latin-1" in warning["message"]
    stored = con.execute("SELECT state, reason FROM files WHERE path = ?", [rel]).fetchone()
    assert stored[0] == "used" and json.loads(stored[1])["line"] == 5
    assert con.execute(
        "SELECT nama FROM pemilih WHERE left(kode_desa, 2) = '31' AND baris = 4"
    ).fetchone() == ("José Muñoz",)


# --- nights that cannot be read at all ------------------------------------------------------


def test_manifest_not_json_raises_naming_it(tmp_path: Path, night: Path):
    (night / "manifest.json").write_text('{"format": "coklit-export/1", "files": [', "utf-8")
    with pytest.raises(IngestError, match=r"2024-07-01/manifest\.json: not valid JSON"):
        ingest(tmp_path)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda m: m.update(format="coklit-export/2"), "format is 'coklit-export/2'"),
        (lambda m: m.update(tanggal_ekspor="2024-07-02"), "tanggal_ekspor is '2024-07-02'"),
    ],
)
def test_manifest_of_the_wrong_format_raises(tmp_path: Path, night: Path, edit, match):
    m = json.loads((night / "manifest.json").read_text())
    edit(m)
    (night / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IngestError, match=match) as err:
        ingest(tmp_path)
    assert "manifest.json" in str(err.value)


@pytest.mark.parametrize(
    ("rel", "edit", "column", "found"),
    [
        ("wilayah.parquet", {"sha256": "xyz"}, "sha256", "'xyz'"),
        ("tps.parquet", {"rows": None}, "rows", "None"),
        ("pemilih/32.parquet", {"rows": "31"}, "rows", "'31'"),
        ("pemilih/31.csv.gz", {"rows": -1}, "rows", "-1"),
    ],
)
def test_a_manifest_entry_with_a_bad_count_or_digest_sets_only_its_file_aside(
    tmp_path: Path, night: Path, rel: str, edit: dict, column: str, found: str
):
    """export-v1: a row count or sha256 problem is an error of that file, not of the night."""
    m = json.loads((night / "manifest.json").read_text())
    i, entry = next((i, f) for i, f in enumerate(m["files"]) if f["path"] == rel)
    entry.update(edit)
    (night / "manifest.json").write_text(json.dumps(m))
    result, con = ingest(tmp_path)
    why = reason_of(result, rel)
    assert why["column"] == column and why["found"] == found
    assert f"files[{i}] has a {column}" in why["message"] and why["expected"]
    assert_rest_loaded(result, con, rel)
    assert_quarantined_copy(tmp_path, rel, (night / rel).read_bytes())
    assert result.provinces_missing == []  # listed, if badly: set aside, not missing


def test_manifest_absent_raises(tmp_path: Path, night: Path):
    (night / "manifest.json").unlink()
    with pytest.raises(IngestError, match=r"manifest\.json: manifest absent"):
        ingest(tmp_path)


def test_empty_night_folder_raises(tmp_path: Path):
    (tmp_path / "src" / N1.isoformat()).mkdir(parents=True)
    with pytest.raises(IngestError, match=r"src/2024-07-01: the night folder is empty"):
        ingest(tmp_path)


def test_no_night_folder_raises(tmp_path: Path):
    (tmp_path / "src").mkdir()
    with pytest.raises(IngestError, match=r"src/2024-07-01: no such night folder"):
        ingest(tmp_path)


# --- provinces, quarantine place -------------------------------------------------------------


def test_missing_province_is_reported_not_vanished(tmp_path: Path, night: Path):
    m = json.loads((night / "manifest.json").read_text())
    m["files"] = [f for f in m["files"] if f["path"] != "pemilih/32.parquet"]
    (night / "manifest.json").write_text(json.dumps(m))
    (night / "pemilih/32.parquet").unlink()
    result, con = ingest(tmp_path)
    assert result.quarantined == [] and result.provinces_missing == ["32"]
    assert result.provinces_loaded == ["31"] == warehouse.loaded_provinces(con, N1)
    provs = con.execute("SELECT DISTINCT kode_prov FROM agregat_desa").fetchall()
    assert provs == [("31",)]


def test_quarantine_goes_to_settings_quarantine_never_the_outbox(tmp_path: Path, night: Path):
    (night / "tps.parquet").write_bytes(b"junk")
    s = settings_for(tmp_path)
    con = warehouse.connect(s.warehouse)
    inside = Settings(**{**s.__dict__, "quarantine": str(tmp_path / "out" / "q")})
    with pytest.raises(ValueError, match="inside the outbox"):
        ingest_night(con, str(tmp_path / "src"), N1, inside)
    elsewhere = Settings(**{**s.__dict__, "quarantine": str(tmp_path / "karantina")})
    result = ingest_night(con, str(tmp_path / "src"), N1, elsewhere)
    assert [q.path for q in result.quarantined] == ["tps.parquet"]
    assert (tmp_path / "karantina" / N1.isoformat() / "tps.parquet").read_bytes() == b"junk"
    assert not (tmp_path / "out").exists()


def test_listed_file_that_is_not_of_export_v1_and_a_table_in_two_formats(
    tmp_path: Path, night: Path
):
    (night / "catatan.txt").write_bytes(b"dump selesai")
    tables, _ = night_tables(N1)
    (night / "tps.csv.gz").write_bytes(encode_table(conform("tps", tables["tps"]), "csv.gz"))
    m = json.loads((night / "manifest.json").read_text())
    for rel in ("catatan.txt", "tps.csv.gz"):
        data = (night / rel).read_bytes()
        m["files"].append({"path": rel, "rows": 1, "sha256": hashlib.sha256(data).hexdigest()})
    (night / "manifest.json").write_text(json.dumps(m))
    result, con = ingest(tmp_path)
    assert reason_of(result, "catatan.txt")["message"] == "listed file is not a file of export-v1"
    for rel in ("tps.parquet", "tps.csv.gz"):  # which one is right cannot be known
        why = reason_of(result, rel)
        assert why["expected"] == "one file per table" and why["found"] == "2 files"
    assert set(result.used) == ALL_FILES - {"tps.parquet"}
    assert (quarantine_dir(tmp_path) / "catatan.txt").read_bytes() == b"dump selesai"
    assert con.execute("SELECT count(*) FROM tps").fetchall() == [(0,)]


def test_quoted_commas_and_newlines_keep_baris_and_values(tmp_path: Path):
    tables, pem = night_tables(N1)
    odd = 'Jl. Mawar, Gg. "Buntu"\nBlok C'
    pem["31"] = pem["31"].with_columns(
        alamat=pl.when(pl.int_range(pl.len()) == 9).then(pl.lit(odd)).otherwise("alamat")
    )
    write_night(str(tmp_path / "src"), N1, tables, pem, formats={"pemilih/31": "csv.gz"})
    result, con = ingest(tmp_path)
    assert result.quarantined == []
    got = con.execute(
        "SELECT baris, alamat, id_pemilih FROM pemilih WHERE left(kode_desa, 2) = '31' "
        "AND baris IN (10, 11) ORDER BY baris"
    ).fetchall()
    assert got == [
        (10, odd, pem["31"]["id_pemilih"][9]),
        (11, pem["31"]["alamat"][10], pem["31"]["id_pemilih"][10]),
    ]


def test_reasons_mask_long_digit_runs_but_not_sha256_digests():
    from coklit_dq.ingest.quarantine import reason

    why = reason("f", "line 3: 3201014501900001 bad", found="3201014501900001 x")
    assert "3201014501900001" not in json.dumps(why)
    assert why["found"].startswith("320101********01")
    digest = "0123456789012345" * 4
    why = reason("f", "sha256 differs", expected=f"sha256 {digest}", digests=True)
    assert why["expected"] == f"sha256 {digest}"
