"""Stage 6: the outbox of a night, file by file (reports-v1 "What is published each night")."""

from __future__ import annotations

import io
import json
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_publish_support import N1, N2, load_night, raw_findings, record, two_night_warehouse

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.contract import FINDING_COLUMNS
from coklit_dq.publish import MARKER, publish_night

KABS = {"3101", "3171", "3201", "3271"}


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """Two nights in a warehouse, the second one published; yields (outbox night, result, con)."""
    base = tmp_path_factory.mktemp("pub")
    con, _ = two_night_warehouse(base / "w.duckdb")
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    result = publish_night(con, N2, settings)
    yield base / "outbox" / N2.isoformat(), result, con
    con.close()


def test_every_contract_file_exists_for_every_kabupaten(night):
    root, result, _ = night
    for kab in KABS:
        for name in ("temuan.csv", "temuan.xlsx", "ringkasan.html"):
            assert (root / kab[:2] / kab / name).is_file(), (kab, name)
    for prov in ("31", "32"):
        assert (root / prov / "ringkasan.html").is_file()
    for name in ("temuan.parquet", "ringkasan.html", "selesai.csv"):
        assert (root / "nasional" / name).is_file()
    assert {r.kode_kab for r in result.regions} == KABS
    marker = json.loads((root / MARKER).read_text(encoding="utf-8"))
    on_disk = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert sorted([*marker["berkas"], MARKER]) == on_disk
    assert marker["jumlah_temuan"] == result.n_temuan
    # nothing but the night itself in the outbox root (no staging left behind)
    assert [p.name for p in root.parent.iterdir()] == [N2.isoformat()]


def test_csv_has_exactly_the_contract_columns_and_only_its_kabupaten(night):
    root, _, con = night
    for kab in KABS:
        df = pl.read_csv(root / kab[:2] / kab / "temuan.csv", infer_schema=False)
        assert tuple(df.columns) == FINDING_COLUMNS
        assert set(df["kode_kab"].to_list()) <= {kab}
    expected = con.execute(
        "SELECT count(*) FROM temuan WHERE tanggal_ekspor = ? AND kode_kab = '3101'", [N2]
    ).fetchall()[0][0]
    got = pl.read_csv(root / "31" / "3101" / "temuan.csv", infer_schema=False)
    assert got.height == expected > 0
    assert set(got["status_temuan"]) == {"BARU", "BERULANG"}
    assert "kunci" not in got.columns
    # a kabupaten with records but no findings: header only
    empty = pl.read_csv(root / "32" / "3271" / "temuan.csv", infer_schema=False)
    assert empty.height == 0 and tuple(empty.columns) == FINDING_COLUMNS


def test_national_parquet_and_resolved_csv(night):
    root, result, con = night
    nat = pl.read_parquet(root / "nasional" / "temuan.parquet")
    assert tuple(nat.columns) == FINDING_COLUMNS
    n = con.execute("SELECT count(*) FROM temuan WHERE tanggal_ekspor = ?", [N2]).fetchall()[0][0]
    assert nat.height == n == result.n_temuan
    assert nat["tanggal_ekspor"].unique().to_list() == [N2]
    done = pl.read_csv(root / "nasional" / "selesai.csv", infer_schema=False)
    assert tuple(done.columns) == FINDING_COLUMNS
    assert done.height == result.n_selesai > 0
    # resolved: found on the night before, gone tonight
    assert set(done["tanggal_ekspor"]) == {N1.isoformat()}
    tonight = set(zip(nat["kode_temuan"], nat["id_pemilih"], strict=True))
    assert not tonight & set(zip(done["kode_temuan"], done["id_pemilih"], strict=True))


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.urls: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.urls += [v for k, v in attrs if k in ("src", "href", "xlink:href", "action") and v]

    def handle_data(self, data):
        self.text.append(data)


def _page(path: Path) -> _Page:
    p = _Page()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


@pytest.mark.parametrize("rel", ["31/3101", "32/3271", "31", "nasional"])
def test_pages_are_self_contained_with_charts(night, rel):
    root, _, _ = night
    path = root / rel / "ringkasan.html"
    raw = path.read_text(encoding="utf-8")
    page = _page(path)
    assert page.tags.count("svg") >= 3
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert "://" not in raw and "//" not in " ".join(page.urls) and "@import" not in raw
    for url in page.urls:  # only relative links to files of the same night
        target = (path.parent / url).resolve()
        assert target.is_file(), url
    text = " ".join(page.text)
    assert "Tren dari malam ke malam" in text and "Temuan" in text
    charts = {
        "31/3101": ["Progres coklit per kecamatan"],
        "32/3271": ["Progres coklit per kecamatan"],
        "31": ["Progres coklit per kabupaten/kota", "Temuan per 1.000 pemilih"],
        "nasional": ["Progres coklit per provinsi", "Temuan per 1.000 pemilih per provinsi"],
    }[rel]
    for title in [
        *charts,
        "Temuan per jenis",
        "Progres coklit per malam",
        "Jumlah temuan per malam",
    ]:  # drawn once for a phone, once for wider screens and print (charts.py)
        assert raw.count(f"<title>{title}</title>") == 2, title
        for layout in ("sempit", "lebar"):
            assert raw.count(f"<svg class='chart {layout}'") == raw.count("<svg class='chart ") / 2


