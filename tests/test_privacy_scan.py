"""No full nik or nkk in any published file; a region's files hold only its records.

The planted findings carry full nik/nkk in their texts (as a careless producer
would write them): the publication must still show them only masked.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from test_publish_support import N2, file_text, two_night_warehouse

from coklit_dq.config import resolve_settings
from coklit_dq.privacy import mask_id
from coklit_dq.publish import publish_night


@pytest.fixture(scope="module")
def warehouse_n2(tmp_path_factory):
    base = tmp_path_factory.mktemp("privacy")
    con, pem = two_night_warehouse(base / "w.duckdb")
    yield base, con, pl.concat(list(pem.values()))
    con.close()


def _publish(base: Path, con, mask: bool) -> Path:
    out = base / ("masked" if mask else "clear")
    settings = resolve_settings(outbox=str(out), warehouse=str(base / "w.duckdb"), mask_ids=mask)
    publish_night(con, N2, settings)
    return out / N2.isoformat()


def _ids(con, column: str) -> set[str]:
    """Every full value of the night's pemilih snapshot (long enough to be searched for)."""
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM pemilih WHERE length({column}) >= 11"
    ).fetchall()
    return {r[0] for r in rows}


def _leaks(root: Path, secrets: set[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    pattern = re.compile(r"\d{11,}")
    lengths = {len(s) for s in secrets}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        # every window of every digit run: a nik glued to other digits is still found
        windows = {
            run[i : i + n]
            for run in set(pattern.findall(file_text(path)))
            for n in lengths
            for i in range(len(run) - n + 1)
        }
        hits = sorted(windows & secrets)
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def test_no_full_nik_or_nkk_in_any_published_file(warehouse_n2):
    base, con, _ = warehouse_n2
    root = _publish(base, con, mask=True)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert {p.suffix for p in files} == {".csv", ".xlsx", ".html", ".parquet", ".json"}
    secrets = _ids(con, "nik") | _ids(con, "nkk")
    assert len(secrets) > 500
    assert _leaks(root, secrets) == {}
    # the masked form is what is shown instead (first 6 + last 2)
    some_nik = con.execute(
        "SELECT nik FROM pemilih p JOIN temuan t ON t.id_pemilih = p.id_pemilih "
        "AND t.tanggal_ekspor = p.tanggal_ekspor WHERE t.kode_temuan = 'NIK_TIDAK_VALID' "
        "AND t.tanggal_ekspor = ? ORDER BY 1 LIMIT 1",
        [N2],
    ).fetchall()[0][0]
    kab = some_nik[:4]
    assert mask_id(some_nik) in file_text(root / kab[:2] / kab / "temuan.xlsx")
    assert mask_id(some_nik) in file_text(root / "nasional" / "temuan.parquet")


def test_scan_finds_full_ids_when_masking_is_off(warehouse_n2):
    """The same scan on an unmasked publication finds them: the scan can fail."""
    base, con, _ = warehouse_n2
    root = _publish(base, con, mask=False)
    leaks = _leaks(root, _ids(con, "nik") | _ids(con, "nkk"))
    assert "nasional/temuan.parquet" in leaks and "31/3101/temuan.xlsx" in leaks


def test_kabupaten_files_hold_no_record_of_another_kabupaten(warehouse_n2):
    base, con, pem = warehouse_n2
    root = _publish(base, con, mask=True)
    ids = pem.with_columns(kode_kab=pl.col("kode_desa").str.slice(0, 4))
    by_kab = {
        k: set(v["id_pemilih"]) for (k,), v in ids.partition_by("kode_kab", as_dict=True).items()
    }
    pattern = re.compile(r"P\d\d-\d{7}")
    for kab, own in by_kab.items():
        others = set().union(*(v for k, v in by_kab.items() if k != kab))
        seen: set[str] = set()
        for path in (root / kab[:2] / kab).iterdir():
            seen |= set(pattern.findall(file_text(path)))
        assert not seen & others, (kab, sorted(seen & others)[:5])
        if kab != "3271":
            assert seen & own, kab  # the kabupaten's own findings are there
    # the cluster spanning 3101 and 3171 appears in both lists with the same id_kelompok
    a = pl.read_csv(root / "31" / "3101" / "temuan.csv", infer_schema=False)
    b = pl.read_csv(root / "31" / "3171" / "temuan.csv", infer_schema=False)
    ka = set(a.filter(pl.col("kode_temuan") == "GANDA_NIK")["id_kelompok"])
    kb = set(b.filter(pl.col("kode_temuan") == "GANDA_NIK")["id_kelompok"])
    assert ka == kb == {"GANDA-31-0001"}
    # a province's page names only its own kabupaten
    prov31 = (root / "31" / "ringkasan.html").read_text(encoding="utf-8")
    assert not set(pattern.findall(prov31)) - by_kab["3101"] - by_kab["3171"]


def test_masking_keeps_record_ids_and_codes_but_not_short_junk_nik(tmp_path):
    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    junk = "3101011234567"  # a 13-digit nik some record holds
    con.execute("UPDATE pemilih SET nik = ? WHERE id_pemilih = 'P31-0000003'", [junk])
    text = (
        f"NIK {junk} tidak 16 digit; sama dengan rekaman 310000000012 (app id) di desa "
        "3101012001; NIK gabungan 31010109049400019 dan NKK 3101011501000010."
    )
    con.execute(
        """
        INSERT INTO temuan SELECT * REPLACE (? AS keterangan, 'X|1' AS kunci)
        FROM temuan WHERE tanggal_ekspor = ? AND kode_kab = '3101' LIMIT 1
        """,
        [text, N2],
    )
    root = _publish(tmp_path, con, mask=True)
    con.close()
    shown = pl.read_csv(root / "31" / "3101" / "temuan.csv", infer_schema=False)
    (line,) = shown.filter(pl.col("keterangan").str.contains("gabungan"))["keterangan"]
    assert junk not in line and mask_id(junk) in line
    assert "310000000012" in line and "3101012001" in line  # ids and region codes stay
    assert "31010109049400019" not in line and "3101011501000010" not in line
    assert mask_id("3101011501000010") in line


def _add_finding(con, kunci: str, id_pemilih: str) -> None:
    """A copy of one NIK_TIDAK_VALID of kab 3101 on night 2 under another id_pemilih."""
    con.execute(
        """
        INSERT INTO temuan SELECT * REPLACE (? AS id_pemilih, ? AS kunci)
        FROM temuan WHERE tanggal_ekspor = ? AND kode_kab = '3101'
          AND kode_temuan = 'NIK_TIDAK_VALID' LIMIT 1
        """,
        [id_pemilih, kunci, N2],
    )


def test_a_nik_in_any_column_or_written_in_groups_is_masked(tmp_path):
    """A nik keyed into rt, rw or id_pemilih, or written "3201 0124 0963 0001" in a name or
    an address, is as personal as one in the keterangan (reports-v1 v1.1: no digit
    beyond the mask in any text)."""
    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    nik, nkk = "3101010904940001", "3101011501000010"
    spaced, dotted = "3101 0109 0494 0002", "3101.0115.0100.0011"
    (held,) = con.execute("SELECT max(nik) FROM pemilih WHERE length(nik) = 16").fetchone()
    system_id = "9000000000000017"  # a 16-digit id of the voter-data system, no nik we hold
    con.execute(
        """
        INSERT INTO temuan SELECT * REPLACE (? AS rt, ? AS rw, ? AS id_pemilih, ? AS nama,
                                             ? AS alamat, 'X|2' AS kunci)
        FROM temuan WHERE tanggal_ekspor = ? AND kode_kab = '3101'
          AND kode_temuan = 'NIK_TIDAK_VALID' LIMIT 1
        """,
        [nik, nkk, held, f"SITI {spaced}", f"KK {dotted} RT 1", N2],
    )
    _add_finding(con, "X|3", system_id)
    root = _publish(tmp_path, con, mask=True)
    con.close()
    full = {nik, nkk, held, spaced, dotted}
    for path in [p for p in root.rglob("*") if p.is_file()]:
        text = file_text(path)
        assert not [s for s in full if s in text], path
    shown = pl.read_csv(root / "31" / "3101" / "temuan.csv", infer_schema=False)
    row = shown.filter(pl.col("rt") == mask_id(nik)).row(0, named=True)
    assert row["rw"] == mask_id(nkk) and row["id_pemilih"] == mask_id(held)
    # an id that is no nik or nkk we hold is an id: a PPS finds the record by it
    assert system_id in shown["id_pemilih"].to_list()
    assert row["nama"] == "SITI " + mask_id(spaced.replace(" ", ""))
    assert row["alamat"] == "KK " + mask_id(dotted.replace(".", "")) + " RT 1"


@pytest.mark.parametrize("written", ["{0}-{1}-{2}-{3}", "{0}\u200b{1}\u200b{2}\u200b{3}"])
def test_a_held_nik_in_an_id_column_is_masked_however_written(tmp_path, written):
    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    (held,) = con.execute("SELECT max(nik) FROM pemilih WHERE length(nik) = 16").fetchone()
    value = written.format(held[:4], held[4:8], held[8:12], held[12:])
    _add_finding(con, "X|4", value)
    root = _publish(tmp_path, con, mask=True)
    con.close()
    for path in [p for p in root.rglob("*") if p.is_file()]:
        text = file_text(path).replace("\u200b", "")
        assert held not in text and held[:4] + "-" + held[4:8] not in text, path


def test_invisible_covers_every_format_character_python_knows() -> None:
    """INVISIBLE is spelled out (polars' regex and Python's re read it alike): it must hold
    every Cf character of this Python's Unicode, and nothing assigned to another category."""
    import re
    import unicodedata

    from coklit_dq.privacy import INVISIBLE

    cls = re.compile(INVISIBLE)
    ours = {c for c in range(0x110000) if cls.fullmatch(chr(c))}
    cf = {c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    assert cf <= ours
    assert {unicodedata.category(chr(c)) for c in ours - cf} <= {"Cn"}  # newer Unicode


NIK = "3101010408020001"
MASKED = "310101********01"


@pytest.mark.parametrize(
    "written",
    [
        "3101\u200b0104\u200b0802\u200b0001",  # zero-width spaces
        "3101\u20600104\u20600802\u20600001",  # word joiners
        "3101,0104,0802,0001",
        "3101_0104_0802_0001",
        "3101 - 0104 - 0802 - 0001",
        "310101 0408020001",  # region code + the rest
        "3101010408.020001",
        "3101 0104 0802 0001",
        "3101.0104.0802.0001",
        "7, 3101 0104 0802 0001",  # after a number and a comma
    ],
)
def test_a_nik_written_any_common_way_in_free_text_is_masked(written: str) -> None:
    """review-inbox F1: a region's reason quoting a voter's nik the way people type it."""
    from coklit_dq.privacy import mask_digit_runs
    from coklit_dq.publish.data import mask_text

    text = f"PB: NIK {written} | dicek"
    assert MASKED in mask_digit_runs(text, 11) and "0104" not in mask_digit_runs(text, 11)
    shown = mask_text(pl.DataFrame({"alamat": [text]}), "alamat")["alamat"][0]
    assert MASKED in shown and "0104" not in shown


@pytest.mark.parametrize(
    "own",
    [
        "TPS 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14",
        "TPS 2, 5, 7, 10, 11, 12, 13, 14, 15, 9",
        "desa 3101012001, 3101012002 dan 3101012001/3101012002",
        "25 Juni 2024 pukul 04.18 WIB, 615 pemilih",
    ],
)
def test_the_pipelines_own_lists_and_codes_are_not_taken_for_a_nik(own: str) -> None:
    from coklit_dq.privacy import mask_digit_runs

    assert mask_digit_runs(own, 11) == own
