"""tanggapan-v1: regions answer their lists and the next nights' lists change.

Small exact nights (tests/flow_fixtures.py) with planted findings in kab 3101,
run through the real pipeline (DuckDB warehouse, local outbox and inbox).
"""

from __future__ import annotations

import io
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest
from flow_fixtures import WIB, night_tables

from coklit_dq.config import resolve_settings
from coklit_dq.pipeline import run_night
from coklit_dq.privacy import mask_id
from coklit_dq.publish.model import Night, by_kind
from coklit_dq.simulate.writer import write_night
from coklit_dq.tanggapan import SHEET, TanggapanNight, night_marks, read_inbox, region_figures
from coklit_dq.tanggapan import inbox as inbox_mod
from coklit_dq.tanggapan.store import ROW_COLUMNS

N1, N2, N3 = date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)
KAB = "3101"
# records of kab 3101 (families of 3 over 8 desa: r 0-11 and 24-35 are in 3101)
A, B, C, D, E = "P31-0000000", "P31-0000003", "P31-0000006", "P31-0000009", "P31-0000024"
F = "P31-0000012"  # kab 3171
ALL_SHEET = "Semua temuan"
FORMULA = '=HYPERLINK("http://x.invalid","NIK lama dari Dukcapil")'  # a reason, as data


def _night(root: Path, tanggal: date, *, alamat_a: str | None = None) -> None:
    from datetime import datetime, timedelta

    tables, pem = night_tables(tanggal, 1200)
    p = pem["31"]
    bad = pl.col("id_pemilih").is_in([A, B, E, F])
    c = p.filter(pl.col("id_pemilih") == C).row(0, named=True)
    nik_c = c["nik"]
    is_d = pl.col("id_pemilih") == D
    p = p.with_columns(
        tanggal_lahir=pl.when(is_d).then(pl.lit(c["tanggal_lahir"])).otherwise("tanggal_lahir"),
        jenis_kelamin=pl.when(is_d).then(pl.lit(c["jenis_kelamin"])).otherwise("jenis_kelamin"),
    ).with_columns(
        nik=pl.when(bad)
        .then(pl.lit("1234"))
        .when(pl.col("id_pemilih") == D)
        .then(pl.lit(nik_c))
        .otherwise(pl.col("nik"))
    )
    if alamat_a is not None:
        p = p.with_columns(
            alamat=pl.when(pl.col("id_pemilih") == A)
            .then(pl.lit(alamat_a))
            .otherwise(pl.col("alamat"))
        )
    pem["31"] = p
    dibuat = datetime.combine(tanggal, datetime.min.time(), tzinfo=WIB) + timedelta(hours=23)
    write_night(str(root), tanggal, tables, pem, formats={}, dibuat=dibuat)


def _list(outbox: Path, tanggal: date, kab: str = KAB) -> pl.DataFrame:
    return pl.read_csv(
        outbox / tanggal.isoformat() / kab[:2] / kab / "temuan.csv", infer_schema=False
    )


def _answer_workbook(outbox: Path, tanggal: date, answers: dict[tuple[str, str], tuple]) -> bytes:
    """The region's workbook, filled: the published one when it carries the contract's
    headers on "Semua temuan" (h11's workbook), else one built the same way from
    temuan.csv. `answers`: (kode_temuan, id_pemilih) -> (tanggapan, alasan)."""
    folder = outbox / tanggal.isoformat() / KAB[:2] / KAB
    wb = openpyxl.load_workbook(folder / "temuan.xlsx")
    if ALL_SHEET not in wb.sheetnames:
        rows = _list(outbox, tanggal)
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = ALL_SHEET
        head = [*rows.columns, "tanggapan", "alasan", "petugas"]
        ws.append(head)
        for r in rows.iter_rows():
            ws.append([*r, None, None, None])
    ws = wb[ALL_SHEET]
    head = [str(c.value) for c in ws[1]]
    col = {h: i for i, h in enumerate(head)}
    for row in ws.iter_rows(min_row=2):
        key = (row[col["kode_temuan"]].value, row[col["id_pemilih"]].value)
        if key in answers:
            answer, alasan = answers[key]
            row[col["tanggapan"]].value = answer
            row[col["alasan"]].value = alasan
            row[col["petugas"]].value = "Operator 3101"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _drop(
    inbox: Path, tanggal: date, kab: str, name: str, data: bytes, prov: str | None = None
) -> Path:
    p = inbox / tanggal.isoformat() / (prov or kab[:2]) / kab / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    return p


def _tables(wh: str) -> dict[str, int]:
    con = duckdb.connect(wh, read_only=True)
    try:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in (
                "tanggapan_berkas",
                "tanggapan_dipakai",
                "tanggapan_ditolak",
                "tanggapan_label",
            )
        }
    finally:
        con.close()