def test_kab_page_shows_progress_change_and_trend(night):
    root, _, con = night
    text = " ".join(_page(root / "31" / "3101" / "ringkasan.html").text)
    assert "Progres coklit per kecamatan" in text and "Perubahan sejak malam sebelumnya" in text
    for kec in ("Kec 310101", "Kec 310102"):
        assert kec in text
    assert "NIK tidak valid" in text
    n_new = con.execute(
        "SELECT count(*) FROM temuan WHERE tanggal_ekspor = ? AND kode_kab = '3101' "
        "AND status_temuan = 'BARU'",
        [N2],
    ).fetchall()[0][0]
    assert f"{n_new} temuan baru" in text
    raw = (root / "31" / "3101" / "ringkasan.html").read_text(encoding="utf-8")
    assert "<polyline" in raw  # the trend over the two nights
    none = " ".join(_page(root / "32" / "3271" / "ringkasan.html").text)
    assert "Tidak ada temuan malam ini" in none


def test_province_page_puts_its_kabupaten_side_by_side(night):
    root, _, _ = night
    raw = (root / "31" / "ringkasan.html").read_text(encoding="utf-8")
    assert 'href="3101/ringkasan.html"' in raw and 'href="3171/ringkasan.html"' in raw
    assert "3201" not in raw


def test_quarantined_province_gets_pages_that_say_so(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    _, pem = load_night(con, N1, quarantine=("32",))
    record(con, N1, raw_findings({"31": pem["31"]}, N1))
    settings = resolve_settings(outbox=str(tmp_path / "o"), warehouse=str(tmp_path / "w.duckdb"))
    result = publish_night(con, N1, settings)
    con.close()
    root = tmp_path / "o" / N1.isoformat()
    for kab in ("3201", "3271"):
        text = " ".join(_page(root / "32" / kab / "ringkasan.html").text)
        assert "rusak atau tidak lengkap" in text and "Tidak ada temuan malam ini" not in text
        # the engine's reason is Pusdatin's (proses.html); the region is not asked to resend
        assert "Pusdatin sedang menanganinya" in text and "sha256" not in text
        assert "Kirim ulang" not in text
        assert (root / "32" / kab / "temuan.xlsx").is_file()
        assert result.region(kab).berkas == "quarantined"
    assert "dikarantina" in " ".join(_page(root / "nasional" / "ringkasan.html").text)
    assert "rusak" not in " ".join(_page(root / "31" / "3101" / "ringkasan.html").text)


def test_workbooks_built_by_worker_processes_are_the_same(night, tmp_path):
    root, result, con = night
    settings = resolve_settings(outbox=str(tmp_path / "o"), warehouse=str(tmp_path / "w.duckdb"))
    parallel = publish_night(con, N2, settings, workers=2)
    assert parallel.files == result.files
    other = tmp_path / "o" / N2.isoformat()

    def cells(path: Path) -> dict[str, list[tuple]]:
        wb = openpyxl.load_workbook(io.BytesIO(path.read_bytes()))
        return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb}

    for kab in KABS:
        rel = Path(kab[:2]) / kab / "temuan.xlsx"
        assert cells(other / rel) == cells(root / rel), kab


def test_charts_are_well_formed_svg_with_escaped_labels():
    import xml.etree.ElementTree as ET

    from coklit_dq.publish import charts

    def drawings(svgs: str) -> list[ET.Element]:
        """A chart's two drawings, for a phone and for wider screens (charts.py)."""
        both = list(ET.fromstring(f"<div>{svgs}</div>"))
        assert [e.tag for e in both] == ["svg", "svg"]
        assert [e.get("class") for e in both] == ["chart sempit", "chart lebar"]
        return both

    charts_ = [
        charts.hbars(["Desa <A> & B", "C"], [3, 1.5], "t1", colors=["#c0392b", "#27ae60"]),
        charts.progress_bars(["Kec X"], [150], [186], "t2"),
        charts.lines(["01/07", "02/07"], {"Semua": [13, 28], "TINGGI": [12, 27]}, "t3"),
        charts.lines([], {}, "kosong"),
    ]
    for svgs in charts_:
        for root in drawings(svgs):
            assert root.find("title") is not None
    for hb, pb, ln in zip(*(drawings(c) for c in charts_[:3]), strict=True):
        labels = [t.text for t in hb.iter("text")]
        assert "Desa <A> & B" in labels and "3,0" in labels and "1,5" in labels
        assert "80,6% (150/186)" in [t.text for t in pb.iter("text")]
        assert len(ln.findall("polyline")) == 2
    wide = [t.text for t in drawings(charts_[2])[1].iter("text")]
    assert {"0", "10", "20", "30", "40"} <= set(wide)  # whole-number ticks for counts
    narrow = [t.text for t in drawings(charts_[2])[0].iter("text")]
    assert {"0", "20", "40"} <= set(narrow) and "10" not in narrow  # fewer on a phone
    assert "Belum ada data" in charts_[3]


