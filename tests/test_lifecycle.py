"""Night over night: BARU then BERULANG, resolved findings, idempotent reruns, quarantine."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from scenarios.world import DESA, auto_tables, load_night, voter

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.contract import FINDING_COLUMNS
from coklit_dq.lifecycle import record_findings, standing_findings
from coklit_dq.rules import run_rules

T1, T2, T3 = date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)
SETTINGS = resolve_settings()
OTHER = "3171011001"  # a desa of province 31


@pytest.fixture
def con():
    c = warehouse.connect(":memory:")
    yield c
    c.close()


def run(con, tanggal, records, **kw):
    pem, tps, pan = auto_tables(records, tanggal)
    load_night(con, tanggal, pemilih=pem, tps=tps, pantarlih=pan, **kw)
    raw = run_rules(con, tanggal, SETTINGS)
    return record_findings(con, tanggal, raw)


def temuan(con, tanggal) -> pl.DataFrame:
    return pl.from_arrow(
        con.sql(f"SELECT * FROM temuan WHERE tanggal_ekspor = DATE '{tanggal}'").to_arrow_table()
    )


def selesai(con, tanggal) -> pl.DataFrame:
    return pl.from_arrow(
        con.sql(
            f"SELECT * FROM temuan_selesai WHERE tanggal_selesai = DATE '{tanggal}'"
        ).to_arrow_table()
    )


def by_unit(df: pl.DataFrame) -> dict[tuple[str, str], dict]:
    return {(r["kode_temuan"], r["kunci"]): r for r in df.to_dicts()}


def base():
    return [
        voter(1, id_pemilih="BAD_NIK", nik="2222222222222222"),
        voter(2, id_pemilih="NO_DOC", status_coklit="TMS", kode_tms=1),
        voter(3, id_pemilih="OK"),
        voter(4, id_pemilih="BAD_NKK_31", nkk="123", kode_desa=OTHER, id_pantarlih=f"{OTHER}-1"),
        voter(5, id_pemilih="OK_31", kode_desa=OTHER, id_pantarlih=f"{OTHER}-1"),
    ]


def test_first_night_all_new_then_recurring_and_resolved(con):
    r1 = run(con, T1, base())
    assert (r1.previous, r1.n_temuan, r1.n_baru, r1.n_selesai) == (None, 3, 3, 0)
    t1 = temuan(con, T1)
    assert t1.columns[: len(FINDING_COLUMNS)] == list(FINDING_COLUMNS)
    assert set(t1["status_temuan"]) == {"BARU"} and set(t1["pertama_ditemukan"]) == {T1}

    # night 2: the nik is fixed, a document added later; a new problem appears
    recs = base()
    recs[0] = voter(1, id_pemilih="BAD_NIK")
    recs[2] = voter(3, id_pemilih="OK", nkk=None)
    r2 = run(con, T2, recs)
    units = by_unit(temuan(con, T2))
    assert set(units) == {
        ("TMS_TANPA_DOKUMEN", "NO_DOC"),
        ("NKK_TIDAK_VALID", "BAD_NKK_31"),
        ("NKK_TIDAK_VALID", "OK"),
    }
    assert units["TMS_TANPA_DOKUMEN", "NO_DOC"]["status_temuan"] == "BERULANG"
    assert units["TMS_TANPA_DOKUMEN", "NO_DOC"]["pertama_ditemukan"] == T1
    assert units["NKK_TIDAK_VALID", "OK"]["status_temuan"] == "BARU"
    assert units["NKK_TIDAK_VALID", "OK"]["pertama_ditemukan"] == T2
    done = by_unit(selesai(con, T2))
    assert set(done) == {("NIK_TIDAK_VALID", "BAD_NIK")}
    row = done["NIK_TIDAK_VALID", "BAD_NIK"]
    assert row["tanggal_selesai"] == T2 and row["tanggal_ekspor"] == T1
    assert (r2.n_baru, r2.n_berulang, r2.n_selesai) == (1, 2, 1)

    # night 3: still there -> pertama_ditemukan stays the first night
    run(con, T3, recs)
    units = by_unit(temuan(con, T3))
    assert units["TMS_TANPA_DOKUMEN", "NO_DOC"]["pertama_ditemukan"] == T1
    assert units["NKK_TIDAK_VALID", "OK"]["pertama_ditemukan"] == T2


def test_rerun_of_a_night_is_idempotent(con):
    run(con, T1, base())
    recs = base()[1:]
    run(con, T2, recs)
    first = (temuan(con, T2).sort("kunci"), selesai(con, T2).sort("kunci"))
    r = run(con, T2, recs)
    again = (temuan(con, T2).sort("kunci"), selesai(con, T2).sort("kunci"))
    assert first[0].equals(again[0]) and first[1].equals(again[1])
    assert r.n_temuan == first[0].height
    n = con.execute("SELECT count(*) FROM temuan").fetchall()[0][0]
    assert n == temuan(con, T1).height + first[0].height


def test_quarantined_province_keeps_its_findings_open(con):
    run(con, T1, base())
    # tonight province 31 is quarantined: its records are not loaded
    r = run(con, T2, base(), quarantined=["31"])
    assert by_unit(selesai(con, T2)) == {}
    assert r.n_selesai == 0
    t2 = temuan(con, T2)
    assert "31" not in set(t2["kode_prov"])
    assert not ({"DATA_HILANG", "PENURUNAN_TAJAM"} & set(t2["kode_temuan"]))
    # province 32's finding fixed tonight is resolved as usual
    recs = base()
    recs[0] = voter(1, id_pemilih="BAD_NIK")
    run(con, T2, recs, quarantined=["31"])
    assert set(by_unit(selesai(con, T2))) == {("NIK_TIDAK_VALID", "BAD_NIK")}


def test_first_night_with_no_findings_and_empty_raw(con):
    pem, tps, pan = auto_tables([voter(1)], T1)
    load_night(con, T1, pemilih=pem, tps=tps, pantarlih=pan)
    raw = run_rules(con, T1, SETTINGS)
    assert raw.is_empty()
    r = record_findings(con, T1, raw)
    assert (r.n_temuan, r.n_selesai, r.previous) == (0, 0, None)


def test_officer_findings_not_resolved_when_pantarlih_file_set_aside(con):
    recs = [voter(1)]
    pem, tps, pan = auto_tables(recs, T1)
    pan = pan.with_columns(terakhir_login=None, terakhir_sinkron=None)
    load_night(con, T1, pemilih=pem, tps=tps, pantarlih=pan)
    record_findings(con, T1, run_rules(con, T1, SETTINGS))
    assert set(temuan(con, T1)["kode_temuan"]) == {"PANTARLIH_BELUM_LOGIN"}
    # night 2: pantarlih.parquet quarantined (no officers loaded)
    pem2, tps2, pan2 = auto_tables(recs, T2)
    load_night(con, T2, pemilih=pem2, tps=tps2, pantarlih=pan2.clear())
    con.execute(
        "UPDATE files SET state = 'quarantined' WHERE tanggal_ekspor = ? AND tabel = 'pantarlih'",
        [T2],
    )
    record_findings(con, T2, run_rules(con, T2, SETTINGS))
    assert selesai(con, T2).is_empty()
    assert DESA  # the officer's desa stays listed as open in T1's history


def test_findings_stay_open_through_a_night_that_could_not_tell(con):
    run(con, T1, base())
    run(con, T2, base(), quarantined=["31"])  # province 31 set aside: its finding not seen
    r3 = run(con, T3, base())
    units = by_unit(temuan(con, T3))
    row = units["NKK_TIDAK_VALID", "BAD_NKK_31"]
    assert (row["status_temuan"], row["pertama_ditemukan"]) == ("BERULANG", T1)
    assert r3.n_baru == 0 and r3.n_selesai == 0
    # and a finding resolved on a night that could tell is not open any more
    fixed = base()
    fixed[3] = voter(4, id_pemilih="BAD_NKK_31", kode_desa=OTHER, id_pantarlih=f"{OTHER}-1")
    t4, t5 = date(2024, 7, 4), date(2024, 7, 5)
    run(con, t4, fixed)
    assert set(by_unit(selesai(con, t4))) == {("NKK_TIDAK_VALID", "BAD_NKK_31")}
    run(con, t5, base())  # the problem comes back: a new finding
    row = by_unit(temuan(con, t5))["NKK_TIDAK_VALID", "BAD_NKK_31"]
    assert (row["status_temuan"], row["pertama_ditemukan"]) == ("BARU", t5)


def test_changes_between_two_nights_are_never_listed_as_resolved(con):
    run(con, T1, base())
    gone = base()[:-1]  # OK_31 deleted on night 2: DATA_HILANG
    run(con, T2, gone)
    assert ("DATA_HILANG", "OK_31") in by_unit(temuan(con, T2))
    run(con, T3, gone)  # still missing: not found again (no comparison), and not "resolved"
    assert ("DATA_HILANG", "OK_31") not in by_unit(temuan(con, T3))
    assert "DATA_HILANG" not in set(selesai(con, T3)["kode_temuan"])


def standing(con, tanggal) -> set[tuple[str, str, date]]:
    rows = con.execute(
        "SELECT kode_temuan, kunci, tanggal_perubahan FROM perubahan_berlanjut "
        "WHERE tanggal_ekspor = ?",
        [tanggal],
    ).fetchall()
    return set(rows)


def test_a_change_to_a_record_stands_beside_the_list_while_the_record_is_as_it_left_it(
    con, tmp_path
):
    """reports-v1 lists DATA_HILANG and STATUS_TIDAK_WAJAR on the night of the change only;
    the record stays wrong until someone acts, so the warehouse keeps, night by night, the
    changes that still stand (review-reader P1-2: a PPS who missed that morning's list
    never saw a deceased voter set back to eligible again)."""
    t4, t5 = date(2024, 7, 4), date(2024, 7, 5)
    run(con, T1, base())
    changed = base()[:-1]  # night 2: OK_31 deleted; NO_DOC (TMS 1) set back to eligible
    changed[1] = voter(2, id_pemilih="NO_DOC", status_coklit="MS")
    run(con, T2, changed)
    found = by_unit(temuan(con, T2))
    kunci = {
        u: found[u]["kunci"] for u in (("DATA_HILANG", "OK_31"), ("STATUS_TIDAK_WAJAR", "NO_DOC"))
    }
    both = {(k, kunci[k, i], T2) for k, i in kunci}
    assert standing(con, T2) == both
    visited = [*changed]
    visited[0] = voter(1, id_pemilih="BAD_NIK", nik="2222222222222222", status_coklit="UBAH")
    for night, records in ((T3, changed), (t4, visited)):  # nothing done about them
        run(con, night, records)
        assert standing(con, night) == both
        assert not {u for u in by_unit(temuan(con, night))} & set(kunci)  # the contract's list
        # as they were found, for the publication to show beside the night's list
        shown = standing_findings(con, night)
        assert sorted(shown["id_pemilih"]) == ["NO_DOC", "OK_31"]
        assert set(shown["tanggal_perubahan"]) == {T2} and set(shown["tanggal_ekspor"]) == {T2}
    # the region reads them beside the list: a sheet of the workbook, a line on its summary
    import openpyxl

    from coklit_dq.publish import publish_night

    publish_night(con, t4, resolve_settings(outbox=str(tmp_path / "outbox")))
    folder = tmp_path / "outbox" / t4.isoformat() / "32" / DESA[:4]
    listed = pl.read_csv(folder / "temuan.csv", infer_schema=False)
    assert not set(listed["kode_temuan"]) & {"DATA_HILANG", "STATUS_TIDAK_WAJAR"}
    wb = openpyxl.load_workbook(folder / "temuan.xlsx", read_only=True)
    sheet = [r for r in wb["Perubahan belum diperbaiki"].iter_rows(values_only=True)]
    assert sheet[0][-1] == "Terlihat sejak ekspor"
    assert sorted(r[-1] for r in sheet[1:]) == ["2 Juli 2024"]  # NO_DOC (OK_31: other kab)
    summary = [r[0] for r in wb["Ringkasan"].iter_rows(values_only=True) if r[0]]
    assert any(str(x).startswith("1 perubahan data pemilih dari malam sebelumnya") for x in summary)
    # night 5: NO_DOC's province file set aside: tonight cannot tell, so it stands as it stood
    run(con, t5, visited, quarantined=["32"])
    assert standing(con, t5) == both
    # night 6: the record is back; the deceased voter is TMS 1 again: neither stands
    t6 = date(2024, 7, 6)
    run(con, t6, base())
    assert standing(con, t6) == set()


def test_a_tps_file_set_aside_neither_invents_nor_resolves_tps_findings(con):
    recs = base()
    recs[2] = voter(3, id_pemilih="OK", no_tps=9)  # TPS 9 does not exist in its desa

    def night(tanggal, tps_file_used=True):
        pem, _, _ = auto_tables(recs, tanggal)
        _, tps, pan = auto_tables(base(), tanggal)  # the desa's TPS as handed down: no TPS 9
        load_night(con, tanggal, pemilih=pem, tps=tps if tps_file_used else tps.clear(),
                   pantarlih=pan)  # fmt: skip
        if not tps_file_used:
            con.execute(
                "UPDATE files SET state = 'quarantined' WHERE tanggal_ekspor = ? AND tabel = 'tps'",
                [tanggal],
            )
        record_findings(con, tanggal, run_rules(con, tanggal, SETTINGS))

    night(T1)
    assert ("TPS_TIDAK_DIKENAL", "OK") in by_unit(temuan(con, T1))
    night(T2, tps_file_used=False)
    codes = set(temuan(con, T2)["kode_temuan"])
    assert not codes & {"TPS_TIDAK_DIKENAL", "PROGRES_MELEBIHI_DATA"}  # nothing invented
    assert "TPS_TIDAK_DIKENAL" not in set(selesai(con, T2)["kode_temuan"])  # nor resolved
    night(T3)  # the file is back: the finding is still the one of night 1
    row = by_unit(temuan(con, T3))["TPS_TIDAK_DIKENAL", "OK"]
    assert (row["status_temuan"], row["pertama_ditemukan"]) == ("BERULANG", T1)