@pytest.fixture(scope="module")
def first_night(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("tanggapan")
    export, outbox, inbox = root / "export", root / "outbox", root / "inbox"
    for n in (N1, N2):
        _night(export, n)
    _night(export, N3, alamat_a="Jl. Baru 1")
    settings = resolve_settings(
        warehouse=str(root / "w.duckdb"), outbox=str(outbox), inbox=str(inbox)
    )
    run_night(settings, str(export), N1)
    shutil.copy(root / "w.duckdb", root / "w-n1.duckdb")  # before any answer
    return {"root": root, "export": export, "outbox": outbox, "inbox": inbox, "settings": settings}


def test_answers_through_the_workbook_change_the_next_nights(first_night):
    env = first_night
    outbox, inbox, settings = env["outbox"], env["inbox"], env["settings"]
    before = _list(outbox, N1)
    codes = set(before.select("id_pemilih", "kode_temuan").iter_rows())
    assert {(x, "NIK_TIDAK_VALID") for x in (A, B, E)} | {(x, "GANDA_NIK") for x in (C, D)} <= codes
    assert {k for i, k in codes if i in (A, B, C, D, E)} == {"NIK_TIDAK_VALID", "GANDA_NIK"}
    help_text = "<script>alert(1)</script> NIK 3201234567890123 tidak bisa diubah"
    book = _answer_workbook(
        outbox,
        N1,
        {
            ("NIK_TIDAK_VALID", A): ("BUKAN_MASALAH", FORMULA),
            ("NIK_TIDAK_VALID", B): ("SUDAH_DIPERBAIKI", None),
            ("GANDA_NIK", C): ("BUKAN_MASALAH", "dua orang berbeda memakai satu NIK"),
            ("GANDA_NIK", D): ("bukan masalah", "dua orang berbeda memakai satu NIK"),
            ("NIK_TIDAK_VALID", E): ("PERLU_BANTUAN", help_text),
        },
    )
    _drop(inbox, N1, KAB, "tanggapan.xlsx", book)

    run_night(settings, str(env["export"]), N2)
    after = _list(outbox, N2)
    ids = set(after["id_pemilih"].drop_nulls())
    assert A not in ids and C not in ids and D not in ids  # out of the region's list
    assert E in ids
    row_b = after.filter(pl.col("id_pemilih") == B).row(0, named=True)
    assert row_b["keterangan"].startswith("DILAPORKAN SUDAH DIPERBAIKI, MASIH DITEMUKAN")
    assert "2 Juli" not in row_b["keterangan"] and "1 Juli 2024" in row_b["keterangan"]
    # everything else of the list is as the night before
    rest = before.filter(~pl.col("id_pemilih").is_in([A, B, C, D]).fill_null(True))
    assert after.height == rest.height + 1
    # the workbook's own sheet, Pusdatin's list keeps them all
    wb = openpyxl.load_workbook(outbox / N2.isoformat() / "31" / KAB / "temuan.xlsx")
    head = [c.value for c in wb[SHEET][1]]
    marked = [{h: c for h, c in zip(head, r, strict=True)} for r in wb[SHEET].iter_rows(min_row=2)]
    assert sorted(r["ID pemilih"].value for r in marked) == sorted([A, C, D])
    assert all(r["Nama"].value for r in marked)  # whose record it is
    reason_a = next(r["Alasan"] for r in marked if r["ID pemilih"].value == A)
    assert reason_a.value == FORMULA and reason_a.data_type == "s"  # text, never a formula
    # the first sheet says what the answers did, and where to look
    summary = [r[0].value for r in wb["Ringkasan"].iter_rows() if r[0].value]
    assert (
        'Tanggapan wilayah: 3 temuan tidak dimuat di daftar (lihat lembar "Ditandai bukan '
        'masalah").' in summary
    )
    assert any(
        x.startswith("Tanggapan wilayah: 1 temuan dilaporkan sudah diperbaiki") for x in summary
    )
    national = pl.read_parquet(outbox / N2.isoformat() / "nasional" / "temuan.parquet")
    assert {A, C, D} <= set(national["id_pemilih"].drop_nulls())
    # pages: PERLU_BANTUAN on province and national pages, escaped and masked
    for page in ("31/ringkasan.html", "nasional/ringkasan.html"):
        html = (outbox / N2.isoformat() / page).read_text(encoding="utf-8")
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<script>alert(1)" not in html and "3201234567890123" not in html
        assert "320123********23" in html
    nas = (outbox / N2.isoformat() / "nasional/ringkasan.html").read_text(encoding="utf-8")
    assert "dua orang berbeda memakai satu NIK" in nas  # GANDA_NIK went to Pusdatin
    kab_page = (outbox / N2.isoformat() / "31" / KAB / "ringkasan.html").read_text("utf-8")
    assert "Tanggapan wilayah atas daftar temuan" in kab_page
    con = duckdb.connect(settings.warehouse)
    try:
        fig = region_figures(con, N2).filter(pl.col("kode_kab") == KAB).row(0, named=True)
        assert fig["n_dijawab"] == 5
        assert fig["persen_dijawab"] == pytest.approx(100 * 5 / fig["n_dikirim"], abs=0.05)
        assert fig["n_diperbaiki_kembali"] == 1
        assert fig["n_bukan_masalah"] == 1 and fig["n_ke_pusdatin"] == 2
        assert fig["n_perlu_bantuan"] == 1
        assert fig["median_hari_terbuka"] == 1  # found on both nights
    finally:
        con.close()

    # the same file read again (a rerun of the night, or read_inbox again) changes nothing
    counts = _tables(settings.warehouse)
    run_night(settings, str(env["export"]), N2)
    assert _tables(settings.warehouse) == counts
    assert _list(outbox, N2).equals(after)
    shutil.copy(inbox / N1.isoformat() / "31" / KAB / "tanggapan.xlsx", env["root"] / "x.xlsx")
    con = duckdb.connect(settings.warehouse)
    try:
        res = read_inbox(con, N2, settings)
    finally:
        con.close()
    assert res.already_read == 1 and not res.used and not res.set_aside
    assert _tables(settings.warehouse) == counts

    # night 3: A's record changed, so the finding comes back; GANDA_NIK stays out
    run_night(settings, str(env["export"]), N3)
    list3 = _list(outbox, N3)
    ids3 = set(list3["id_pemilih"].drop_nulls())
    assert A in ids3 and C not in ids3 and D not in ids3
    # ... saying that it was answered and why it is back
    row_a = list3.filter(pl.col("id_pemilih") == A).row(0, named=True)
    assert row_a["keterangan"].startswith(
        "DITANDAI BUKAN MASALAH, TETAPI DATANYA BERUBAH SEJAK ITU; PERIKSA LAGI "
        "(tanggapan atas daftar 1 Juli 2024). "
    )


def _sidik(
    con: duckdb.DuckDBPyConnection, finding: dict, column: str = "sidik", night: date = N1
) -> str:
    from coklit_dq.tanggapan.units import fingerprint_sql

    con.execute(
        "CREATE OR REPLACE TEMP TABLE _f AS SELECT $kode_temuan AS kode_temuan, "
        "$id_pemilih::VARCHAR AS id_pemilih, $kode_desa::VARCHAR AS kode_desa, "
        "$no_tps::INTEGER AS no_tps, NULL::VARCHAR AS id_pantarlih",
        finding,
    )
    sql = f"SELECT {column} FROM ({fingerprint_sql('_f')})"
    return con.execute(sql, {"tanggal": night}).fetchall()[0][0]


def test_fingerprints_of_an_earlier_version_are_taken_again_on_their_night(first_night, tmp_path):
    """After an upgrade that changes what a fingerprint covers, a stored one is taken
    again from the night it was taken on, so no standing answer lapses for the upgrade."""
    env = first_night
    _, inbox, settings = _after_night_1(env, tmp_path)
    answer = {"kode_temuan": "NIK_TIDAK_VALID", "id_pemilih": A, "tanggapan": "BUKAN_MASALAH",
              "alasan": "sudah dicek"}  # fmt: skip
    _drop(inbox, N1, KAB, "tanggapan.csv", _csv([answer]))
    run_night(settings, str(env["export"]), N2)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        (taken,) = con.execute("SELECT sidik FROM tanggapan_dipakai").fetchall()[0]
        con.execute("UPDATE tanggapan_dipakai SET sidik = md5('fingerprint of version 1')")
        read_inbox(con, N2, settings)
        assert con.execute("SELECT sidik FROM tanggapan_dipakai").fetchall() == [(taken,)]
        # one that cannot be taken again (its nights pruned) is compared in its own version:
        # the answer holds while the data are as they were, by the rule it was stored under
        v1 = _sidik(con, {"kode_temuan": "NIK_TIDAK_VALID", "id_pemilih": A, "kode_desa": None,
                          "no_tps": None}, column="sidik_v1", night=N2)  # fmt: skip
        con.execute("UPDATE tanggapan_dipakai SET sidik = ?", [v1])
        marks = night_marks(con, N2).filter(pl.col("id_pemilih") == A)
        assert marks["tanda"].to_list() == ["BUKAN_MASALAH"]
        con.execute("UPDATE tanggapan_dipakai SET sidik = md5('other data')")
        marks = night_marks(con, N2).filter(pl.col("id_pemilih") == A)
        assert marks["tanda"].to_list() == ["BUKAN_MASALAH_BERUBAH"]
    finally:
        con.close()


def test_a_visit_that_changes_nothing_keeps_a_bukan_masalah(first_night, tmp_path):
    """tanggapan-v1: BUKAN_MASALAH holds "while its unit's data stay the same". During
    coklit every record is visited (BELUM -> MS, its officer may change) and every TPS's
    counters grow: none of that is the unit's data changing, so the answer holds; a
    changed address, or a TPS's gap between app and export that grows, is."""
    shutil.copy(first_night["root"] / "w-n1.duckdb", tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    try:
        rec = {"kode_temuan": "NIK_TIDAK_VALID", "id_pemilih": A, "kode_desa": None,
               "no_tps": None}  # fmt: skip
        desa, tps = con.execute(
            "SELECT kode_desa, no_tps FROM pemilih WHERE tanggal_ekspor = ? AND id_pemilih = ?",
            [N1, A],
        ).fetchone()
        unit = {"kode_temuan": "JUMLAH_TIDAK_SESUAI", "id_pemilih": None, "kode_desa": desa,
                "no_tps": tps}  # fmt: skip
        at_tps = "tanggal_ekspor = $n AND kode_desa = $d AND no_tps = $t"
        where = {"n": N1, "d": desa, "t": tps}
        con.execute(  # not yet visited on the night answered: A and two more of its TPS
            f"UPDATE pemilih SET status_coklit = 'BELUM', waktu_coklit = NULL WHERE {at_tps} "
            "AND id_pemilih IN (SELECT id_pemilih FROM pemilih WHERE "
            f"{at_tps} AND status_coklit IN ('MS', 'BELUM') ORDER BY id_pemilih <> $a, "
            "id_pemilih LIMIT 3)",
            {**where, "a": A},
        )
        before = _sidik(con, rec), _sidik(con, unit)
        # they are visited, and the app counts them; another officer now holds A
        visited = con.execute(
            f"UPDATE pemilih SET status_coklit = 'MS', waktu_coklit = now() WHERE {at_tps} "
            "AND status_coklit = 'BELUM'",
            where,
        ).fetchall()[0][0]
        con.execute(
            "UPDATE pemilih SET id_pantarlih = 'PL-LAIN' WHERE tanggal_ekspor = $n "
            "AND id_pemilih = $a",
            {"n": N1, "a": A},
        )
        con.execute(
            f"UPDATE pantarlih SET jumlah_tercoklit_app = jumlah_tercoklit_app + $v "
            f"WHERE {at_tps} AND id_pantarlih = (SELECT min(id_pantarlih) FROM pantarlih "
            f"WHERE {at_tps})",
            {**where, "v": visited},
        )
        assert visited == 3
        assert (_sidik(con, rec), _sidik(con, unit)) == before
        # coklit goes on at the TPS: a new voter added (and counted by the app), another
        # struck; what its findings rest on (handed-down records, the app's gap) stays
        con.execute(
            f"INSERT INTO pemilih SELECT * REPLACE ('P-BARU' AS id_pemilih, 'BARU' AS "
            f"status_coklit) FROM pemilih WHERE {at_tps} AND id_pemilih <> $a LIMIT 1",
            {**where, "a": A},
        )
        con.execute(
            f"UPDATE pantarlih SET jumlah_tercoklit_app = jumlah_tercoklit_app + 1 "
            f"WHERE {at_tps} AND id_pantarlih = (SELECT min(id_pantarlih) FROM pantarlih "
            f"WHERE {at_tps})",
            where,
        )
        con.execute(
            f"UPDATE pemilih SET status_coklit = 'TMS', kode_tms = 4 WHERE {at_tps} "
            "AND id_pemilih = (SELECT max(id_pemilih) FROM pemilih WHERE "
            f"{at_tps} AND status_coklit = 'MS' AND id_pemilih <> $a)",
            {**where, "a": A},
        )
        assert _sidik(con, unit) == before[1]
        # the data themselves change
        con.execute(
            "UPDATE pemilih SET alamat = 'JL. LAIN 2' WHERE tanggal_ekspor = $n "
            "AND id_pemilih = $a",
            {"n": N1, "a": A},
        )
        con.execute(
            f"UPDATE pantarlih SET jumlah_tercoklit_app = jumlah_tercoklit_app + 1 WHERE {at_tps}",
            where,
        )
        after = _sidik(con, rec), _sidik(con, unit)
        assert after[0] != before[0] and after[1] != before[1]
    finally:
        con.close()


def _csv(rows: list[dict[str, str]], columns: tuple[str, ...] = ROW_COLUMNS) -> bytes:
    import csv

    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(columns)
    for r in rows:
        w.writerow([r.get(c, "") for c in columns])
    return out.getvalue().encode()


def test_hostile_responses_are_set_aside_with_reasons(first_night, tmp_path):
    env = first_night
    wh = tmp_path / "w.duckdb"
    shutil.copy(env["root"] / "w-n1.duckdb", wh)
    inbox = tmp_path / "inbox"
    settings = resolve_settings(warehouse=str(wh), outbox=str(tmp_path / "o"), inbox=str(inbox))
    listed = _list(env["outbox"], N1)
    a = listed.filter(pl.col("id_pemilih") == A).row(0, named=True)
    other = _list(env["outbox"], N1, "3171").filter(pl.col("id_pemilih") == F).row(0, named=True)
    ok = {
        "kode_temuan": a["kode_temuan"],
        "id_pemilih": A,
        "tanggapan": "BUKAN_MASALAH",
        "alasan": "x",
    }
    # rows of 3101: another region's finding, a formula, unknown answer, no alasan
    _drop(
        inbox,
        N1,
        KAB,
        "tanggapan.csv",
        _csv(
            [
                {
                    "kode_temuan": other["kode_temuan"],
                    "id_pemilih": F,
                    "tanggapan": "BUKAN_MASALAH",
                    "alasan": "bukan wilayah kami",
                },
                {
                    "kode_temuan": '=HYPERLINK("http://x.invalid","klik")',
                    "id_pemilih": A,
                    "tanggapan": "PERLU_BANTUAN",
                },
                {**ok, "tanggapan": "=1+1"},
                {**ok, "alasan": ""},
            ]
        ),
    )
    _drop(inbox, N1, "3171", "tanggapan.xlsx", b"\x00junk" * (2 * 1024 * 1024))  # 10 MB
    renamed = _csv([{**ok}], tuple("jawaban" if c == "tanggapan" else c for c in ROW_COLUMNS))
    _drop(inbox, N1, "3201", "tanggapan.csv", renamed)
    _drop(inbox, N1, "3199", "tanggapan.csv", _csv([ok]))  # a valid code, not A's region
    _drop(
        inbox, N1, "3301", "tanggapan.csv", _csv([{**ok, "petugas": "y"}]), prov="31"
    )  # kab not of its province folder
    _drop(inbox, N1, "3201", "tanggapan.xlsx", b"PK\x03\x04 not a zip")

    con = duckdb.connect(str(wh))
    try:
        res = read_inbox(con, N2, settings)
        aside = con.execute(
            "SELECT kode_kab, lokasi, kolom, alasan_tolak FROM tanggapan_ditolak "
            "ORDER BY kode_kab, lokasi"
        ).fetchall()
        files = dict(
            con.execute(
                "SELECT path, reason FROM tanggapan_berkas WHERE state = 'set_aside'"
            ).fetchall()
        )
        applied = con.execute("SELECT count(*) FROM tanggapan_dipakai").fetchall()[0][0]
    finally:
        con.close()
    assert applied == 0 and res.rows_applied == 0, (aside, files)
    assert aside == [
        (KAB, "2", "id_pemilih", "temuan milik wilayah lain"),
        (KAB, "3", "kode_temuan", "kode_temuan tidak dikenal"),
        (
            KAB,
            "4",
            "tanggapan",
            "tanggapan tidak dikenal; isi SUDAH_DIPERBAIKI, BUKAN_MASALAH atau PERLU_BANTUAN",
        ),
        (KAB, "5", "alasan", "alasan wajib diisi untuk BUKAN_MASALAH (di kolom alasan)"),
        ("3199", "2", "id_pemilih", "temuan milik wilayah lain"),
    ]
    d = N1.isoformat()
    assert files[f"{d}/31/3171/tanggapan.xlsx"] == "bukan berkas xlsx yang dapat dibaca"
    assert files[f"{d}/32/3201/tanggapan.csv"].startswith("kolom tidak ditemukan: tanggapan")
    assert files[f"{d}/32/3201/tanggapan.xlsx"] == "bukan berkas xlsx yang dapat dibaca"
    assert files[f"{d}/31/3301/tanggapan.csv"] == "kode kabupaten/kota pada folder tidak sah"
    assert len(res.set_aside) == 4
    # set aside whole or row by row, nothing changes the next night's lists
    run_night(settings, str(env["export"]), N2)
    assert _list(tmp_path / "o", N2).equals(
        _list(env["outbox"], N1).with_columns(
            tanggal_ekspor=pl.lit(N2.isoformat()), status_temuan=pl.lit("BERULANG")
        )
    )


def test_simulated_responses_are_valid_answers_to_the_lists(first_night, tmp_path):
    import numpy as np

    from coklit_dq import cli
    from coklit_dq.simulate.responses import SHARE, answer_frame, simulate_responses

    # the shares: on a long list every answer appears, BUKAN_MASALAH always with a reason
    n = 4000
    rows = pl.DataFrame(
        {
            c: [f"{c}{i}" for i in range(n)]
            for c in ("id_pemilih", "id_pantarlih", "kode_desa", "no_tps", "id_kelompok")
        }
    ).with_columns(kode_temuan=pl.Series(["GANDA_ORANG", "NIK_TIDAK_VALID"] * (n // 2)))
    ans = answer_frame(rows, np.random.default_rng(5))
    share = dict(ans.group_by("tanggapan").len().iter_rows())
    assert set(share) == set(SHARE)
    assert abs(share["SUDAH_DIPERBAIKI"] / n - SHARE["SUDAH_DIPERBAIKI"]) < 0.03
    assert ans.filter(pl.col("tanggapan") == "BUKAN_MASALAH")["alasan"].str.len_chars().min() > 0

    env = first_night
    outbox = env["outbox"]
    inbox, again = tmp_path / "inbox", tmp_path / "again"
    counts = simulate_responses(str(outbox), N1, str(inbox), seed=3)
    assert (
        cli.main(
            [
                "simulate",
                "--responses",
                str(outbox),
                "--date",
                N1.isoformat(),
                "--out",
                str(again),
                "--seed",
                "3",
            ]
        )
        == 0
    )
    written = sorted(p.relative_to(inbox) for p in inbox.rglob("tanggapan.csv"))
    assert written == sorted(p.relative_to(again) for p in again.rglob("tanggapan.csv"))
    assert all((inbox / p).read_bytes() == (again / p).read_bytes() for p in written)
    assert len(written) == counts["wilayah"]
    # every simulated row is a valid answer to the list it names
    wh = tmp_path / "w.duckdb"
    shutil.copy(env["root"] / "w-n1.duckdb", wh)
    settings = resolve_settings(warehouse=str(wh), outbox=str(tmp_path / "o"), inbox=str(inbox))
    con = duckdb.connect(str(wh))
    try:
        res = read_inbox(con, N2, settings)
    finally:
        con.close()
    assert not res.set_aside and res.rows_set_aside == 0
    assert res.rows_applied == sum(counts[k] for k in SHARE)


def _night1_again(env: dict, tmp_path: Path) -> tuple[Path, Path, Path, object]:
    """The warehouse after night 1 copied, night 1 published again into a fresh outbox;
    (warehouse, outbox, inbox, settings)."""
    wh = tmp_path / "w.duckdb"
    shutil.copy(env["root"] / "w-n1.duckdb", wh)
    outbox, inbox = tmp_path / "o", tmp_path / "inbox"
    settings = resolve_settings(warehouse=str(wh), outbox=str(outbox), inbox=str(inbox))
    run_night(settings, str(env["export"]), N1)
    return wh, outbox, inbox, settings


def test_one_answer_forwards_every_record_of_its_nik_group(first_night, tmp_path):
    """GANDA_NIK answered BUKAN_MASALAH on one record: "two people carry one nik" is said
    of the pair on the answered list, so its other record leaves the list too (else the
    list would go on telling the PPS to strike a real voter), saying which region marked
    it."""
    env = first_night
    wh, outbox, inbox, settings = _night1_again(env, tmp_path)
    book = _answer_workbook(
        outbox, N1, {("GANDA_NIK", C): ("BUKAN_MASALAH", "dua orang berbeda, satu NIK")}
    )
    _drop(inbox, N1, KAB, "tanggapan.xlsx", book)
    run_night(settings, str(env["export"]), N2)
    listed = _list(outbox, N2).filter(pl.col("kode_temuan") == "GANDA_NIK")
    assert not set(listed["id_pemilih"]) & {C, D}
    wb = openpyxl.load_workbook(outbox / N2.isoformat() / "31" / KAB / "temuan.xlsx")
    head = [c.value for c in wb[SHEET][1]]
    marked = {
        r[head.index("ID pemilih")]: (r[head.index("Ditandai")], r[head.index("Alasan")])
        for r in wb[SHEET].iter_rows(min_row=2, values_only=True)
    }
    assert set(marked) == {C, D}
    assert all(t.startswith("NIK dipakai dua orang") for t, _ in marked.values())
    assert marked[C][1] == "dua orang berbeda, satu NIK"
    assert marked[D][1].startswith("ditandai dua orang dengan satu NIK oleh KPU ")
    assert marked[D][1].endswith(f"({KAB})")

    # the pages' table per kind adds up: the night before + new - resolved - marked = tonight
    con = duckdb.connect(str(wh))
    try:
        night = Night.load(con, N2, mask=True)
        night.tanggapan = TanggapanNight.load(con, N2)
        night.findings, night.ditandai = night.tanggapan.split(night.findings)
        kinds = {j["kode_temuan"]: j for j in by_kind(night, pl.col("kode_kab") == KAB)}
    finally:
        con.close()
    assert kinds["GANDA_NIK"]["ditandai"] == 2 and kinds["GANDA_NIK"]["n"] == 0
    for j in kinds.values():
        assert j["kemarin"] + j["baru"] - j["selesai"] - j["ditandai"] == j["n"], j
    page = (outbox / N2.isoformat() / "31" / KAB / "ringkasan.html").read_text("utf-8")
    assert "Ditandai bukan masalah / ke Pusdatin" in page


# --- hostile answer files: one file or cell never stops the others -------------------------


def _inbox_env(env: dict, tmp_path: Path) -> tuple[Path, Path, object, dict, dict]:
    """A copy of the warehouse after night 1, an empty inbox, and an answer for A (kab
    3101) and for F (kab 3171), both valid."""
    wh = tmp_path / "w.duckdb"
    shutil.copy(env["root"] / "w-n1.duckdb", wh)
    inbox = tmp_path / "inbox"
    settings = resolve_settings(warehouse=str(wh), outbox=str(tmp_path / "o"), inbox=str(inbox))
    a = _list(env["outbox"], N1).filter(pl.col("id_pemilih") == A).row(0, named=True)
    f = _list(env["outbox"], N1, "3171").filter(pl.col("id_pemilih") == F).row(0, named=True)
    ans_a = {"kode_temuan": a["kode_temuan"], "id_pemilih": A, "tanggapan": "BUKAN_MASALAH"}
    ans_f = {"kode_temuan": f["kode_temuan"], "id_pemilih": F, "tanggapan": "PERLU_BANTUAN"}
    return wh, inbox, settings, {**ans_a, "alasan": "kembar"}, ans_f


def _after_night_1(env: dict, tmp_path: Path) -> tuple[Path, Path, object]:
    """A copy of the warehouse after night 1, an empty outbox and inbox: (outbox, inbox,
    settings), for running the next nights through the pipeline."""
    shutil.copy(env["root"] / "w-n1.duckdb", tmp_path / "w.duckdb")
    outbox, inbox = tmp_path / "outbox", tmp_path / "inbox"
    settings = resolve_settings(
        warehouse=str(tmp_path / "w.duckdb"), outbox=str(outbox), inbox=str(inbox)
    )
    return outbox, inbox, settings


def _drop_both(inbox: Path, kab: bytes, kota: bytes) -> None:
    """tanggapan.csv of kab 3101 and of kota 3171, answering the list of night 1."""
    _drop(inbox, N1, KAB, "tanggapan.csv", kab)
    _drop(inbox, N1, "3171", "tanggapan.csv", kota)


def _read(wh: Path, settings, sql: str | None = None):
    con = duckdb.connect(str(wh))
    try:
        res = read_inbox(con, N2, settings)
        return res, (con.execute(sql).fetchall() if sql else None)
    finally:
        con.close()


def test_a_no_tps_that_is_not_an_ascii_number_is_a_row_rejection_not_a_crash(first_night, tmp_path):
    """'²' passes str.isdigit() and int() refuses it; 20 nines overflow Int64: each is
    its row's problem (column no_tps), the file's other rows and other files are used."""
    wh, inbox, settings, ans_a, ans_f = _inbox_env(first_night, tmp_path)
    _drop_both(
        inbox,
        _csv([{**ans_a, "no_tps": "²"}, {**ans_a, "no_tps": "9" * 20}, ans_a]),
        _csv([ans_f]),
    )
    res, aside = _read(
        wh,
        settings,
        "SELECT kode_kab, lokasi, kolom, alasan_tolak FROM tanggapan_ditolak ORDER BY lokasi",
    )
    assert aside == [
        (KAB, "2", "no_tps", "no_tps bukan angka (paling banyak 6 digit)"),
        (KAB, "3", "no_tps", "no_tps bukan angka (paling banyak 6 digit)"),
    ]
    assert res.rows_applied == 2 and len(res.used) == 2 and not res.set_aside


def test_a_file_that_fails_unexpectedly_is_set_aside_and_the_others_are_used(first_night, tmp_path):
    """Any error while checking or storing one file (here a real DuckDB constraint of a
    warehouse the answer does not fit) sets that file aside, stored so it is never read
    again; the other regions' answers are applied."""
    wh, inbox, settings, ans_a, ans_f = _inbox_env(first_night, tmp_path)
    from coklit_dq.tanggapan import store

    con = duckdb.connect(str(wh))
    ddl = next(d for d in store.SCHEMA if "tanggapan_dipakai" in d)
    con.execute("DROP TABLE IF EXISTS tanggapan_dipakai")
    con.execute(ddl.replace("PRIMARY KEY", "CHECK (alasan <> 'boom'), PRIMARY KEY"))
    con.close()
    _drop_both(inbox, _csv([{**ans_a, "alasan": "boom"}]), _csv([ans_f]))
    res, berkas = _read(
        wh,
        settings,
        "SELECT kode_kab, state, reason, isi IS NOT NULL FROM tanggapan_berkas ORDER BY kode_kab",
    )
    assert berkas == [
        (KAB, "set_aside", inbox_mod.FAILED, True),
        ("3171", "used", None, True),
    ]
    assert res.rows_applied == 1 and [s["reason"] for s in res.set_aside] == [inbox_mod.FAILED]
    res, counts = _read(wh, settings, "SELECT count(*) FROM tanggapan_dipakai")
    assert res.already_read == 2 and not res.set_aside and counts == [(1,)]


def test_inbox_links_are_never_followed_and_misplaced_files_are_kept(first_night, tmp_path):
    """A link (to a file or a folder outside the inbox) is set aside and never opened; a
    file deeper than the layout is set aside with its reason and its bytes kept."""
    wh, inbox, settings, ans_a, ans_f = _inbox_env(first_night, tmp_path)
    outside = tmp_path / "outside"
    (outside / "kab").mkdir(parents=True)
    (outside / "secret.csv").write_bytes(_csv([ans_a]))
    (outside / "kab" / "tanggapan.csv").write_bytes(_csv([ans_f]))
    link = inbox / N1.isoformat() / "31" / KAB / "tanggapan.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside / "secret.csv")
    (inbox / N1.isoformat() / "31" / "3171").symlink_to(outside / "kab")
    (link.parent / "sub").mkdir()
    (link.parent / "sub" / "tanggapan.csv").write_bytes(_csv([ans_a]))  # one folder too deep
    odd = inbox / N1.isoformat() / "31" / os.fsdecode(b"31\xff1")  # a name not UTF-8
    odd.mkdir()
    (odd / "tanggapan.csv").write_bytes(_csv([ans_f]))
    res, berkas = _read(
        wh, settings, "SELECT path, state, reason, ukuran, isi FROM tanggapan_berkas ORDER BY path"
    )
    d, misplaced = N1.isoformat(), "letak berkas tidak sesuai format kotak masuk"
    assert [(p, s, r) for p, s, r, _, _ in berkas] == [
        (f"{d}/31/3101/sub/tanggapan.csv", "set_aside", misplaced),
        (f"{d}/31/3101/tanggapan.csv", "set_aside", inbox_mod.LINK),
        (f"{d}/31/3171", "set_aside", inbox_mod.LINK),
        (f"{d}/31/31\\xff1/tanggapan.csv", "set_aside", inbox_mod.NOT_UTF8),
    ]
    assert berkas[0][4] == _csv([ans_a])  # the misplaced file's bytes are kept
    assert [(u, i) for *_, u, i in berkas[1:3]] == [(0, None), (0, None)]  # links: never read
    assert res.rows_applied == 0 and len(res.set_aside) == 4
    res, _ = _read(wh, settings)  # stored once: not read again
    assert res.already_read == 4 and not res.set_aside


def test_an_answer_holds_for_the_data_of_the_list_it_answers_not_of_the_night_reading_it(
    first_night, tmp_path
):
    """A BUKAN_MASALAH on night 1's list, first read on night 3 (night 2 did not run): A's
    record changed in between, so the region never saw those data and A is listed again."""
    env = first_night
    outbox, inbox, settings = _after_night_1(env, tmp_path)
    answer = {"kode_temuan": "NIK_TIDAK_VALID", "id_pemilih": A, "tanggapan": "BUKAN_MASALAH"}
    _drop(inbox, N1, KAB, "tanggapan.csv", _csv([{**answer, "alasan": "sudah dicek"}]))
    run_night(settings, str(env["export"]), N3)
    assert A in set(_list(outbox, N3)["id_pemilih"].drop_nulls())


def test_the_same_answer_twice_in_a_file_is_used_once_and_the_second_row_kept(
    first_night, tmp_path
):
    """Nothing a region sent is lost: the repeated row is set aside naming the row used."""
    wh, inbox, settings, ans_a, ans_f = _inbox_env(first_night, tmp_path)
    _drop_both(inbox, _csv([ans_a, {**ans_a, "alasan": "alasan kedua"}]), _csv([ans_f]))
    res, aside = _read(
        wh, settings, "SELECT kode_kab, lokasi, kolom, alasan_tolak FROM tanggapan_ditolak"
    )
    assert res.rows_applied == 2 and res.rows_set_aside == 1
    assert aside == [
        (KAB, "3", "tanggapan",
         "tanggapan yang sama untuk temuan ini sudah ada pada baris 2; baris itu yang dipakai"),
    ]  # fmt: skip


def test_of_two_files_read_the_same_night_the_one_written_last_counts(first_night, tmp_path):
    """A corrected csv sent after the region's workbook is read first (paths in order):
    the inbox's modification times, not the reading order, say which answer is the last."""
    env = first_night
    outbox, inbox, settings = _after_night_1(env, tmp_path)
    first = _answer_workbook(env["outbox"], N1, {("NIK_TIDAK_VALID", A): ("BUKAN_MASALAH", "x")})
    book = _drop(inbox, N1, KAB, "tanggapan.xlsx", first)
    fixed = {"kode_temuan": "NIK_TIDAK_VALID", "id_pemilih": A, "tanggapan": "SUDAH_DIPERBAIKI"}
    later = _drop(inbox, N1, KAB, "tanggapan.csv", _csv([fixed]))
    now = later.stat().st_mtime
    os.utime(book, (now - 2 * 86400, now - 2 * 86400))
    os.utime(later, (now - 86400, now - 86400))
    run_night(settings, str(env["export"]), N2)
    row = _list(outbox, N2).filter(pl.col("id_pemilih") == A).row(0, named=True)
    assert row["keterangan"].startswith("DILAPORKAN SUDAH DIPERBAIKI, MASIH DITEMUKAN")


def test_the_region_is_told_what_it_sent_that_was_set_aside(first_night, tmp_path):
    """tanggapan-v1: rows and files set aside with the reason (file, row, column); the
    region reads them the next morning in its workbook and on its page, never anyone
    else's, its own text masked and inert."""
    env = first_night
    outbox, inbox, settings = _after_night_1(env, tmp_path)
    good = {"kode_temuan": "NIK_TIDAK_VALID", "id_pemilih": A, "tanggapan": "PERLU_BANTUAN"}
    bad = {**good, "id_pemilih": '=HYPERLINK("x") 3101 0104 0802 0001', "tanggapan": "OK"}
    _drop(inbox, N1, KAB, "tanggapan.csv", _csv([good, bad]))
    _drop(inbox, N1, KAB, "tanggapan.xlsx", b"PK\x03\x04 not a zip")
    run_night(settings, str(env["export"]), N2)
    folder = outbox / N2.isoformat() / "31" / KAB
    wb = openpyxl.load_workbook(folder / "temuan.xlsx")
    ws = wb["Tanggapan ditolak"]
    head = [c.value for c in ws[2]]
    rows = [{h: c for h, c in zip(head, r, strict=True)} for r in ws.iter_rows(min_row=3)]
    got = sorted((r["berkas"].value, r["baris"].value, r["kolom"].value) for r in rows)
    d = f"{N1.isoformat()}/31/{KAB}"
    assert got == [(f"{d}/tanggapan.csv", "3", "tanggapan"),
                   (f"{d}/tanggapan.xlsx", "", "")]  # fmt: skip
    row = next(r for r in rows if r["baris"].value == "3")
    sent = row["id_pemilih (dikirim)"]
    assert sent.data_type == "s" and "3101 0104" not in sent.value
    # one whole file and one row set aside: the sheet says what each means
    headline = ws["A1"].value
    assert "seluruh berkas itu tidak dibaca" in headline and "hanya baris itu" in headline
    page = (folder / "ringkasan.html").read_text(encoding="utf-8")
    assert "Tanggapan yang disisihkan malam ini" in page and "bukan berkas xlsx" in page
    assert "3101 0104 0802 0001" not in page
    other = openpyxl.load_workbook(outbox / N2.isoformat() / "31" / "3171" / "temuan.xlsx")
    assert "Tanggapan ditolak" not in other.sheetnames
    assert "Tanggapan yang disisihkan" not in (
        outbox / N2.isoformat() / "31" / "3171" / "ringkasan.html"
    ).read_text(encoding="utf-8")


def test_a_workbook_sent_back_whole_does_not_answer_again_with_its_refused_rows(
    first_night, tmp_path
):
    """The region sends the workbook it received back as tanggapan-v1 asks: its sheet
    "Tanggapan ditolak" holds last night's refused answers, which must stay refused."""
    env = first_night
    outbox, inbox, settings = _after_night_1(env, tmp_path)
    used = {"kode_temuan": "NIK_TIDAK_VALID", "id_pemilih": A, "tanggapan": "PERLU_BANTUAN"}
    refused = {**used, "tanggapan": "BUKAN_MASALAH", "alasan": "NIK sudah benar"}
    _drop(inbox, N1, KAB, "tanggapan.csv", _csv([used, refused]))
    run_night(settings, str(env["export"]), N2)
    book = outbox / N2.isoformat() / "31" / KAB / "temuan.xlsx"
    assert "Tanggapan ditolak" in openpyxl.load_workbook(book, read_only=True).sheetnames
    _drop(inbox, N2, KAB, "tanggapan.xlsx", book.read_bytes())  # nothing new answered
    run_night(settings, str(env["export"]), N3)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        read = con.execute(
            "SELECT lokasi FROM tanggapan_dipakai WHERE tanggal_proses = $n UNION ALL "
            "SELECT lokasi FROM tanggapan_ditolak WHERE tanggal_proses = $n",
            {"n": N3},
        ).fetchall()
    finally:
        con.close()
    assert read == []
    assert A in _list(outbox, N3)["id_pemilih"].to_list()  # not set aside as bukan masalah


def test_an_id_pemilih_that_is_a_nik_is_answered_as_published_masked(first_night, tmp_path):
    """An export whose record id is the nik has it published masked; the region answers
    with what it was given, and the answer reaches its finding (and only that one)."""
    wh, inbox, settings, ans_a, ans_f = _inbox_env(first_night, tmp_path)
    nik = "3101014501900001"
    con = duckdb.connect(str(wh))
    con.execute("UPDATE temuan SET id_pemilih = ? WHERE id_pemilih = ?", [nik, A])
    con.close()
    _drop_both(inbox, _csv([{**ans_a, "id_pemilih": mask_id(nik)}]), _csv([ans_f]))
    res, used = _read(wh, settings, "SELECT kode_kab, kunci FROM tanggapan_dipakai")
    assert not res.set_aside and res.rows_applied == 2 and res.rows_set_aside == 0
    assert sorted(k for k, _ in used) == [KAB, "3171"]


def test_a_named_pipe_in_the_inbox_is_set_aside_without_being_opened(first_night, tmp_path):
    """Opening a pipe with no writer would wait forever: every region's answers would stop."""
    wh, inbox, settings, _, ans_f = _inbox_env(first_night, tmp_path)
    _drop(inbox, N1, "3171", "tanggapan.csv", _csv([ans_f]), prov="31")
    pipe = inbox / N1.isoformat() / "31" / KAB / "tanggapan.csv"
    pipe.parent.mkdir(parents=True)
    os.mkfifo(pipe)
    res, berkas = _read(wh, settings, "SELECT kode_kab, state, reason FROM tanggapan_berkas")
    assert sorted(berkas) == [("3101", "set_aside", inbox_mod.SPECIAL), ("3171", "used", None)]
    assert res.rows_applied == 1


def test_other_files_in_the_inbox_are_set_aside_without_copying_their_bytes(first_night, tmp_path):
    """A region's scans dropped in the inbox (personal data, megabytes each) are set aside
    with their size and hash; their bytes stay in the inbox, not in the warehouse."""
    wh, inbox, settings, ans_a, ans_f = _inbox_env(first_night, tmp_path)
    _drop_both(inbox, _csv([ans_a]), _csv([ans_f]))
    scan = b"\xff\xd8\xff" + os.urandom(3 * 1024 * 1024)
    _drop(inbox, N1, KAB, "foto_akta.jpg", scan)
    res, berkas = _read(
        wh,
        settings,
        "SELECT path, ukuran, isi IS NULL FROM tanggapan_berkas WHERE path LIKE '%jpg'",
    )
    assert berkas == [(f"{N1.isoformat()}/31/{KAB}/foto_akta.jpg", len(scan), True)]
    assert res.rows_applied == 2 and len(res.set_aside) == 1


def test_a_workbook_sent_back_under_another_name_is_set_aside_for_its_name(first_night, tmp_path):
    """temuan.xlsx sent back as it was received, in the right folder: the reason says the
    name, and the file counts as that region's (shown to it the next morning)."""
    wh, inbox, settings, _, ans_f = _inbox_env(first_night, tmp_path)
    _drop(inbox, N1, KAB, "temuan.xlsx", b"PK\x03\x04")
    for left in (".DS_Store", "Thumbs.db", "~$tanggapan.xlsx"):  # not answers: not stored
        _drop(inbox, N1, KAB, left, b"\x00")
    _drop(inbox, N1, "3171", "tanggapan.csv", _csv([ans_f]))
    _, berkas = _read(wh, settings, "SELECT kode_kab, state, reason FROM tanggapan_berkas")
    assert sorted(berkas) == [("3101", "set_aside", inbox_mod.WRONG_NAME), ("3171", "used", None)]


def test_inbox_names_are_quoted_in_log_lines(first_night, tmp_path, caplog):
    wh, inbox, settings, ans_a, _ = _inbox_env(first_night, tmp_path)
    forged = f"{KAB}\n2026-01-01 INFO coklit_dq: semua baik"
    _drop(inbox, N1, forged, "tanggapan.csv", _csv([ans_a]), prov="31")
    with caplog.at_level("INFO", logger="coklit_dq.tanggapan"):
        res, _ = _read(wh, settings)
    assert [s["path"] for s in res.set_aside] == [f"{N1.isoformat()}/31/{forged}/tanggapan.csv"]
    lines = [r.getMessage() for r in caplog.records if r.name == "coklit_dq.tanggapan"]
    assert lines and not any("\n" in line for line in lines)


def test_a_csv_from_excel_in_cp1252_and_an_alasan_over_the_csv_field_limit_are_read(
    first_night, tmp_path
):
    """Excel on Windows saves csv in cp1252 (a smart quote is not UTF-8); an alasan longer
    than Python's csv field limit (131072) is one long cell, cut to MAX_CELL as in a
    workbook (the bytes as sent are kept): neither sets the file aside."""
    from coklit_dq.tanggapan.reader import MAX_CELL

    wh, inbox, settings, ans_a, ans_f = _inbox_env(first_night, tmp_path)
    smart = "dua orang “kembar” – beda NIK"
    sent = _csv([{**ans_a, "alasan": smart}]).decode().encode("cp1252")
    _drop_both(inbox, sent, _csv([{**ans_f, "alasan": "A" * 200_000}]))
    res, rows = _read(
        wh, settings, "SELECT kode_kab, alasan FROM tanggapan_dipakai ORDER BY kode_kab"
    )
    assert not res.set_aside and res.rows_applied == 2
    assert rows == [(KAB, smart), ("3171", "A" * MAX_CELL)]
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("SELECT isi FROM tanggapan_berkas WHERE kode_kab = ?", [KAB]).fetchall() == [
        (sent,)
    ]
    con.close()


# --- GANDA_NIK forwarding on hand-built warehouses (the real night_marks) -------------


def _hand_warehouse(
    tmp_path: Path, groups: dict[date, list[tuple[str, str]]]
) -> duckdb.DuckDBPyConnection:
    """One nik shared by the records of `groups[night]` ((id_pemilih, kode_desa)), the
    nights' pemilih, wilayah and GANDA_NIK findings as the pipeline stores them."""
    from coklit_dq import warehouse
    from coklit_dq.tanggapan import store

    con = warehouse.connect(tmp_path / "hand.duckdb")
    store.ensure_schema(con)
    nik = "3201014101900001"

    def insert(table: str, row: dict) -> None:
        con.execute(
            f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )

    for night, members in groups.items():
        for kode in sorted({d for _, d in members}):
            insert("wilayah", dict(tanggal_ekspor=night, kode_desa=kode, nama_desa="D",
                                   kode_kec=kode[:6], nama_kec="K", kode_kab=kode[:4],
                                   nama_kab=f"KAB {kode[:4]}", kode_prov=kode[:2],
                                   nama_prov="P"))  # fmt: skip
        for rid, kode in members:
            insert("pemilih", dict(tanggal_ekspor=night, id_pemilih=rid, nik=nik, nama="SITI",
                                   kode_desa=kode, no_tps=1, status_coklit="MS"))  # fmt: skip
            other = min(i for i, _ in members if i != rid)
            insert("temuan", dict(tanggal_ekspor=night, kode_temuan="GANDA_NIK", id_pemilih=rid,
                                  kode_desa=kode, kode_prov=kode[:2], kode_kab=kode[:4],
                                  kode_kec=kode[:6], no_tps=1, id_kelompok="NIK-g",
                                  kunci=f"{rid}|{other}", tingkat="TINGGI",
                                  status_temuan="BARU", pertama_ditemukan=night,
                                  keterangan="x"))  # fmt: skip
    return con


def _hand_answer(con, sha: str, kab: str, rid: str, kunci: str, tanggapan: str) -> None:
    from coklit_dq.tanggapan.inbox import _fingerprint

    con.execute(
        "INSERT INTO tanggapan_berkas (sha256, path, tanggal_daftar, kode_prov, kode_kab, "
        "diterima, tanggal_proses, ukuran, state) VALUES (?, ?, ?, ?, ?, now(), ?, 0, 'used')",
        [sha, sha, N1, kab[:2], kab, N2],
    )
    con.execute(
        "INSERT INTO tanggapan_dipakai (sha256, lokasi, baris, tanggal_daftar, diterima, "
        "tanggal_proses, kode_prov, kode_kab, kunci, kode_temuan, id_pemilih, id_kelompok, "
        "tanggapan, alasan) VALUES (?, '2', 2, ?, now(), ?, ?, ?, ?, 'GANDA_NIK', ?, 'NIK-g', "
        "?, 'alasan wilayah')",
        [sha, N1, N2, kab[:2], kab, kunci, rid, tanggapan],
    )
    _fingerprint(con, sha, N2)


def test_a_nik_answer_forwards_only_the_pair_it_answered(tmp_path):
    """The other record of the answered pair is forwarded; a record that took the nik
    later is not (its region never saw the pair); a partner's own answer wins."""
    a, b, d = ("A", "3201010001"), ("B", "3202010001"), ("D", "3203010001")
    con = _hand_warehouse(tmp_path, {N1: [a, b], N2: [a, b, d]})
    _hand_answer(con, "f1", "3201", "A", "A|B", "BUKAN_MASALAH")
    marks = {r["id_pemilih"]: r for r in night_marks(con, N2).iter_rows(named=True)}
    assert marks["A"]["tanda"] == "PUSDATIN" and marks["A"]["alasan"] == "alasan wilayah"
    assert marks["B"]["tanda"] == "PUSDATIN"
    assert marks["B"]["alasan"] == "ditandai dua orang dengan satu NIK oleh KPU KAB 3201 (3201)"
    assert "D" not in marks  # joined the nik on night 2: listed in its own region
    _hand_answer(con, "f2", "3202", "B", "B|A", "PERLU_BANTUAN")
    marks = {r["id_pemilih"]: r for r in night_marks(con, N2).iter_rows(named=True)}
    assert marks["B"]["tanda"] == "PERLU_BANTUAN"  # its own region's answer wins
    con.close()


def test_a_nik_answer_in_a_group_of_three_forwards_no_other_record(tmp_path):
    a, b, e = ("A", "3201010001"), ("B", "3202010001"), ("E", "3202010001")
    con = _hand_warehouse(tmp_path, {N1: [a, b, e], N2: [a, b, e]})
    _hand_answer(con, "f1", "3201", "A", "A|B", "BUKAN_MASALAH")
    marks = {r["id_pemilih"]: r["tanda"] for r in night_marks(con, N2).iter_rows(named=True)}
    assert marks == {"A": "PUSDATIN"}  # B and E may be one person: their region decides
    con.close()


def test_a_rerun_of_an_older_night_reads_no_new_answer(first_night, tmp_path):
    """Answers that arrive after night 3 ran belong to the next new night: rerunning night
    2 publishes what night 2 published, and leaves the file unread."""
    env = first_night
    wh, outbox, inbox, settings = _night1_again(env, tmp_path)
    for n in (N2, N3):
        run_night(settings, str(env["export"]), n)
    before = _list(outbox, N2)
    assert A in set(before["id_pemilih"])
    book = _answer_workbook(outbox, N1, {("NIK_TIDAK_VALID", A): ("BUKAN_MASALAH", "sudah dicek")})
    _drop(inbox, N1, KAB, "tanggapan.xlsx", book)
    run_night(settings, str(env["export"]), N2)
    assert _list(outbox, N2).equals(before)
    assert _tables(str(wh))["tanggapan_berkas"] == 0  # read by the next new night


def _answers_to_night_1(env: dict, inbox: Path) -> None:
    book = _answer_workbook(
        env["outbox"],
        N1,
        {
            ("NIK_TIDAK_VALID", A): ("BUKAN_MASALAH", "sudah dicek"),
            ("NIK_TIDAK_VALID", B): ("SUDAH_DIPERBAIKI", None),
        },
    )
    _drop(inbox, N1, KAB, "tanggapan.xlsx", book)


def test_a_night_run_late_behind_a_later_one_counts_the_answers_it_would_have_read(
    first_night, tmp_path
):
    """Answers to night 1 wait in the inbox; night 2's export comes late, night 3 runs and
    reads them, then night 2 is run: its lists are those of nights run in order."""
    env = first_night
    clean = tmp_path / "clean"
    clean.mkdir()
    _, outbox, inbox, settings = _night1_again(env, clean)
    _answers_to_night_1(env, inbox)
    run_night(settings, str(env["export"]), N2)
    late = tmp_path / "late"
    late.mkdir()
    _, outbox2, inbox2, settings2 = _night1_again(env, late)
    _answers_to_night_1(env, inbox2)
    run_night(settings2, str(env["export"]), N3)
    run_night(settings2, str(env["export"]), N2)
    assert A not in set(_list(outbox, N2)["id_pemilih"].drop_nulls())
    assert _list(outbox2, N2).equals(_list(outbox, N2))


def test_a_night_that_could_not_be_read_is_no_later_night_for_the_inbox(first_night, tmp_path):
    """A mistyped --date (no such folder) fails; the next real night still reads answers."""
    env = first_night
    _, outbox, inbox, settings = _night1_again(env, tmp_path)
    _answers_to_night_1(env, inbox)
    result = run_night(settings, str(env["export"]), date(2024, 7, 9))
    assert not result.ok
    run_night(settings, str(env["export"]), N2)
    assert A not in set(_list(outbox, N2)["id_pemilih"].drop_nulls())


def test_a_file_set_aside_for_its_place_is_read_once_moved_to_the_right_place(
    first_night, tmp_path
):
    """A region told its file is in the wrong folder moves the same bytes: that is read
    (not 'already read'); the misplaced copy is stored once and not read again."""
    wh, inbox, settings, ans_a, _ = _inbox_env(first_night, tmp_path)
    data = _csv([ans_a])
    wrong = inbox / N1.isoformat() / "31" / KAB / "kirim" / "tanggapan.csv"
    wrong.parent.mkdir(parents=True)
    wrong.write_bytes(data)
    _drop(inbox, N2, KAB, "tanggapan.csv", data)  # tonight's list: not answerable yet
    res, _ = _read(wh, settings)
    assert len(res.set_aside) == 1 and res.rows_applied == 0 and res.for_later == 1
    _drop(inbox, N1, KAB, "tanggapan.csv", data)  # the same bytes, where they belong
    res, berkas = _read(wh, settings, "SELECT path, state FROM tanggapan_berkas ORDER BY path")
    assert res.rows_applied == 1 and res.already_read == 1
    d = N1.isoformat()
    assert berkas == [(f"{d}/31/{KAB}/kirim/tanggapan.csv", "set_aside"),
                      (f"{d}/31/{KAB}/tanggapan.csv", "used")]  # fmt: skip
