"""A nik or nkk shows no digit beyond its masked form, however it is written (review-priv
F1, F5-F8, F12).

Every test reads the masked text the way the privacy audit did: NFKC, every Unicode digit
as ASCII, everything else dropped, forwards and backwards. A nik leaks when digits 7-14
(the part its masked form hides) can be read that way. The shapes are generated per class
(every kind of separator, of digit, of mark), not listed, and the pipeline's own texts are
checked to come out unchanged next to them.
"""

from __future__ import annotations

import html
import itertools
import os
import random
import unicodedata
from pathlib import Path

import duckdb
import polars as pl
import pytest

from coklit_dq.privacy import mask_digit_runs, mask_id
from coklit_dq.publish.data import known_ids, mask_text

NIKS = ["3171034403760001", "3502014502930002", "7301015410960001", "3271011701750003"]

# The pipeline's own texts (keterangan of the rules, pages, logs): none holds a nik
OWN = [
    "TPS 1, 2, 3",
    "TPS desa ini: 1, 10, 11, 12, 13, 14, 15, 16, 17, 2, 3, 4.",
    "ID pemilih 310000000389 muncul 2 kali dalam ekspor: desa 3101011001 TPS 1 baris 28; "
    "desa 3101011001 TPS 1 baris 161.",
    "Akun Pantarlih PL3202011001002-1 (TPS 1) belum pernah login.",
    "aplikasi e-Coklit mencatat 876 tercoklit (PL3101011001001-1 (14), PL3101011001002-1 (146))",
    "sebelum ekspor dibuat 27 Juni 2024 pukul 18.02 WIB",
    "Pemilih bukan TMS di desa 3202011001 turun dari 274 menjadi 232 (15,3%) sejak ekspor "
    "2024-07-01; batas 5,0%.",
    "Data pemilih ini ada pada ekspor 2024-07-01 (TPS 2, status MS) tetapi tidak ada dalam "
    "ekspor 2024-07-02.",
    "NIK 310101********01 juga tercatat pada 1 data pemilih lain: NIK 350201********01, "
    "Desa MEKARHARJO (3502011001), PONOROGO (3502).",
    "Anggota KK 317101********01 di desa ini tersebar di beberapa TPS (TPS 1: 49 orang, "
    "TPS 2: 23 orang); pemilih ini di TPS 1.",
    "desa 3101012001, 3101012002 dan 3101012001/3101012002",
    "terakhir sinkron 2024-06-25 04:18 WIB, ekspor dibuat 2024-07-02 23:50 WIB",
    "run 0b9f4c1e-3c2a-4f7e-9d1b-5a6c7d8e9f01, sha256 "
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
]


def reading(text: str) -> str:
    """The digits a person reads in `text`, in order (html unescaped, NFKC, any script)."""
    text = unicodedata.normalize("NFKC", html.unescape(text))
    return "".join(
        str(unicodedata.digit(c)) for c in text if unicodedata.digit(c, None) is not None
    )


def leaks(text: str, nik: str) -> bool:
    """Whether digits 7-14 of `nik` (or of its reverse) can be read in `text`."""
    digits = reading(text)
    return any(m in digits for m in (nik[6:14], nik[6:14][::-1], nik[::-1][6:14]))