def test_province_missing_from_the_export_is_named_and_its_regions_told(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    _, pem = load_night(con, N1)
    for sql in (  # province 32 sent no pemilih file tonight (still in wilayah)
        "DELETE FROM files WHERE kode_prov = '32'",
        "DELETE FROM pemilih WHERE kode_desa LIKE '32%'",
        "DELETE FROM agregat_desa WHERE kode_prov = '32'",
    ):
        con.execute(sql)
    record(con, N1, raw_findings({"31": pem["31"]}, N1))
    settings = resolve_settings(outbox=str(tmp_path / "o"), warehouse=str(tmp_path / "w.duckdb"))
    result = publish_night(con, N1, settings)
    con.close()
    root = tmp_path / "o" / N1.isoformat()
    # its kabupaten/kota are told, not left without files
    assert result.provinces == ["31", "32"]
    kab_pages = sorted((root / "32").glob("*/ringkasan.html"))
    assert kab_pages and all("tidak diterima" in " ".join(_page(k).text) for k in kab_pages)
    page = root / "nasional" / "ringkasan.html"
    parsed = _page(page)
    assert "berkas tidak diterima" in " ".join(parsed.text)
    for url in parsed.urls:
        assert (page.parent / url).resolve().is_file(), url


def test_an_empty_night_still_publishes_the_national_files(tmp_path):
    con = warehouse.connect(tmp_path / "w.duckdb")
    settings = resolve_settings(outbox=str(tmp_path / "o"), warehouse=str(tmp_path / "w.duckdb"))
    result = publish_night(con, N1, settings)
    con.close()
    assert result.regions == [] and result.n_temuan == 0
    root = tmp_path / "o" / N1.isoformat()
    assert pl.read_parquet(root / "nasional" / "temuan.parquet").columns == list(FINDING_COLUMNS)
    assert (root / MARKER).is_file() and (root / "nasional" / "ringkasan.html").is_file()


def test_each_kab_gets_its_own_resolved_list_and_never_another_regions(night):
    root, _, _ = night
    opts = {"schema_overrides": {"kode_kab": pl.String, "kode_prov": pl.String}}
    national = pl.read_csv(root / "nasional" / "selesai.csv", **opts)
    assert national.height > 0  # the fixture resolves findings on night 2
    seen = 0
    for path in root.glob("*/*/selesai.csv"):
        kab = path.parent.name
        mine = pl.read_csv(path, **opts)
        assert list(mine.columns) == list(national.columns)
        assert set(mine["kode_kab"]) <= {kab}
        assert mine.height == national.filter(pl.col("kode_kab") == kab).height
        seen += mine.height
    assert seen == national.filter(pl.col("kode_kab").is_not_null()).height


def test_the_first_work_count_leaves_out_rows_only_pusdatin_can_fix(tmp_path):
    """The page's 'prioritas 1 (kerjakan dulu)' is the region's own work: a GANDA_ID row
    at prioritas 1 (ditangani_oleh PUSDATIN) is counted apart."""
    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    con.execute(
        "INSERT INTO temuan SELECT * REPLACE ('GANDA_ID' AS kode_temuan, 'PUSDATIN' AS "
        "ditangani_oleh, 1 AS prioritas, 'X|3' AS kunci) FROM temuan "
        "WHERE tanggal_ekspor = ? AND kode_kab = '3101' LIMIT 1",
        [N2],
    )
    settings = resolve_settings(outbox=str(tmp_path / "o"), warehouse=str(tmp_path / "w.duckdb"))
    publish_night(con, N2, settings)
    con.close()
    root = tmp_path / "o" / N2.isoformat()
    rows = pl.read_csv(root / "31" / "3101" / "temuan.csv", infer_schema=False)
    p1 = rows.filter(pl.col("prioritas") == "1")
    own = p1.filter(pl.col("ditangani_oleh") != "PUSDATIN").height
    pusdatin = rows.filter(pl.col("ditangani_oleh") == "PUSDATIN").height
    assert pusdatin >= 1 and own < p1.height
    text = " ".join(_page(root / "31" / "3101" / "ringkasan.html").text)
    assert f"{own} temuan prioritas 1 untuk PPS, PPK dan KPU" in text
    assert f"{pusdatin} temuan yang hanya dapat diperbaiki Pusdatin" in text
