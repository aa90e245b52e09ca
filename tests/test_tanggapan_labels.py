"""tanggapan-v1: a GANDA_ORANG pair answered "not the same person" is never reported
again and becomes a labelled non-match for `coklit-dq linkage evaluate --labels`."""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
from flow_fixtures import WIB, night_tables

from coklit_dq import cli
from coklit_dq.config import resolve_settings
from coklit_dq.pipeline import run_night
from coklit_dq.simulate.writer import write_night
from coklit_dq.tanggapan import SHEET
from coklit_dq.tanggapan.labels import evaluate_labels

N1, N2 = date(2024, 7, 1), date(2024, 7, 2)
G, H = "P31-0000027", "P31-0000030"  # both in kab 3101


def _night(root: Path, tanggal: date) -> None:
    tables, pem = night_tables(tanggal, 1200)
    p = pem["31"]
    g = p.filter(pl.col("id_pemilih") == G).row(0, named=True)
    # one digit mistyped (not the next serial: that is how namesakes born the same day
    # in one kecamatan differ, which the model rightly does not call one person)
    nik_h = g["nik"][:14] + str((int(g["nik"][14]) + 3) % 10) + g["nik"][15]
    is_h = pl.col("id_pemilih") == H
    p = p.with_columns(
        **{
            c: pl.when(is_h).then(pl.lit(g[c])).otherwise(pl.col(c))
            for c in ("nama", "tanggal_lahir", "jenis_kelamin", "tempat_lahir", "alamat")
        },
        nik=pl.when(is_h).then(pl.lit(nik_h)).otherwise(pl.col("nik")),
        # added where the person lives now, not struck where they lived before
        status_coklit=pl.when(is_h).then(pl.lit("BARU")).otherwise(pl.col("status_coklit")),
    )
    pem["31"] = p
    # the fixture's province 32 repeats province 31's people one nik digit away (same name,
    # birth date and birthplace): on a night of 1,200 records the model rightly calls that
    # one person too, so G's mirror gets another name and only the planted pair is a pair
    pem["32"] = pem["32"].with_columns(
        nama=pl.when(pl.col("nik").str.slice(2) == g["nik"][2:])
        .then(pl.lit("YOHANES KRISTIANTO"))
        .otherwise(pl.col("nama"))
    )
    dibuat = datetime.combine(tanggal, datetime.min.time(), tzinfo=WIB) + timedelta(hours=23)
    write_night(str(root), tanggal, tables, pem, formats={}, dibuat=dibuat)


def _list(outbox: Path, tanggal: date) -> pl.DataFrame:
    return pl.read_csv(
        outbox / tanggal.isoformat() / "31" / "3101" / "temuan.csv", infer_schema=False
    )


def test_a_pair_answered_not_the_same_person_is_a_labelled_non_match(tmp_path, capsys):
    export, outbox, inbox = tmp_path / "export", tmp_path / "outbox", tmp_path / "inbox"
    for n in (N1, N2):
        _night(export, n)
    wh = str(tmp_path / "w.duckdb")
    settings = resolve_settings(warehouse=wh, outbox=str(outbox), inbox=str(inbox))
    run_night(settings, str(export), N1)
    first_list = _list(outbox, N1)
    first = first_list.filter(pl.col("kode_temuan") == "GANDA_ORANG")
    assert {G, H} <= set(first["id_pemilih"])
    pair = first.filter(pl.col("id_pemilih") == G)
    answer = pair.select(
        "kode_temuan",
        "id_pemilih",
        "id_kelompok",
        tanggapan=pl.lit("BUKAN_MASALAH"),
        alasan=pl.lit("kembar, sudah dicek ke rumah"),
    )
    buf = io.BytesIO()
    answer.write_csv(buf)
    target = inbox / N1.isoformat() / "31" / "3101"
    target.mkdir(parents=True)
    (target / "tanggapan.csv").write_bytes(buf.getvalue())

    run_night(settings, str(export), N2)
    second = _list(outbox, N2)
    # one answer on one record of the pair takes the pair out: neither record is listed
    assert not second.filter(
        pl.col("id_pemilih").is_in([G, H]) & (pl.col("kode_temuan") == "GANDA_ORANG")
    ).height
    # the workbook shows both on its own sheet; the record not answered says who marked it
    wb = openpyxl.load_workbook(outbox / N2.isoformat() / "31" / "3101" / "temuan.xlsx")
    head = [c.value for c in wb[SHEET][1]]
    marked = {
        r[head.index("ID pemilih")]: r[head.index("Alasan")]
        for r in wb[SHEET].iter_rows(min_row=2, values_only=True)
    }
    assert marked[G] == "kembar, sudah dicek ke rumah"
    assert re.fullmatch(r"ditandai bukan orang yang sama oleh KPU .+ \(3101\)", marked[H])

    # a rerun of night 1 after night 2 publishes night 1's list as its first run did: the
    # answer to it arrived later and does not reach back
    run_night(settings, str(export), N1)
    assert _list(outbox, N1).equals(first_list)

    report = evaluate_labels(wh)
    assert (report.n_labels, report.n_non_match, report.n_match, report.n_scored) == (1, 1, 0, 1)
    assert report.fp == 1 and report.tp == 0 and report.precision == 0.0

    assert cli.main(["linkage", "evaluate", "--labels", wh]) == 0
    out = capsys.readouterr().out
    assert "1 pairs (0 same person, 1 not the same person)" in out
    assert "precision 0.0000 (tp 0, fp 1)" in out

    # the labelled pair is weighed as the nightly linkage weighed it that night (its prior
    # and u), not as the model was trained: the same match weight, to the hundredth of a bit
    con = duckdb.connect(wh, read_only=True)
    (w,) = con.execute(
        "SELECT match_weight FROM link_pasangan WHERE least(id_l, id_r) = ? "
        "AND greatest(id_l, id_r) = ?",
        [min(G, H), max(G, H)],
    ).fetchall()[0]
    con.close()
    below = evaluate_labels(wh, threshold=_probability(w - 0.01))
    above = evaluate_labels(wh, threshold=_probability(w + 0.01))
    assert (below.fp, above.fp) == (1, 0)


def _probability(weight: float) -> float:
    return 2**weight / (1 + 2**weight)