def _chars(categories: str, per_category: int = 4) -> list[str]:
    """A few characters of each category (spread over the Basic Multilingual Plane)."""
    out = []
    for category in categories.split():
        found = [chr(c) for c in range(0x10000) if unicodedata.category(chr(c)) == category]
        step = max(1, len(found) // per_category)
        out += found[::step][:per_category]
    return out


def _no_digits(c: str) -> bool:
    return not any(unicodedata.digit(x, None) is not None for x in unicodedata.normalize("NFKC", c))


# every kind of character that is no letter and no digit: spaces, line and paragraph
# separators, controls, punctuation, symbols, private use, unassigned
SEPARATORS = [
    *(c for c in _chars("Zs Zl Zp Cc Pc Pd Ps Pe Pi Pf Po Sm Sc Sk So Co Cn")
      if _no_digits(c)),
    *("\u2009", "\u3000", "\u202f", "\u3164", "\t", "\n", "\r\n", "|", ":", "\u2013", "\u2014"),
]  # fmt: skip
LIST_MARKS = {",", ";", "\u060c", "\u061b", "\u3001", "\uff0c", "\uff1b", "\ufe50", "\ufe54"}
GROUPINGS = [(4, 4, 4, 4), (6, 6, 4), (2, 2, 2, 6, 4), (8, 8), (1,) * 16, (6, 10)]


def _grouped(nik: str, sizes: tuple[int, ...], sep: str) -> str:
    cuts = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    return sep.join(nik[a:b] for a, b in itertools.pairwise(cuts))


def _free_text(shown: str) -> list[str]:
    """`shown` the ways free text is masked: a region's text, a finding's keterangan."""
    frame = pl.DataFrame({"keterangan": [shown]})
    return [mask_digit_runs(shown, 11), mask_text(frame, "keterangan")["keterangan"][0]]


def test_a_nik_with_any_separator_between_its_groups_is_masked() -> None:
    """F1: any run of up to 8 characters that are not letters or digits, of every class,
    between groups of any size."""
    rng = random.Random(1)
    failures = []
    for sep in SEPARATORS:
        listing = any(m in sep for m in LIST_MARKS)  # "TPS 1, 2, 3" stays a list (see privacy)
        for count in (c for c in (1, 2, 4, 8) if c * len(sep) <= 8):  # privacy.MAX_GAP
            for sizes in GROUPINGS[:2] if listing else GROUPINGS:
                nik = rng.choice(NIKS)
                text = f"catatan: {_grouped(nik, sizes, sep * count)} (dicek)"
                failures += [(sep, count, sizes) for out in _free_text(text) if leaks(out, nik)]
    assert not failures, failures[:20]
    for own in OWN:
        assert _free_text(own)[1] == own


def _digit_forms() -> list[dict[str, str]]:
    """Every decimal digit block (Nd: full-width, Arabic-Indic, math bold, ...), and the
    digits of category No: superscripts, subscripts, circled, dingbats."""
    zeros = [c for c in range(0x110000) if unicodedata.category(chr(c)) == "Nd"
             and unicodedata.decimal(chr(c)) == 0]  # fmt: skip
    forms = [{str(d): chr(z + d) for d in range(10)} for z in zeros]
    for ten in ["⁰¹²³⁴⁵⁶⁷⁸⁹", "₀₁₂₃₄₅₆₇₈₉", "⓪①②③④⑤⑥⑦⑧⑨", "⓿❶❷❸❹❺❻❼❽❾", "🄀⒈⒉⒊⒋⒌⒍⒎⒏⒐"]:
        forms.append({str(d): ten[d] for d in range(10)})
    return forms


def test_a_nik_in_any_digits_with_marks_or_invisible_characters_is_masked() -> None:
    """F1: digits of any script or form, each followed by combining marks (Mn, Me, Mc) or
    format characters (Cf), grouped or not."""
    rng = random.Random(2)
    marks = [*_chars("Mn Me Mc Cf", 3), "\u0301", "\u034f", "\ufe0f", "\ufe0f\u20e3"]
    failures = []
    for form in _digit_forms():
        nik = rng.choice(NIKS)
        written = "".join(form[d] for d in nik)
        for shape in (written, _grouped(written, (4, 4, 4, 4), " "), f"x{written}x"):
            failures += [shape for out in _free_text(f"NIK {shape}") if leaks(out, nik)]
    for mark in marks:
        nik = rng.choice(NIKS)
        for shape in ("".join(d + mark for d in nik), _grouped(nik, (4, 4, 4, 4), mark + " ")):
            failures += [repr(shape) for out in _free_text(f"nama {shape}") if leaks(out, nik)]
    assert not failures, failures[:20]


def test_a_nik_with_one_letter_between_its_groups_is_masked() -> None:
    """F1: one letter of any script between groups is a separator (Indonesian has no
    one-letter words); two letters are a word and part numbers (the pipeline's texts)."""
    rng = random.Random(3)
    letters = [*_chars("Lu Ll Lo Lm Lt", 5), "x", "X", "a", "O", "I"]
    failures = []
    for letter in letters:
        for sep in (letter, f" {letter} ", f"-{letter}-"):
            nik = rng.choice(NIKS)
            text = f"catatan {_grouped(nik, (4, 4, 4, 4), sep)}."
            failures += [(letter, sep) for out in _free_text(text) if leaks(out, nik)]
    assert not failures, failures[:20]
    for own in OWN:
        assert _free_text(own)[1] == own


@pytest.mark.parametrize("size", [13, 14, 15])
def test_13_to_15_digits_in_free_text_are_masked_always(size: int) -> None:
    """F1: no id of the app has 13-15 digits, so such a run is a nik cut short (a 12-digit
    id_pemilih and a Pantarlih account stay: OWN)."""
    for nik in NIKS:
        for part in (nik[:size], nik[-size:]):
            for out in _free_text(f"NIK {part} salah"):
                assert part not in out and not leaks(out, nik)
                assert reading(out) == ""  # a part of a nik: which digits to keep is unknown
    for nik in NIKS:  # in groups, 15 (no date, time or phone number has 15)
        for sep in (" ", ".", "-", ":"):
            shape = sep.join(nik[:15][i : i + 4] for i in range(0, 15, 4))
            assert all(reading(out) == "" for out in _free_text(f"NIK {shape} salah"))
    for own in ("telepon +62 812 3456 7890", "sinkron 2024-06-25 04:18:22 WIB"):
        assert mask_digit_runs(own, 11) == own


def _warehouse(niks: list[str], nkks: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("CREATE TABLE pemilih (nik VARCHAR, nkk VARCHAR)")
    con.executemany("INSERT INTO pemilih VALUES (?, ?)", list(zip(niks, nkks, strict=True)))
    return con


def _masked(frame: pl.DataFrame, con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """`frame` masked as Night.load does: the niks held that its texts mention, then every
    text column."""
    secrets = known_ids(con, [frame[c] for c in frame.columns])
    for c in frame.columns:
        frame = mask_text(frame, c, secrets=secrets)
    return frame


def test_a_part_of_a_held_nik_or_nkk_is_masked_in_free_text() -> None:
    """F1: 11-15 first or last digits of a nik or nkk we hold, plain or in groups."""
    nkk = "3171030101200005"
    con = _warehouse(NIKS, [nkk] * len(NIKS))
    texts, planted = [], []
    for nik in [*NIKS, nkk]:
        for size in (11, 12, 15):
            for part in (nik[:size], nik[-size:]):
                texts += [
                    f"NIK {part} salah",
                    f"NIK {' '.join(part[i : i + 4] for i in range(0, size, 4))}",
                ]
                planted += [nik, nik]
    shown = _masked(pl.DataFrame({"keterangan": texts + OWN}), con)["keterangan"].to_list()
    for text, out, nik in zip(texts, shown, planted, strict=False):
        assert not leaks(out, nik) and reading(out) == "", (text, out)
    assert shown[len(texts) :] == OWN


def test_a_held_nik_anywhere_in_an_id_is_masked_and_other_ids_stay() -> None:
    """F5: a held nik or nkk as 16 digits in a row of an id's digits (nik + "7", full-width,
    grouped, superscript, combining) and a 15-digit prefix; a 12- or 16-digit id that is no
    nik we hold stays as exported (a PPS finds the record by it)."""
    fw = str.maketrans("0123456789", "０１２３４５６７８９")
    sup = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
    con = _warehouse(NIKS, [n[:6] + "0101200005" for n in NIKS])
    planted = []
    for nik in NIKS:
        planted += [
            (nik + "7", nik), ("7" + nik, nik), (nik.translate(fw), nik), (nik.translate(sup), nik),
            ("-".join(nik[i : i + 4] for i in range(0, 16, 4)), nik), (f"PL {nik}17", nik),
            ("".join(d + "\u0301" for d in nik), nik), (nik[:15], nik), (f"KK-{nik}", nik),
        ]  # fmt: skip
    kept = ["310000000389", "9000000000000017", "PL3101011001001-1", "KK-3101011001-d707983695c1",
            "GANDA-31-0001", "P31-0000012"]  # fmt: skip
    for column in ("id_pemilih", "id_pantarlih", "id_kelompok"):
        frame = pl.DataFrame({column: [v for v, _ in planted] + kept})
        shown = _masked(frame, con)[column].to_list()
        for (value, nik), out in zip(planted, shown, strict=False):
            assert not leaks(out, nik), (column, value, out)
        assert shown[len(planted) :] == kept


def test_digits_in_names_addresses_rt_rw_are_masked_so_a_split_nik_shows_nothing() -> None:
    """F7: nama and tempat_lahir mask every run of 5 digits, alamat of 6, rt and rw of 4, so
    a nik split over the fields of one row shows no digit beyond its masked form, read
    across the row; the values these columns hold stay."""
    con = _warehouse(["1" * 16], ["2" * 16])  # none of the planted niks is held
    rows = []
    for nik in NIKS:
        for cut in range(4, 13):
            rows += [
                ("ANI " + nik[:cut], "JAKARTA", nik[cut:] + " JL MAWAR", "001", "002"),
                ("ANI", "KOTA " + nik[:6], "JL " + nik[14:], nik[6:10], nik[10:14]),
                ("BUDI", "BOGOR", "NO " + nik[cut:], "003", nik[:cut]),
            ]
    columns = ["nama", "tempat_lahir", "alamat", "rt", "rw"]
    frame = pl.DataFrame(rows, schema=columns, orient="row")
    shown = _masked(frame, con)
    niks = [nik for nik in NIKS for _ in range(9 * 3)]
    for nik, row, out in zip(niks, frame.iter_rows(), shown.iter_rows(), strict=True):
        assert not leaks(" ".join(out), nik), (row, out)
    own = pl.DataFrame({
        "nama": ["SITI AMINAH", "I GUSTI AYU", "MUHAMMAD ALI 2"],
        "tempat_lahir": ["JAKARTA", "KAB. BOGOR", "SURABAYA"],
        "alamat": ["JL. MAWAR NO. 12 RT 003/004, 12345", "DUSUN II BLOK C-7", "PERUM GRIYA 2 B 14"],
        "rt": ["001", "012", "3"], "rw": ["002", "010", "04"],
    })  # fmt: skip
    assert _masked(own, con).equals(own)


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("\u202e", "\u202c"), ("\u202b", "\u202c"), ("\u2067", "\u2069"), ("\u202d\u202e", "")],
)
def test_a_nik_under_a_bidi_override_shows_no_digit_beyond_its_mask(opening, closing) -> None:
    """F8: RLO + the reversed nik + PDF shows the nik; masked in the order it is held, the
    reversed reading would show its digits 11-14. Neither reading may."""
    for nik in NIKS:
        for held in (nik[::-1], nik, " ".join(nik[::-1][i : i + 4] for i in range(0, 16, 4))):
            for out in _free_text(f"nama {opening}{held}{closing} x"):
                digits = reading(out)
                assert len(digits) <= 8 and not leaks(out, nik), (held, out)
                hidden = (nik[6:14], nik[::-1][2:10])  # forwards and backwards
                assert not any(h[i : i + 3] in digits for h in hidden for i in range(6))


def test_answers_mask_niks_in_any_shape_and_13_to_15_digits_in_ids() -> None:
    """F6: what a region wrote or sent (alasan, set-aside ids) is masked like a finding's
    text: every shape, and 13-15 digits in an id (12 stay: the region finds the row)."""
    from coklit_dq.tanggapan.publish import _safe_unit, safe_text

    rng = random.Random(6)
    for sep in (":", "|", "x", "\t", "    ", "\u2013"):
        nik = rng.choice(NIKS)
        text = _grouped(nik, (4, 4, 4, 4), sep)
        assert not leaks(safe_text(f"sudah benar {text}"), nik)
        assert not leaks(_safe_unit(text), nik)
    for size in (13, 14, 15):
        assert reading(_safe_unit(NIKS[0][:size])) == ""
    assert _safe_unit("310000000389") == "310000000389"
    assert _safe_unit("PL3101011001001-1") == "PL3101011001001-1"
    # the ids of a finding a region asks help for, as the province and national pages list
    # them: as the warehouse holds them (an export that used a nik as an id)
    from datetime import date

    from coklit_dq.tanggapan.publish import TanggapanNight

    night = TanggapanNight.empty(date(2024, 7, 2))
    fw = NIKS[0].translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    row = {"kode_kab": "3101", "kunci": "k", "tanda": "PERLU_BANTUAN", "id_pemilih": fw,
           "id_pantarlih": f"PL {NIKS[1]}", "alasan": f"tolong {NIKS[2][:15]}"}  # fmt: skip
    night.marks = pl.concat([night.marks, pl.DataFrame([row])], how="diagonal_relaxed")
    (shown,) = night._rows("PERLU_BANTUAN", pl.lit(True))
    for nik, column in zip(NIKS, ("id_pemilih", "id_pantarlih", "alasan"), strict=False):
        assert not leaks(shown[column], nik), shown


def test_polars_finds_every_row_the_masker_changes() -> None:
    """mask_text rewrites only the rows polars picks: on a mix of every shape above and
    the pipeline's texts it must give what the masker gives on every row."""
    from coklit_dq.privacy import HeldIds, mask_niks
    from coklit_dq.publish.data import text_rule

    rng = random.Random(7)
    held = HeldIds(NIKS[:2])
    pieces = [*OWN, *SEPARATORS, "x", "ab", " ", ", ", "PL", "\u202e", "\u0301", "７", "³"]
    values = []
    for _ in range(3000):
        nik = rng.choice(NIKS)
        grouped = _grouped(nik, rng.choice(GROUPINGS), rng.choice(SEPARATORS))
        cut = rng.choice(SEPARATORS).join([nik[:4], nik[4:8], nik[8:12], nik[12:15]])
        shape = rng.choice([nik, nik[:15], nik[:12], nik[-11:], nik + "9", grouped, cut])
        values.append("".join(rng.choice([*pieces, shape]) for _ in range(rng.randint(1, 4))))
    for column in ("keterangan", "nama", "alamat", "rt", "id_pemilih"):
        for secrets in (None, held):
            shown = mask_text(pl.DataFrame({column: values}), column, secrets=secrets)[column]
            rule = text_rule(column)
            expected = [mask_niks(v, rule, secrets) for v in values]
            assert shown.to_list() == expected, column


def test_the_published_outbox_is_never_writable_by_others() -> None:
    """F12: whatever the operator's umask, a published night gets no group or other write
    permission (it holds names and addresses; a rewritten list would be mailed)."""
    from coklit_dq.privacy import shared_modes

    old = os.umask(0o000)
    try:
        assert shared_modes() == (0o755, 0o644)
        os.umask(0o027)
        assert shared_modes() == (0o750, 0o640)  # a stricter umask stays
    finally:
        os.umask(old)


def test_no_shape_of_a_planted_nik_is_readable_in_any_published_file(tmp_path: Path) -> None:
    """The way it is used: findings whose texts carry held niks in the shapes above (and
    split over nama and alamat), published; no file shows digits 7-14 of any of them."""
    from test_publish_support import N2, file_text, two_night_warehouse

    from coklit_dq.config import resolve_settings
    from coklit_dq.publish import publish_night

    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    niks = [r[0] for r in con.execute(
        "SELECT nik FROM pemilih WHERE tanggal_ekspor = ? AND length(nik) = 16 "
        "ORDER BY hash(nik) LIMIT 12", [N2]).fetchall()]  # fmt: skip
    fw = str.maketrans("0123456789", "０１２３４５６７８９")
    shapes = [
        lambda n: "\u2009".join(n[i : i + 4] for i in range(0, 16, 4)),
        lambda n: "x".join(n[i : i + 4] for i in range(0, 16, 4)),
        lambda n: n.translate(fw),
        lambda n: "".join(d + "\ufe0f\u20e3" for d in n),
        lambda n: "\u202e" + n[::-1] + "\u202c",
        lambda n: n[:15],
    ]
    for k, (nik, shape) in enumerate(zip(niks, shapes * 2, strict=False)):
        con.execute(
            """
            INSERT INTO temuan SELECT * REPLACE (? AS keterangan, ? AS nama, ? AS alamat,
                ? AS rt, ? AS id_pemilih, ? AS kunci)
            FROM temuan WHERE tanggal_ekspor = ? AND kode_kab = '3101'
              AND kode_temuan = 'NIK_TIDAK_VALID' LIMIT 1
            """,
            [f"catatan: {shape(nik)}", f"ANI {nik[:8]}", f"{nik[8:]} JL MAWAR", shape(nik),
             nik + "7" if k % 2 else nik.translate(fw), f"X|{k}", N2],
        )  # fmt: skip
    out = tmp_path / "outbox"
    settings = resolve_settings(outbox=str(out), warehouse=str(tmp_path / "w.duckdb"))
    publish_night(con, N2, settings)
    con.close()
    files = [p for p in (out / N2.isoformat()).rglob("*") if p.is_file()]
    assert {p.suffix for p in files} >= {".csv", ".xlsx", ".html", ".parquet"}
    found = {(str(p), nik) for p in files for nik in niks if leaks(file_text(p), nik)}
    assert not found
    kab = pl.read_csv(out / N2.isoformat() / "31" / "3101" / "temuan.csv", infer_schema=False)
    assert mask_id(niks[1]) + "7" in kab["id_pemilih"].to_list()  # the nik, masked, in the id
