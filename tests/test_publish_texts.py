"""What regions and Pusdatin read: natural Bahasa Indonesia, one date style, decimal commas,
and the national page's drill-down pages (run record, dictionary, linkage, Data Docs)."""

from __future__ import annotations

import io
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import polars as pl
import pytest
from test_publish_support import N2, two_night_warehouse

from coklit_dq import bahasa
from coklit_dq.config import resolve_settings
from coklit_dq.publish import publish_night
from coklit_dq.rules.catalog import load_catalog

TEMPLATES = Path(__file__).resolve().parents[1] / "coklit_dq" / "publish" / "templates"
# English words that slipped into Indonesian texts before, and their kin
ENGLISH = re.compile(
    r"\b(the|and|of|with|records?|findings?|new|file|files|missing|page|total|"
    r"progress|found|resolved|none|null|error|warning|true|false|yes|no)\b",
    re.I,
)
DECIMAL_POINT = re.compile(r"\b\d+\.\d{1,2}\b(?!\.\d)")  # 5.0, 12.5 (not 1.234.567)
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b")
# masked nik/nkk (6 + 2 digits) are fine; so are codes, ids and file names
IGNORE = re.compile(r"\b[\w.-]+\.(csv|xlsx|html|parquet)\b|P\d\d-\d+|\d{6}\*+\d\d|\b[A-Z_]{4,}\b")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "code", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "code", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def _visible(html: str) -> str:
    p = _Text()
    p.feed(html)
    return " ".join(" ".join(p.parts).split())


def _problems(text: str) -> list[str]:
    text = IGNORE.sub(" ", text)
    return [
        *(f"English: {m.group()}" for m in ENGLISH.finditer(text)),
        *(f"decimal point: {m.group()}" for m in DECIMAL_POINT.finditer(text)),
        *(f"date style: {m.group()}" for m in ISO_DATE.finditer(text)),
    ]


@pytest.fixture(scope="module")
def outbox(tmp_path_factory):
    base = tmp_path_factory.mktemp("texts")
    con, _ = two_night_warehouse(base / "w.duckdb")
    docs = base / "datadocs" / N2.isoformat()
    docs.mkdir(parents=True)
    (docs / "index.html").write_text("<h1>Validasi</h1>", encoding="utf-8")
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    publish_night(con, N2, settings)
    yield base / "outbox" / N2.isoformat(), docs / "index.html", base
    con.close()


def test_templates_hold_no_english_words_or_decimal_points():
    for path in TEMPLATES.glob("*.j2"):
        text = re.sub(r"\{[{%#].*?[}%#]\}", " ", path.read_text(encoding="utf-8"), flags=re.S)
        assert not _problems(_visible(text)), (path.name, _problems(_visible(text)))


def test_rendered_pages_and_workbook_read_as_indonesian(outbox):
    root, _, _ = outbox
    pages = list(root.rglob("*.html"))
    assert len(pages) >= 8
    for page in pages:
        text = _visible(page.read_text(encoding="utf-8"))
        assert not _problems(text), (page.relative_to(root), _problems(text)[:5])
    wb = openpyxl.load_workbook(io.BytesIO((root / "31" / "3101" / "temuan.xlsx").read_bytes()))
    for name in ("Ringkasan", "Penjelasan"):  # the sheets made of our own sentences
        cells = [str(c) for row in wb[name].iter_rows(values_only=True) for c in row if c]
        text = " ".join(c for c in cells if not re.fullmatch(r"[a-z_]+", c))
        assert not _problems(text), (name, _problems(text)[:5])
    assert wb["Ringkasan"]["A2"].value == "Data ekspor tanggal 2 Juli 2024"


def test_rule_texts_show_no_birth_date_and_use_commas_and_indonesian_dates():
    for rule in load_catalog().values():
        spec = str(rule.spec.get("periksa", {}).get("keterangan", ""))
        for text in (rule.judul, rule.tindakan, spec):
            assert "rekaman" not in text.lower(), (rule.kode_temuan, text)
            assert "{tanggal_lahir}" not in text, rule.kode_temuan
            for name in re.findall(r"\{parameter\.(\w+)\}", text):  # a float needs a comma
                assert "." not in bahasa.teks(rule.parameter[name]), (rule.kode_temuan, name)


def test_national_page_links_run_record_dictionary_linkage_and_data_docs(outbox):
    root, docs, _ = outbox
    nat = (root / "nasional" / "ringkasan.html").read_text(encoding="utf-8")
    for page in ("proses.html", "kamus.html", "tautan.html"):
        assert f'href="{page}"' in nat and (root / "nasional" / page).is_file()
    assert docs.resolve().as_uri() in nat
    proses = _visible((root / "nasional" / "proses.html").read_text(encoding="utf-8"))
    assert "pemilih/31.parquet" in proses and "dipakai" in proses
    kamus = (root / "nasional" / "kamus.html").read_text(encoding="utf-8")
    assert all(k in kamus for k in load_catalog()) and "prioritas" in kamus
    tautan = _visible((root / "nasional" / "tautan.html").read_text(encoding="utf-8"))
    assert "GANDA_ORANG" in tautan


def test_national_page_says_when_data_docs_are_absent(tmp_path):
    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    settings = resolve_settings(outbox=str(tmp_path / "out"), warehouse=str(tmp_path / "w.duckdb"))
    publish_night(con, N2, settings)
    con.close()
    nat = (tmp_path / "out" / N2.isoformat() / "nasional" / "ringkasan.html").read_text("utf-8")
    assert "belum tersedia untuk malam ini" in _visible(nat) and "file://" not in nat


def test_findings_say_whose_record_with_age_and_never_a_birth_date(outbox):
    root, _, _ = outbox
    nat = pl.read_parquet(root / "nasional" / "temuan.parquet")
    rec = nat.filter(pl.col("id_pemilih").is_not_null())
    assert rec.height and rec["nama"].null_count() == 0 and rec["usia"].min() >= 17
    assert rec["usia"].max() < 120 and not any("lahir" in c for c in nat.columns)
    # ages are whole years on polling day (Pilkada 2024: 27 November 2024)
    assert date(2024, 11, 27).year - rec["usia"].max() > 1900
