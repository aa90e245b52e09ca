"""One scenario per finding code: exactly which units fire on valid and invalid data.

Each test loads a small night straight into a real DuckDB warehouse
(tests/scenarios/world.py), runs the real rules (DuckDB prepare + Great
Expectations) and compares the set of units (kunci) of its code.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
from collections.abc import Callable
from datetime import date, timedelta

import polars as pl
import pytest
import yaml
from scenarios.world import (
    DESA,
    DESA2,
    auto_tables,
    dibuat_of,
    frame,
    load_night,
    nik_for,
    officer,
    tps_rows,
    voter,
)

from coklit_dq import warehouse
from coklit_dq.config import EXPECTATIONS_DIR, resolve_settings
from coklit_dq.contract import RAW_FINDING_SCHEMA
from coklit_dq.rules import load_catalog, run_rules

T1 = date(2024, 7, 1)
T2 = date(2024, 7, 2)
SETTINGS = resolve_settings()  # Pilkada 2024: polling day 2024-11-27, 600 per TPS


@pytest.fixture
def con():
    c = warehouse.connect(":memory:")
    yield c
    c.close()


def night(con, records, tanggal=T1, settings=SETTINGS, **kw) -> pl.DataFrame:
    tps_extra = kw.pop("tps_extra", None)
    pem, tps, pan = auto_tables(records, tanggal, tps_extra)
    load_night(
        con,
        tanggal,
        pemilih=pem,
        tps=kw.pop("tps", tps),
        pantarlih=kw.pop("pantarlih", pan),
        **kw,
    )
    out = run_rules(con, tanggal, settings)
    assert out.schema == RAW_FINDING_SCHEMA
    return out


def units(out: pl.DataFrame, kode: str) -> set[str]:
    return set(out.filter(pl.col("kode_temuan") == kode)["kunci"].to_list())


def only(out: pl.DataFrame, kode: str) -> pl.DataFrame:
    return out.filter(pl.col("kode_temuan") == kode)


# --- a clean night, full of the traps that must not fire ------------------------------


def clean_records() -> list[dict]:
    recs = [voter(i) for i in range(1, 6)]
    recs += [
        # married 16-year-old: eligible
        voter(10, born=date(2008, 6, 1), status_kawin="S"),
        # exactly 17 on polling day (2024-11-27): eligible
        voter(11, born=date(2007, 11, 27), status_kawin="B"),
        # the civil registry's placeholder birth dates
        voter(12, born=date(1970, 7, 1), female=True),
        voter(13, born=date(1965, 12, 31)),
        voter(14, born=date(2000, 1, 1), female=True),  # nik 320405410100.... leading zeros
        # nik first registered in another kecamatan and province (Sulawesi Selatan)
        voter(15, nik=nik_for(date(1980, 3, 10), False, kec="730101", serial=15)),
        # TMS with its code and document; TMS 3 on a single minor
        voter(16, status_coklit="TMS", kode_tms=1, dokumen_tms="AKTA-474/2024"),
        voter(17, status_coklit="TMS", kode_tms=3, born=date(2009, 1, 5), status_kawin="B"),
        # kode 8: struck at TPS 1, entered again at TPS 2 of the same desa
        voter(18, status_coklit="TMS", kode_tms=8),
        voter(19, nik=voter(18)["nik"], no_tps=2, status_coklit="BARU",
              id_pantarlih=f"{DESA}-2"),
        # a family of three in one TPS (one member TMS 4 at another TPS: not split)
        voter(20, nkk="3204051501900900"), voter(21, nkk="3204051501900900"),
        voter(22, nkk="3204051501900900", no_tps=2, status_coklit="TMS", kode_tms=4,
              id_pantarlih=f"{DESA}-2"),
        # a record not yet visited and a new voter
        voter(23, status_coklit="BELUM", waktu_coklit=None),
        voter(24, status_coklit="BARU", no_tps=2, id_pantarlih=f"{DESA}-2"),
    ]  # fmt: skip
    return recs


def test_clean_night_has_no_findings(con):
    recs = clean_records()
    pem, tps, pan = auto_tables(recs, T1, tps_extra={(DESA2, 1): 0})  # empty TPS, nothing down
    # two officers on TPS 1: their counters are summed
    pan = pan.filter(pl.col("id_pantarlih") != f"{DESA}-1")
    n1 = sum(1 for r in recs if r["no_tps"] == 1 and r["status_coklit"] != "BELUM")
    pan = pl.concat(
        [pan, frame("pantarlih", [officer(DESA, 1, n1 - 4, T1, id_pantarlih="A"),
                                  officer(DESA, 1, 4, T1, id_pantarlih="B")])]
    )  # fmt: skip
    load_night(con, T1, pemilih=pem, tps=tps, pantarlih=pan)
    out = run_rules(con, T1, SETTINGS)
    assert out.is_empty(), out.select("kode_temuan", "kunci", "keterangan").to_dicts()
    # and the same data on a second night: no transition, deletion or drop
    load_night(con, T2, pemilih=pem, tps=tps, pantarlih=pan)
    assert run_rules(con, T2, SETTINGS).is_empty()


# --- record level ----------------------------------------------------------------------


def test_nik_tidak_valid(con):
    ok_female = nik_for(date(1990, 5, 31), True)  # day 71
    bad = {
        "P1": "320405100380001",  # 15 digits
        "P2": "32040510038000A1",  # a letter
        "P3": "9904051003800001",  # province 99
        "P4": "3204051013800001",  # month 13
        "P5": "3204053203800001",  # day 32
        "P6": "3204057203800001",  # day 72
        "P7": "3204050003800001",  # day 00
        "P8": "3204051003800000",  # serial 0000
        "P9": "2222222222222222",  # junk
        "P10": None,
    }
    recs = [voter(i, id_pemilih=k, nik=v) for i, (k, v) in enumerate(bad.items(), start=1)]
    recs += [
        voter(20, id_pemilih="OK1", nik=ok_female, born=date(1990, 5, 31), female=True),
        voter(21, id_pemilih="OK2", nik="3204054103800001", born=date(1980, 3, 1), female=True),
        voter(22, id_pemilih="OK3", nik="1101010101000001", born=date(2000, 1, 1)),
    ]
    out = night(con, recs)
    assert units(out, "NIK_TIDAK_VALID") == set(bad)
    f = only(out, "NIK_TIDAK_VALID")
    text = dict(zip(f["kunci"], f["keterangan"], strict=True))
    assert "satu angka berulang" in text["P9"] and "222222********22" in text["P9"]
    assert "15 karakter" in text["P1"] and "selain angka" in text["P2"]
    assert "2222222222222222" not in " ".join(text.values())
    assert "kode provinsi 99" in text["P3"] and "kosong" in text["P10"]
    # the date part and serial are masked digits: named, never shown (reports-v1 v1.1)
    for k in ("P4", "P5", "P6", "P7", "P8"):
        assert "tanggal lahir, bulan lahir atau nomor urut" in text[k], text[k]
    # a malformed nik is not also "tidak sesuai"
    assert units(out, "NIK_TIDAK_SESUAI") & set(bad) == set()


def test_nik_tidak_sesuai(con):
    born = date(1988, 7, 21)
    recs = [
        voter(1, id_pemilih="TGL", born=born, nik="3204051207880001"),  # 12-07-88 vs 21-07-88
        voter(2, id_pemilih="JK", born=born, female=True, nik="3204052107880002"),  # woman, day 21
        voter(3, id_pemilih="THN", born=born, nik="3204052107890003"),  # year 89
        voter(4, id_pemilih="OK", born=born, female=True, nik="3204056107880004"),
        voter(5, id_pemilih="OK2", born=date(1970, 7, 1), nik="3204050107700005"),
    ]
    out = night(con, recs)
    assert units(out, "NIK_TIDAK_SESUAI") == {"TGL", "JK", "THN"}
    text = dict(zip(*only(out, "NIK_TIDAK_SESUAI")[["kunci", "keterangan"]], strict=True))
    assert "NIK 320405********01: tanggal lahir di NIK tidak sama" in text["TGL"]
    assert "jenis kelamin L, tercatat P" in text["JK"]
    assert "1988" not in " ".join(text.values())  # no birth date shown (v1.1)
    tingkat = only(out, "NIK_TIDAK_SESUAI")["tingkat"].unique().to_list()
    assert tingkat == [load_catalog()["NIK_TIDAK_SESUAI"].tingkat]


def test_nkk_tidak_valid(con):
    recs = [
        voter(1, id_pemilih="SHORT", nkk="320405150190001"),
        voter(2, id_pemilih="PROV", nkk="0004051501900001"),
        voter(3, id_pemilih="NULL", nkk=None),
        voter(4, id_pemilih="OK", nkk="1104051501900001"),
    ]
    assert units(night(con, recs), "NKK_TIDAK_VALID") == {"SHORT", "PROV", "NULL"}


def test_ganda_id_one_finding_per_id(con):
    recs = [voter(1), voter(2), voter(3, id_pemilih="P000001", no_tps=2), voter(4)]
    out = night(con, recs)
    assert units(out, "GANDA_ID") == {"P000001"}
    assert only(out, "GANDA_ID").height == 1
    assert "muncul 2 kali" in only(out, "GANDA_ID")["keterangan"][0]


def test_tps_tidak_dikenal(con):
    recs = [
        voter(1, id_pemilih="OK"),
        voter(2, id_pemilih="NINE", no_tps=9),
        voter(3, id_pemilih="OTHER", no_tps=3),  # TPS 3 exists, but in DESA2
        voter(4, id_pemilih="NONE", no_tps=None),
    ]
    tps = tps_rows({(DESA, 1): 4, (DESA, 2): 0, (DESA2, 3): 0})
    out = night(con, recs, tps=tps)
    assert units(out, "TPS_TIDAK_DIKENAL") == {"NINE", "OTHER", "NONE"}
    f = only(out, "TPS_TIDAK_DIKENAL").filter(pl.col("kunci") == "NINE").row(0, named=True)
    assert f["no_tps"] == 9 and f["kode_desa"] == DESA and f["kode_kec"] == DESA[:6]
    assert "TPS 9" in f["keterangan"] and "1, 2" in f["keterangan"]


def test_kk_terpisah(con):
    split, whole, tms, two_desa = (f"32040515019{n:05d}" for n in (1, 2, 3, 4))
    recs = [
        voter(1, id_pemilih="S1", nkk=split), voter(2, id_pemilih="S2", nkk=split),
        voter(3, id_pemilih="S3", nkk=split, no_tps=2),
        voter(4, id_pemilih="W1", nkk=whole), voter(5, id_pemilih="W2", nkk=whole),
        voter(6, id_pemilih="T1", nkk=tms),
        voter(7, id_pemilih="T2", nkk=tms, no_tps=2, status_coklit="TMS", kode_tms=4),
        voter(8, id_pemilih="D1", nkk=two_desa),
        voter(9, id_pemilih="D2", nkk=two_desa, kode_desa=DESA2, no_tps=2),
    ]  # fmt: skip
    out = night(con, recs)
    assert units(out, "KK_TERPISAH") == {"S1", "S2", "S3"}
    groups = set(only(out, "KK_TERPISAH")["id_kelompok"].to_list())
    assert len(groups) == 1
    (g,) = groups
    assert g.startswith(f"KK-{DESA}-") and split not in g
    assert "TPS 1: 2 orang, TPS 2: 1 orang" in only(out, "KK_TERPISAH")["keterangan"][0]


def test_usia_belum_cukup_pilkada_and_pemilu(con):
    recs = [
        voter(1, id_pemilih="ONE_DAY_SHORT", born=date(2007, 11, 28), status_kawin="B"),
        voter(2, id_pemilih="EXACTLY_17", born=date(2007, 11, 27), status_kawin="B"),
        voter(3, id_pemilih="MARRIED_16", born=date(2008, 6, 1), status_kawin="S"),
        voter(4, id_pemilih="WIDOWED_16", born=date(2008, 6, 1), status_kawin="P"),
        voter(5, id_pemilih="TMS3", born=date(2009, 6, 1), status_kawin="B",
              status_coklit="TMS", kode_tms=3),
        voter(6, id_pemilih="FEB07", born=date(2007, 2, 15), status_kawin="B"),
    ]  # fmt: skip
    out = night(con, recs)
    assert units(out, "USIA_BELUM_CUKUP") == {"ONE_DAY_SHORT"}
    assert "27 November 2024" in only(out, "USIA_BELUM_CUKUP")["keterangan"][0]
    # Pemilu 2024 (polling day 2024-02-14): born 2007-02-15 is one day short
    pemilu = resolve_settings(election="pemilu-2024")
    out = run_rules(con, T1, pemilu)
    assert units(out, "USIA_BELUM_CUKUP") == {"ONE_DAY_SHORT", "EXACTLY_17", "FEB07"}


def test_tms_tidak_sesuai(con):
    recs = [
        voter(1, id_pemilih="TMS3_ADULT", status_coklit="TMS", kode_tms=3, status_kawin="B"),
        voter(2, id_pemilih="TMS3_MARRIED", status_coklit="TMS", kode_tms=3,
              born=date(2009, 1, 1), status_kawin="S"),
        voter(3, id_pemilih="NO_CODE", status_coklit="TMS", kode_tms=None),
        voter(4, id_pemilih="CODE_9", status_coklit="TMS", kode_tms=9),
        voter(5, id_pemilih="MS_WITH_CODE", kode_tms=4),
        voter(6, id_pemilih="OK3", status_coklit="TMS", kode_tms=3, born=date(2009, 1, 1),
              status_kawin="B"),
        voter(7, id_pemilih="OK5", status_coklit="TMS", kode_tms=5),
    ]  # fmt: skip
    out = night(con, recs)
    assert units(out, "TMS_TIDAK_SESUAI") == {
        "TMS3_ADULT", "TMS3_MARRIED", "NO_CODE", "CODE_9", "MS_WITH_CODE"
    }  # fmt: skip
    # valid codes come from the election's configuration
    e = dataclasses.replace(SETTINGS.election, kode_tms_valid=(1, 2, 3, 4, 5, 6, 7, 8, 9))
    out = run_rules(con, T1, dataclasses.replace(SETTINGS, election=e))
    assert "CODE_9" not in units(out, "TMS_TIDAK_SESUAI")


def test_tms_tanpa_dokumen(con):
    recs = [
        voter(1, id_pemilih="NO_DOC", status_coklit="TMS", kode_tms=1),
        voter(2, id_pemilih="BLANK", status_coklit="TMS", kode_tms=1, dokumen_tms="  "),
        voter(3, id_pemilih="DOC", status_coklit="TMS", kode_tms=1, dokumen_tms="AKTA-1"),
        voter(4, id_pemilih="MOVED", status_coklit="TMS", kode_tms=4),
    ]
    assert units(night(con, recs), "TMS_TANPA_DOKUMEN") == {"NO_DOC", "BLANK"}


def test_tms_8_tanpa_pengganti(con):
    def nik(i):
        return nik_for(date(1980, 3, 10), False, serial=100 + i)

    recs = [
        # re-entered at TPS 2 of the same desa: fine
        voter(1, id_pemilih="MOVED_OK", nik=nik(1), status_coklit="TMS", kode_tms=8),
        voter(2, id_pemilih="NEW_1", nik=nik(1), no_tps=2, status_coklit="BARU"),
        # never entered again
        voter(3, id_pemilih="LOST", nik=nik(3), status_coklit="TMS", kode_tms=8),
        # entered again only in another desa
        voter(4, id_pemilih="OTHER_DESA", nik=nik(4), status_coklit="TMS", kode_tms=8),
        voter(5, id_pemilih="NEW_4", nik=nik(4), kode_desa=DESA2, no_tps=1, status_coklit="BARU"),
        # entered again at the same TPS
        voter(6, id_pemilih="SAME_TPS", nik=nik(6), status_coklit="TMS", kode_tms=8),
        voter(7, id_pemilih="NEW_6", nik=nik(6), status_coklit="BARU"),
        # the other record is TMS too
        voter(8, id_pemilih="BOTH_TMS", nik=nik(8), status_coklit="TMS", kode_tms=8),
        voter(9, id_pemilih="NEW_8", nik=nik(8), no_tps=2, status_coklit="TMS", kode_tms=2),
    ]
    out = night(con, recs)
    assert units(out, "TMS_8_TANPA_PENGGANTI") == {"LOST", "OTHER_DESA", "SAME_TPS", "BOTH_TMS"}
    assert "320405********" in only(out, "TMS_8_TANPA_PENGGANTI")["keterangan"][0]


def test_status_tidak_wajar(con):
    before = [
        voter(1, id_pemilih="DEAD_BACK", status_coklit="TMS", kode_tms=1, dokumen_tms="A"),
        voter(2, id_pemilih="BACK_TO_BELUM"),
        voter(3, id_pemilih="DOWN_TO_BARU", status_coklit="BELUM"),
        voter(4, id_pemilih="BARU_STAYS", status_coklit="BARU"),
        voter(5, id_pemilih="MS_TO_TMS"),
        voter(6, id_pemilih="BELUM_TO_MS", status_coklit="BELUM"),
        voter(7, id_pemilih="DEAD_STAYS", status_coklit="TMS", kode_tms=1, dokumen_tms="A"),
    ]
    first = night(con, before, T1)
    assert units(first, "STATUS_TIDAK_WAJAR") == set()
    after = [
        voter(1, id_pemilih="DEAD_BACK"),
        voter(2, id_pemilih="BACK_TO_BELUM", status_coklit="BELUM"),
        voter(3, id_pemilih="DOWN_TO_BARU", status_coklit="BARU"),
        voter(4, id_pemilih="BARU_STAYS", status_coklit="BARU"),
        voter(5, id_pemilih="MS_TO_TMS", status_coklit="TMS", kode_tms=4),
        voter(6, id_pemilih="BELUM_TO_MS"),
        voter(7, id_pemilih="DEAD_STAYS", status_coklit="TMS", kode_tms=1, dokumen_tms="A"),
    ]
    out = night(con, after, T2)
    assert units(out, "STATUS_TIDAK_WAJAR") == {"DEAD_BACK", "BACK_TO_BELUM", "DOWN_TO_BARU"}
    f = only(out, "STATUS_TIDAK_WAJAR").filter(pl.col("kunci") == "DEAD_BACK").row(0, named=True)
    # the nights are named: the text is read on later mornings too (standing changes)
    assert (
        "dari TMS 1 pada ekspor 1 Juli 2024 menjadi MS pada ekspor 2 Juli 2024" in f["keterangan"]
    )


def test_data_hilang_and_quarantined_province(con):
    other = "3171011001"
    recs = [voter(i) for i in range(1, 5)] + [
        voter(i, kode_desa=other, id_pantarlih=f"{other}-1") for i in range(5, 9)
    ]
    assert units(night(con, recs, T1), "DATA_HILANG") == set()  # first night
    tonight = [r for r in recs if r["id_pemilih"] not in ("P000002", "P000006")]
    out = night(con, tonight, T2)
    assert units(out, "DATA_HILANG") == {"P000002", "P000006"}
    f = only(out, "DATA_HILANG").filter(pl.col("kunci") == "P000006").row(0, named=True)
    assert (f["kode_prov"], f["kode_kab"], f["no_tps"]) == ("31", "3171", 1)
    # province 31's file quarantined tonight: its voters did not vanish
    out = night(con, tonight, T2, quarantined=["31"])
    assert units(out, "DATA_HILANG") == {"P000002"}
    assert units(out, "PENURUNAN_TAJAM") == {DESA}


# --- TPS level ---------------------------------------------------------------------------


def test_tps_melebihi_kapasitas_uses_the_election_setting(con):
    recs = [voter(i) for i in range(1, 5)]  # 4 at TPS 1
    recs += [voter(i, no_tps=2) for i in range(5, 8)]  # 3 at TPS 2
    recs += [voter(8, no_tps=2, status_coklit="TMS", kode_tms=4)]  # TMS does not count
    small = dataclasses.replace(SETTINGS.election, maks_pemilih_per_tps=3)
    out = night(con, recs, settings=dataclasses.replace(SETTINGS, election=small))
    assert units(out, "TPS_MELEBIHI_KAPASITAS") == {f"{DESA}:1"}
    f = only(out, "TPS_MELEBIHI_KAPASITAS").row(0, named=True)
    assert f["id_kelompok"] == f"TPS-{DESA}-1" and f["id_pemilih"] is None and f["no_tps"] == 1
    assert "4 pemilih" in f["keterangan"] and "batas 3" in f["keterangan"]
    assert units(run_rules(con, T1, SETTINGS), "TPS_MELEBIHI_KAPASITAS") == set()


def test_progres_melebihi_data(con):
    recs = [voter(i) for i in range(1, 4)] + [voter(4, status_coklit="TMS", kode_tms=5)]
    recs += [voter(i, no_tps=2) for i in range(5, 7)]
    recs += [voter(7, no_tps=2, status_coklit="BARU")]  # new voters are not handed down
    out = night(con, recs, tps_extra={(DESA, 1): 3, (DESA, 2): 2})
    assert units(out, "PROGRES_MELEBIHI_DATA") == {f"{DESA}:1"}
    assert "4 data pemilih" in only(out, "PROGRES_MELEBIHI_DATA")["keterangan"][0]


def test_jumlah_tidak_sesuai_sums_officers(con):
    recs = [voter(i) for i in range(1, 5)] + [voter(5, status_coklit="BELUM")]
    recs += [voter(i, no_tps=2) for i in range(6, 9)]
    recs += [voter(9, no_tps=4)]  # TPS 4 has no officer account, yet a coklit'd record
    tps = tps_rows({(DESA, 1): 5, (DESA, 2): 3, (DESA, 3): 0, (DESA, 4): 1, (DESA2, 1): 0})
    pan = frame(
        "pantarlih",
        [
            officer(DESA, 1, 3, T1, id_pantarlih="A"),  # 3 + 1 = 4 coklit'd: equal
            officer(DESA, 1, 1, T1, id_pantarlih="B"),
            officer(DESA, 2, 2, T1),  # 2 != 3
            officer(DESA2, 1, 1, T1),  # counter 1, no record: differs
            # DESA TPS 3: no officer, nothing handed down: nothing to compare
        ],
    )
    out = night(con, recs, tps=tps, pantarlih=pan)
    assert units(out, "JUMLAH_TIDAK_SESUAI") == {f"{DESA}:2", f"{DESA}:4", f"{DESA2}:1"}
    no_officer = only(out, "JUMLAH_TIDAK_SESUAI").filter(pl.col("kunci") == f"{DESA}:4")
    assert "tidak ada akun Pantarlih" in no_officer["keterangan"][0]
    text = only(out, "JUMLAH_TIDAK_SESUAI").filter(pl.col("kunci") == f"{DESA}:2")["keterangan"]
    assert "mencatat 2" in text[0] and "berisi 3" in text[0]


# --- desa level ----------------------------------------------------------------------------


def test_penurunan_tajam(con):
    a = [voter(i) for i in range(100)]  # DESA: 100 -> 94 (6 %)
    b = [voter(1000 + i, kode_desa=DESA2) for i in range(100)]  # DESA2: 100 -> 95 (5 %)
    assert units(night(con, a + b, T1), "PENURUNAN_TAJAM") == set()
    a2 = [dict(r, status_coklit="TMS", kode_tms=4) if i < 6 else r for i, r in enumerate(a)]
    b2 = b[5:]
    out = night(con, a2 + b2, T2)
    assert units(out, "PENURUNAN_TAJAM") == {DESA}
    f = only(out, "PENURUNAN_TAJAM").row(0, named=True)
    assert (f["kode_kec"], f["no_tps"]) == (DESA[:6], None)
    assert "100 menjadi 94 (6,0%)" in f["keterangan"]


# --- officer level -------------------------------------------------------------------------


def test_pantarlih_belum_login_and_belum_sinkron(con):
    dibuat = dibuat_of(T1)
    recs = [voter(1)]
    tps = tps_rows({(DESA, n): 0 for n in range(1, 7)} | {(DESA, 1): 1})
    pan = frame(
        "pantarlih",
        [
            officer(DESA, 1, 1, T1, id_pantarlih="FRESH"),
            officer(DESA, 2, 0, T1, id_pantarlih="NEVER_LOGIN", terakhir_login=None,
                    terakhir_sinkron=None),
            officer(DESA, 3, 0, T1, id_pantarlih="NEVER_SYNC", terakhir_sinkron=None),
            officer(DESA, 4, 0, T1, id_pantarlih="EXACTLY_48H",
                    terakhir_sinkron=dibuat - timedelta(hours=48)),
            officer(DESA, 5, 0, T1, id_pantarlih="48H_AND_1S",
                    terakhir_sinkron=dibuat - timedelta(hours=48, seconds=1)),
            officer(DESA, 6, 0, T1, id_pantarlih="OLD",
                    terakhir_sinkron=dibuat - timedelta(days=9)),
        ],
    )  # fmt: skip
    out = night(con, recs, tps=tps, pantarlih=pan, dibuat=dibuat)
    assert units(out, "PANTARLIH_BELUM_LOGIN") == {"NEVER_LOGIN"}
    assert units(out, "PANTARLIH_BELUM_SINKRON") == {"NEVER_SYNC", "48H_AND_1S", "OLD"}
    f = only(out, "PANTARLIH_BELUM_SINKRON").filter(pl.col("kunci") == "OLD").row(0, named=True)
    assert f["id_pantarlih"] == "OLD" and f["no_tps"] == 6 and f["id_pemilih"] is None
    assert "216 jam" in f["keterangan"] and "WIB" in f["keterangan"]
    # times in the one date style of the region's texts: "25 Juni 2024 pukul 04.18 WIB"
    stamps = re.findall(r"\d{1,2} [A-Z][a-z]+ \d{4} pukul \d{2}\.\d{2} WIB", f["keterangan"])
    assert len(stamps) == 2 and not re.search(r"\d{4}-\d{2}-\d{2}", f["keterangan"])


# --- across codes ---------------------------------------------------------------------------


def test_every_rule_of_the_catalog_runs_and_results_are_kept(con):
    night(con, clean_records())
    rows = con.execute(
        "SELECT DISTINCT kode_temuan FROM gx_validasi WHERE tanggal_ekspor = ?", [T1]
    ).fetchall()
    ran = {r[0] for r in rows}
    expected = {k for k, r in load_catalog().items() if "periksa" in r.spec}
    # rules comparing two nights wait for the second; no code is listed by hand here
    needs_last_night = {k for k, r in load_catalog().items() if r.peristiwa}
    assert needs_last_night and ran == expected - needs_last_night


def test_a_record_without_kode_desa_does_not_stop_the_night(con):
    recs = [voter(1), voter(2, id_pemilih="BAD", nik="2222222222222222")]
    pem, tps, pan = auto_tables(recs, T1)
    pem = pl.concat(
        [pem, frame("pemilih", [voter(3, id_pemilih="NO_DESA", nik="123")])
         .with_columns(kode_desa=pl.lit(None, pl.String))]
    )  # fmt: skip
    load_night(con, T1, pemilih=pem, tps=tps, pantarlih=pan, provinces=["32"])
    out = run_rules(con, T1, SETTINGS)
    assert units(out, "NIK_TIDAK_VALID") == {"BAD", "NO_DESA"}
    row = only(out, "NIK_TIDAK_VALID").filter(pl.col("kunci") == "NO_DESA").row(0, named=True)
    assert row["kode_prov"] is None and row["kode_kab"] is None


def test_data_tidak_valid_values_outside_the_export_domain(con):
    recs = [
        voter(1, id_pemilih="OK"),
        voter(2, id_pemilih="SEX", jenis_kelamin="X"),
        voter(3, id_pemilih="STATUS", status_coklit=None),
        voter(4, id_pemilih="KAWIN", status_kawin="Z"),
        voter(5, id_pemilih="DIS", disabilitas=9),
        voter(6, id_pemilih="DESA", kode_desa="3204059999", id_pantarlih="3204059999-1"),
    ]
    pem, tps, pan = auto_tables(recs, T1)
    load_night(con, T1, pemilih=pem, tps=tps, pantarlih=pan)
    out = run_rules(con, T1, SETTINGS)
    assert units(out, "DATA_TIDAK_VALID") == {"SEX", "STATUS", "KAWIN", "DIS", "DESA"}
    text = dict(zip(only(out, "DATA_TIDAK_VALID")["kunci"],
                    only(out, "DATA_TIDAK_VALID")["keterangan"], strict=True))  # fmt: skip
    assert "jenis kelamin X bukan L/P" in text["SEX"]
    assert "status coklit (kosong)" in text["STATUS"]
    assert "kode desa 3204059999 tidak ada" in text["DESA"]


# --- reports-v1 v1.1 additions ---------------------------------------------------------------


def test_nama_tidak_wajar(con):
    names = {
        "ONE_LETTER": "A",
        "QUESTION": "SITI?",
        "DIGIT": "BUDI 2",
        "EMPTY": "",
        "NULL": None,
        "SYMBOL": "DEWI*",
        "TAB": "DEWI\tSARI",
        "ONE_AND_DOTS": "A. .",
        # allowed: two letters, accents (composed and combining), other scripts, punctuation
        "OK_AA": "AA",
        "OK_ACCENTS": "Ñoño d'Árc-Ủy, Jr.",
        "OK_COMBINING": "E\u0301DI",
        "OK_ARABIC": "محمد",
        "OK_DEVANAGARI": "सीता",
        "OK_TITLE": "H. MUHAMMAD, S.PD.",
    }
    recs = [voter(i, id_pemilih=k, nama=v) for i, (k, v) in enumerate(names.items(), start=1)]
    recs.append(voter(99, id_pemilih="TMS_ODD", nama="?", status_coklit="TMS", kode_tms=4))
    out = night(con, recs)
    bad = {"ONE_LETTER", "QUESTION", "DIGIT", "EMPTY", "NULL", "SYMBOL", "TAB", "ONE_AND_DOTS"}
    assert units(out, "NAMA_TIDAK_WAJAR") == bad
    text = dict(zip(*only(out, "NAMA_TIDAK_WAJAR")[["kunci", "keterangan"]], strict=True))
    assert "hanya berisi 1 huruf" in text["ONE_LETTER"]
    assert "karakter selain huruf" in text["QUESTION"]
    assert "SITI" not in " ".join(text.values())  # the name itself is never in the text


def test_usia_tidak_wajar(con):
    recs = [
        voter(1, id_pemilih="AGED_110", born=date(1914, 11, 27)),  # 110 on 2024-11-27
        voter(2, id_pemilih="AGED_109", born=date(1914, 11, 28)),
        voter(3, id_pemilih="AGED_124", born=date(1900, 1, 1)),
        voter(4, id_pemilih="TMS_OLD", born=date(1900, 1, 1), status_coklit="TMS", kode_tms=1,
              dokumen_tms="AKTA-1"),
        voter(5, id_pemilih="NO_DATE", tanggal_lahir=None),
    ]  # fmt: skip
    out = night(con, recs)
    assert units(out, "USIA_TIDAK_WAJAR") == {"AGED_110", "AGED_124"}
    assert (
        "110 tahun"
        in only(out, "USIA_TIDAK_WAJAR").filter(pl.col("kunci") == "AGED_110")["keterangan"][0]
    )
    # Pemilu 2024 (polling day 2024-02-14): born 1914-11-27 is 109 then
    out = run_rules(con, T1, resolve_settings(election="pemilu-2024"))
    assert units(out, "USIA_TIDAK_WAJAR") == {"AGED_124"}


def test_data_tidak_valid_reads_the_ingests_unreadable_values(con):
    """After h10's ingest the snapshot has nilai_tidak_valid; before it, the column is absent
    (every other test) and treated as NULL."""
    con.execute("ALTER TABLE pemilih ADD COLUMN IF NOT EXISTS nilai_tidak_valid VARCHAR")
    recs = [voter(1, id_pemilih="OK"), voter(2, id_pemilih="UNREAD"),
            voter(3, id_pemilih="CODE", kode_desa="32040520x1", id_pantarlih="x-1")]  # fmt: skip
    pem, tps, pan = auto_tables(recs, T1)
    load_night(con, T1, pemilih=pem, tps=tps, pantarlih=pan)
    con.execute(
        "UPDATE pemilih SET nilai_tidak_valid = 'tanggal_lahir' WHERE id_pemilih = 'UNREAD'"
    )
    out = run_rules(con, T1, SETTINGS)
    assert units(out, "DATA_TIDAK_VALID") == {"UNREAD", "CODE"}
    text = dict(zip(*only(out, "DATA_TIDAK_VALID")[["kunci", "keterangan"]], strict=True))
    assert "isian tanggal lahir tidak terbaca" in text["UNREAD"]
    assert "bukan kode 10 angka" in text["CODE"]


# --- every decision is Great Expectations' --------------------------------------------------


def edited_catalog(tmp_path, monkeypatch, edits: dict[str, Callable[[dict], None]]) -> None:
    """The rules read from a copy of expectations/ where `edits` changed some rule files."""
    from coklit_dq.rules import engine

    shutil.copytree(EXPECTATIONS_DIR, tmp_path / "exp")
    for kode, edit in edits.items():
        path = tmp_path / "exp" / "rules" / f"{kode}.yaml"
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        edit(raw)
        path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(engine, "load_catalog", lambda: load_catalog(tmp_path / "exp"))


def _kwargs(raw: dict, i: int = 0) -> dict:
    return raw["periksa"]["expectations"][i]["kwargs"]


def test_a_threshold_changed_in_yaml_only_changes_the_findings(con, tmp_path, monkeypatch):
    a = [voter(i) for i in range(100)]  # DESA: 100 -> 94 (6 %)
    a += [voter(200, id_pemilih="AGED_105", born=date(1919, 1, 1), nama="AB")]
    assert units(night(con, a, T1), "PENURUNAN_TAJAM") == set()
    a2 = [dict(r, status_coklit="TMS", kode_tms=4) if i < 6 else r for i, r in enumerate(a)]
    dibuat = dibuat_of(T2)
    pan = frame("pantarlih", [officer(DESA, 1, 94, T2, id_pantarlih="SYNC_60H",
                                      terakhir_sinkron=dibuat - timedelta(hours=60)),
                              officer(DESA, 2, 0, T2)])  # fmt: skip
    before = night(con, a2, T2, pantarlih=pan)
    assert units(before, "PENURUNAN_TAJAM") == {DESA}
    assert units(before, "PANTARLIH_BELUM_SINKRON") == {"SYNC_60H"}
    assert units(before, "TPS_MELEBIHI_KAPASITAS") == set()
    assert units(before, "USIA_TIDAK_WAJAR") == set()
    assert units(before, "NAMA_TIDAK_WAJAR") == set()

    def maks_3(raw):
        _kwargs(raw)["max_value"] = 3  # instead of the election's 600

    edited_catalog(
        tmp_path,
        monkeypatch,
        {
            "PENURUNAN_TAJAM": lambda raw: raw["parameter"].update(ambang_persen=7.5),
            "PANTARLIH_BELUM_SINKRON": lambda raw: raw["parameter"].update(batas_jam=72),
            "USIA_TIDAK_WAJAR": lambda raw: raw["parameter"].update(usia_tertinggi=100),
            "NAMA_TIDAK_WAJAR": lambda raw: raw["parameter"].update(huruf_minimal=3),
            "TPS_MELEBIHI_KAPASITAS": maks_3,
        },
    )
    after = run_rules(con, T2, SETTINGS)
    assert units(after, "PENURUNAN_TAJAM") == set()
    assert units(after, "PANTARLIH_BELUM_SINKRON") == set()
    assert units(after, "USIA_TIDAK_WAJAR") == {"AGED_105"}
    assert units(after, "NAMA_TIDAK_WAJAR") == {"AGED_105"}
    assert units(after, "TPS_MELEBIHI_KAPASITAS") == {f"{DESA}:1"}
    # everything else is as it was
    others = {"PENURUNAN_TAJAM", "PANTARLIH_BELUM_SINKRON", "USIA_TIDAK_WAJAR",
              "NAMA_TIDAK_WAJAR", "TPS_MELEBIHI_KAPASITAS"}  # fmt: skip
    keep = ~pl.col("kode_temuan").is_in(list(others))
    assert before.filter(keep).equals(after.filter(keep))


def test_without_its_expectations_a_rule_finds_nothing(con, tmp_path, monkeypatch):
    """The prepared SQL holds no verdict: a rule whose expectations always hold reports
    nothing, though its facts are unchanged."""
    recs = [voter(1, id_pemilih="BAD", nik="2222222222222222", nama="?", born=date(1900, 1, 1))]
    out = night(con, recs)
    assert {"NIK_TIDAK_VALID", "NAMA_TIDAK_WAJAR", "USIA_TIDAK_WAJAR"} <= set(out["kode_temuan"])

    def always(raw):
        raw["periksa"]["expectations"] = [
            {
                "type": "expect_column_values_to_be_between",
                "kwargs": {"column": "usia", "min_value": -1000},
            }
        ]

    edited_catalog(tmp_path, monkeypatch, {k: always for k in ("NIK_TIDAK_VALID",
                                                               "NAMA_TIDAK_WAJAR",
                                                               "USIA_TIDAK_WAJAR")})  # fmt: skip
    out = run_rules(con, T1, SETTINGS)
    assert not {"NIK_TIDAK_VALID", "NAMA_TIDAK_WAJAR", "USIA_TIDAK_WAJAR"} & set(out["kode_temuan"])
