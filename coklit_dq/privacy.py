"""Masking of identifiers shown to regions (reports-v1: first 6 and last 2 digits).

One place for the rule, in Python and as a DuckDB macro, so every writer masks
the same way. Also the group ids derived from a nik or nkk (id_kelompok of
GANDA_NIK, KK_TERPISAH): a plain hash of a nik could be reversed by trying the
10^8 niks that fit its masked form, so they are keyed with a secret the
warehouse keeps (`kelompok_id(x)`), stable from night to night.
"""

from __future__ import annotations

import bisect
import functools
import os
import re
import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb

KEEP_HEAD = 6
KEEP_TAIL = 2
MASK_CHAR = "*"


def mask_id(value: str | None, *, enabled: bool = True) -> str | None:
    """Mask a nik/nkk to its first 6 and last 2 characters.

    Values too short to keep both ends are masked whole, so a short junk value
    never leaks more than a well-formed one would.
    """
    if value is None or not enabled:
        return value
    n = len(value)
    if n <= KEEP_HEAD + KEEP_TAIL:
        return MASK_CHAR * n
    return value[:KEEP_HEAD] + MASK_CHAR * (n - KEEP_HEAD - KEEP_TAIL) + value[-KEEP_TAIL:]


# Unicode's "format" characters (category Cf): invisible, yet they split a run of digits
# ("3101<ZWSP>0104<ZWSP>...") and reorder what a reader sees (bidi overrides). Free text
# loses them before it is masked and shown. One class of literal characters, for Python's
# re and polars' regex alike (tests/test_privacy_scan.py checks it against unicodedata).
_CF_RANGES = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD),
    (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)  # fmt: skip
INVISIBLE_CHARS = "".join(chr(a) if a == b else f"{chr(a)}-{chr(b)}" for a, b in _CF_RANGES)
INVISIBLE = f"[{INVISIBLE_CHARS}]"
_INVISIBLE_RE = re.compile(INVISIBLE)


# Text where an invisible character touches a digit: the only place one can hide a nik.
# Elsewhere (a name's zero-width joiner) the text is left as exported.
NEAR_DIGIT = f"\\d{INVISIBLE}|{INVISIBLE}\\d"
_NEAR_DIGIT_RE = re.compile(NEAR_DIGIT)


def drop_invisible(text: str) -> str:
    """`text` without its invisible characters when one of them touches a digit."""
    return _INVISIBLE_RE.sub("", text) if _NEAR_DIGIT_RE.search(text) else text


# --- niks and nkks in free text -----------------------------------------------------------
#
# The masker reads text the way a person does, character by character (`_kind`):
#   d  a digit: any character whose NFKC form holds one (ASCII, full-width, Arabic-Indic,
#      math bold, superscripts and subscripts, circled digits, "①" ... "⑩" is two digits);
#   l  a letter (and numerals that are no digits: Roman numerals);
#   x  nothing: combining marks (Mn, Mc, Me: U+0301, CGJ U+034F, VS16 U+FE0F, keycap U+20E3)
#      and format characters (Cf). They draw no character of their own: "3", U+0301, "5"
#      is "35";
#   s  a space (any Unicode space, tab, line break, the Hangul fillers, which Unicode calls
#      letters but draw blank);  ,  a list mark (comma, semicolon);  -  any other character.
# Digits with only "nothing" between them are a group. Groups are one number (a chain)
# across a gap a reader skips (`_chains`): up to MAX_GAP characters that are not letters or
# digits, of any kind ("3101:0148", "3101 -- 0115", "3101\t0142", "(3202)(0164)"); and
# across ONE letter among them ("3501x0151x0282x0001"). One letter is safe to skip:
# Indonesian has no one-letter words, so a lone letter between numbers is a separator, a
# unit or a house-number suffix, and joining them masks at worst a number of 16 digits.
# Two letters are a word ("dari 274 ke 232") and part the numbers. Not joined:
#   - groups across a list mark unless both have LIST_GROUP digits or more: "TPS 1, 2, 3"
#     and "15,3%" are the pipeline's own lists and decimals, "3101,0148,..." is a nik;
#   - across a space, the digits of an identifier word, one where two letters touch digits
#     (PL3101011001001-1 (14): the account and its count are two numbers);
#   - on a letter inside a hex digest or a UUID (logs quote run ids): there it is a digit.
# What is masked of a chain (`_ranges`): a nik or nkk we hold (`HeldIds`) anywhere in its
# digits, and a part of one (14 or 15 of its first or last digits; 11-13 when the chain is
# all of them); a window of groups of 16 digits in all (a nik written in groups) or 15,
# or all of more digits in groups of at most 8 (a nik glued to more); a run (one group) of
# 16 digits or more, or of `DigitRule.min_run`. A nik, a held value or a run of 16+ is shown the
# reports-v1 way (mask_id); any other part of a nik shows no digit, since which of its
# digits its masked form would keep cannot be told. The span is rewritten as ASCII digits
# and "*", its separators, letters and marks dropped.
# Bidi controls (RLO, RLE, isolates, the marks) let a text show its digits in another order
# than it holds them ("\u202e1000670440301713\u202c" shows a nik reversed): in a text
# with one, a masked span shows no digit, so neither reading order shows one beyond a mask.
NIK_DIGITS = 16
MAX_GAP = 8  # characters between two groups of one number: a reader still joins them
LIST_GROUP = 4  # digits on both sides of a comma that make it part of a number
PART_MIN, PART_ANYWHERE = 11, 14  # digits of a held nik that are a part of it (see above)
GROUPED_MIN = NIK_DIGITS - 1  # fewest digits of a number in groups masked (without held)

_BIDI_RE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_FILLERS = "\u115f\u1160\u3164\uffa0"
_LIST_MARKS = ",;\u060c\u061b\u3001"
_GROUP_RE = re.compile("d[dx]*")
_HEX_RE = re.compile(
    r"(?i)(?<![0-9a-z])(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{32,})(?![0-9a-z])"
)


def _nfkc_digits(c: str) -> str:
    return "".join(
        str(unicodedata.digit(ch))
        for ch in unicodedata.normalize("NFKC", c)
        if unicodedata.digit(ch, None) is not None
    )


def _kind(c: str) -> str:
    """What a reader takes `c` for: one of "dlxs,-" (see above)."""
    if c.isascii():
        if c.isalnum():
            return "d" if c.isdigit() else "l"
        return "," if c in ",;" else "s" if c.isspace() else "-"
    category = unicodedata.category(c)
    if category[0] == "M" or category == "Cf":
        return "x"
    if _nfkc_digits(c):
        return "d"
    if c in _FILLERS or category[0] == "Z" or c.isspace():
        return "s"
    if category[0] == "L" or category in ("Nl", "No"):
        return "l"
    if c in _LIST_MARKS or unicodedata.normalize("NFKC", c) in (",", ";"):
        return ","
    return "-"


class _Table(dict[int, str | None]):
    """A str.translate table filled as characters are met (Unicode is large)."""

    def __init__(self, fn: Callable[[str], str | None]) -> None:
        super().__init__()
        self.fn = fn

    def __missing__(self, code: int) -> str | None:
        value = self[code] = self.fn(chr(code))
        return value


_KINDS = _Table(_kind)
_DIGITS = _Table(lambda c: _nfkc_digits(c) if _kind(c) == "d" else None)


@dataclass(frozen=True)
class DigitRule:
    """What else than niks (see above) a text's digits may hold, so what is masked too."""

    min_run: int | None = None  # a run of this many digits or more is a nik's part
    glued: bool = True  # ... also when two letters touch it (an id like PL3101011001001-1)
    ids: bool = False  # an identifier: only niks/nkks held, in all of its digits in a row


FREE_TEXT = DigitRule(13, glued=False)  # no id of the app has 13-15 digits; 12 stay
IDENTIFIER = DigitRule(ids=True)


class HeldIds(frozenset[str]):
    """niks and nkks of records we hold (the ones a night's texts mention), and their parts:
    the first and last 11-15 digits (the masker tells a nik cut short by them)."""

    @functools.cached_property
    def parts(self) -> frozenset[str]:
        cuts = range(PART_MIN, NIK_DIGITS)
        return frozenset(p for h in self for n in cuts if n < len(h) for p in (h[:n], h[-n:]))

    @functools.cached_property
    def triggers(self) -> list[str]:
        """Text holding none of these in its digits holds no held nik nor part of one."""
        return sorted(
            {p for h in self if len(h) >= PART_MIN for p in (h[:PART_MIN], h[-PART_MIN:])}
        )


_Group = tuple[int, int, str, bool]  # start, end (characters), digits, touched by 2 letters


def _letters(cls: str, i: int, step: int) -> int:
    """How many letters (up to 2) follow position i of `cls` in direction `step`."""
    n = 0
    while 0 <= i < len(cls) and n < 2:
        if cls[i] == "l":
            n += 1
        elif cls[i] != "x":
            break
        i += step
    return n


def _group(text: str, cls: str, s: int, e: int) -> _Group:
    part, before, after = text[s:e], cls[max(s - 2, 0) : s], cls[e : e + 2]
    if "x" in before + after:
        glued = _letters(cls, s - 1, -1) >= 2 or _letters(cls, e, 1) >= 2
    else:
        glued = "ll" in (before, after)
    return s, e, part if part.isascii() else part.translate(_DIGITS), glued


def _chains(
    text: str, cls: str, rule: DigitRule, span: tuple[int, int], hexes: Callable[[], list[int]]
) -> list[list[_Group]]:
    """The numbers of text[span] as chains of digit groups (see above; `cls`: its kinds;
    `hexes`: where the hex digests and UUIDs of `text` start and end, in turn)."""
    groups = [_group(text, cls, *m.span()) for m in _GROUP_RE.finditer(cls, *span)]
    if rule.ids or len(groups) < 2:  # an id's digits are read in a row, whatever parts them
        return [groups] if groups else []
    words, id_words = [0] * len(groups), set()
    if any(g[3] for g in groups):
        for k in range(1, len(groups)):
            words[k] = words[k - 1] + ("s" in cls[groups[k - 1][1] : groups[k][0]])
        id_words = {w for w, g in zip(words, groups, strict=True) if g[3]}
    chains, chain = [], [groups[0]]
    for k in range(1, len(groups)):
        a, b = groups[k - 1], groups[k]
        gap = cls[a[1] : b[0]]
        letters = gap.count("l")
        joins = (
            letters <= 1
            and len(gap) - gap.count("x") <= MAX_GAP
            and ("," not in gap or min(len(a[2]), len(b[2])) >= LIST_GROUP)
            and not (id_words and "s" in gap and {words[k - 1], words[k]} & id_words)
        )
        if joins and letters:  # inside a digest: an odd count of its bounds before it
            joins = bisect.bisect_right(hexes(), a[1] + gap.index("l")) % 2 == 0
        if joins:
            chain.append(b)
        else:
            chains.append(chain)
            chain = [b]
    chains.append(chain)
    return chains


_Range = tuple[int, int, bool]  # start, end (digits of a chain), shown as a nik (mask_id)


def _ranges(chain: list[_Group], rule: DigitRule, held: HeldIds | None) -> list[_Range]:
    """What to mask of one chain (see above), as ranges of its digits."""
    sizes = [len(g[2]) for g in chain]
    digits = "".join(g[2] for g in chain)
    n = len(digits)
    out: list[_Range] = []
    if held:  # a held nik shows its masked form; a part of one inside it is no part
        out += [(0, n, True)] if digits in held else []
        out += [(i, i + NIK_DIGITS, True) for i in range(n - NIK_DIGITS + 1)
                if digits[i : i + NIK_DIGITS] in held]  # fmt: skip
        niks = list(out)
        for size in range(PART_ANYWHERE, NIK_DIGITS):
            out += [(i, i + size, False) for i in range(n - size + 1)
                    if digits[i : i + size] in held.parts
                    and not any(a <= i and i + size <= b for a, b, _ in niks)]  # fmt: skip
        alone = not (rule.ids or chain[0][3] or chain[-1][3])  # an id keeps its 12 digits
        if PART_MIN <= n < PART_ANYWHERE and alone and not niks and digits in held.parts:
            out.append((0, n, False))
    if rule.ids:
        return list(dict.fromkeys(out))
    runs, start = [], 0
    for (_, _, _, glued), size in zip(chain, sizes, strict=True):
        if size >= NIK_DIGITS:
            out.append((start, start + size, True))
        elif rule.min_run is not None and size >= rule.min_run and (rule.glued or not glued):
            runs.append((start, start + size))
        start += size
    start = 0
    for a in range(len(chain)):  # consecutive groups of 16 digits in all: a nik in groups
        total = sizes[a]  # (15: a nik that lost a digit, no date, time or phone has 15)
        for b in range(a + 1, len(chain)):
            total += sizes[b]
            if total == GROUPED_MIN:
                runs.append((start, start + total))
            elif total >= NIK_DIGITS:
                out += [(start, start + total, True)] if total == NIK_DIGITS else []
                break
        start += sizes[a]
    if len(chain) > 1 and n > NIK_DIGITS and max(sizes) <= 8:
        out.append((0, n, True))
    nik = bytearray(n)  # a run inside a nik is part of it: the nik's masked form is shown
    for i, j, as_nik in out:
        nik[i:j] = b"\x01" * (j - i) if as_nik else nik[i:j]
    out += [(i, j, False) for i, j in runs if not all(nik[i:j])]
    return list(dict.fromkeys(out))


def _digit_chars(text: str, cls: str, chain: list[_Group]) -> list[tuple[str, int, int]]:
    """Per digit of a chain: it, and the span of the character that shows it (with its marks)."""
    at: list[tuple[str, int, int]] = []
    for s, e, digits, _ in chain:
        if text[s:e].isascii():
            at += [(d, c, c + 1) for c, d in enumerate(digits, s)]
            continue
        for c in range(s, e):
            end = c + 1
            while end < e and cls[end] == "x":
                end += 1
            at += [(d, c, end) for d in _DIGITS[ord(text[c])] or ""]
    return at


def _rewrite(
    text: str, cls: str, chain: list[_Group], ranges: list[_Range], bidi: bool
) -> list[tuple[int, int, str]]:
    """(start, end, replacement) of the characters a chain's masked digits span."""
    if len(ranges) == 1 and all(text[s:e].isascii() for s, e, _, _ in chain):
        i, j, as_nik = ranges[0]  # most often: one span, a character per digit
        digits = "".join(g[2] for g in chain)[i:j]
        shown = mask_id(digits) if as_nik and not bidi else MASK_CHAR * (j - i)
        offset, start, end = 0, 0, 0
        for s, e, _, _ in chain:
            if offset <= i < offset + e - s:
                start = s + i - offset
            if offset < j <= offset + e - s:
                end = s + j - offset
            offset += e - s
        return [(start, end, shown or "")]
    hidden: dict[int, bool] = {}  # masked digits, hidden when any range hides them
    for i, j, as_nik in ranges:
        ends = as_nik and not bidi and j - i > KEEP_HEAD + KEEP_TAIL
        for p in range(i, j):
            hide = not (ends and (p - i < KEEP_HEAD or j - p <= KEEP_TAIL))
            hidden[p] = hidden.get(p, False) or hide
    at = _digit_chars(text, cls, chain)
    spans: list[tuple[int, int]] = []  # first and last digit of consecutive masked digits
    for p in sorted(hidden):
        if spans and (spans[-1][1] == p - 1 or at[p][1] < at[spans[-1][1]][2]):
            spans[-1] = (spans[-1][0], p)
        else:
            spans.append((p, p))
    out = []
    for first, last in spans:
        a, b = first, last
        while a > 0 and at[a - 1][1] == at[a][1]:  # all digits of its first character
            a -= 1
        while b + 1 < len(at) and at[b + 1][1] == at[b][1]:
            b += 1
        new = "".join(MASK_CHAR if hidden.get(q) else at[q][0] for q in range(a, b + 1))
        out.append((at[a][1], at[b][2], new))
    return out


# Stretches of digit groups parted by no two letters: no number spans two of them
_STRETCH_RE = re.compile(r"d[dx]*(?:(?:[-s,][-s,x]*(?:l[-s,x]*)?|l[-s,x]*)d[dx]*)*")


def _numbers(text: str, cls: str, rule: DigitRule, least: int) -> Iterator[list[_Group]]:
    """The chains of `text` (`_chains`) of `least` digits or more."""
    stretches = [(0, len(cls))] if rule.ids else [m.span() for m in _STRETCH_RE.finditer(cls)]
    plain = text.isascii()
    hexes = functools.cache(lambda: [i for m in _HEX_RE.finditer(text) for i in m.span()])
    for lo, hi in stretches:
        if (cls.count("d", lo, hi) if plain else len(text[lo:hi].translate(_DIGITS))) >= least:
            for chain in _chains(text, cls, rule, (lo, hi), hexes):
                if sum(len(g[2]) for g in chain) >= least:
                    yield chain


def mask_niks(text: str, rule: DigitRule = FREE_TEXT, held: HeldIds | None = None) -> str:
    """`text` with every nik/nkk in it masked, however it is written (see above); invisible
    format characters next to a digit dropped."""
    if not text or (rule.ids and not held):
        return text if text.isascii() else drop_invisible(text)
    bidi = False
    if not text.isascii():
        bidi = _BIDI_RE.search(text) is not None
        text = drop_invisible(text)
    cls = text.translate(_KINDS)
    least = min(rule.min_run or NIK_DIGITS, PART_MIN if held else NIK_DIGITS)
    spans = [
        span
        for chain in _numbers(text, cls, rule, least)
        if (ranges := _ranges(chain, rule, held))
        for span in _rewrite(text, cls, chain, ranges, bidi)
    ]
    if not spans:
        return text
    out, done = [], 0
    for start, end, new in sorted(spans):
        out += [text[done:start], new]
        done = end
    return "".join([*out, text[done:]])


def digit_chains(text: str, rule: DigitRule = FREE_TEXT) -> list[str]:
    """The digits of every number of `text` (see above) of 11 digits or more: what may be
    a nik or nkk, or a part of one."""
    text = text if text.isascii() else drop_invisible(text)
    cls = text.translate(_KINDS)
    return ["".join(g[2] for g in chain) for chain in _numbers(text, cls, rule, PART_MIN)]


def mask_digit_runs(text: str, min_run: int) -> str:
    """Free text with every nik/nkk masked (mask_niks) and every run of `min_run` digits or
    more (a nik or a part of one, in text with no ids to keep)."""
    return mask_niks(text, DigitRule(min_run))


# The same for polars, which finds the rows the masker must read: its regex has no
# look-around, and the masker reads every row holding a character beyond ASCII itself, so
# these read ASCII only. CHAIN: a number of two groups or more (with two letters touching
# it, if any: then its digits are an id's); chain_of(n): one of n digits or more joined by
# no list mark; LIST_JOIN: groups joined by one; run_of: a run a DigitRule masks.
NON_ASCII = r"[^\x00-\x7F]"


def _gap(sep: str) -> str:
    return rf"(?:{sep}{{1,{MAX_GAP}}}|{sep}{{0,{MAX_GAP - 1}}}[A-Za-z]{sep}{{0,{MAX_GAP - 1}}})"


_SEP, _SEP_NO_LIST = r"[\x00-/:-@\[-`{-\x7F]", r"[\x00-+\--/:<-@\[-`{-\x7F]"
CHAIN = rf"(?:[A-Za-z]{{2}})?[0-9]+(?:{_gap(_SEP)}[0-9]+)+(?:[A-Za-z]{{2}})?"
_NEAR = f"[^0-9]{{0,{MAX_GAP - 1}}}"
LIST_JOIN = f"[0-9]{{{LIST_GROUP}}}{_NEAR}[,;]{_NEAR}[0-9]{{{LIST_GROUP}}}"


def chain_of(n: int) -> str:
    return rf"[0-9](?:{_gap(_SEP_NO_LIST)}?[0-9]){{{n - 1}}}"


def run_of(rule: DigitRule) -> str:
    n = min(rule.min_run or NIK_DIGITS, NIK_DIGITS)
    if rule.glued or n == NIK_DIGITS:
        return f"[0-9]{{{n},}}"
    alone = rf"(?:^|[^A-Za-z0-9])[A-Za-z]?[0-9]{{{n},}}(?:[A-Za-z](?:$|[^A-Za-z])|[^A-Za-z0-9]|$)"
    return f"[0-9]{{{NIK_DIGITS},}}|{alone}"


# Columns of the export whose every value is personal data: never quoted in a log line,
# an exception, a reason or a run record (only the column and what was expected).
PERSONAL_COLUMNS = frozenset({"nik", "nkk", "nama", "tempat_lahir", "tanggal_lahir", "alamat"})


def describe_personal(column: str, value: object) -> str | None:
    """What a reason may say about a value of a personal column: its kind, never its text."""
    if value is None:
        return None
    return f"a value of {len(str(value))} character(s) in {column} (not shown: personal data)"


# Where a library's error quotes a value or a record (DuckDB: "Original Line: <record>",
# which may run over several lines; "Could not convert string '<value>' to ..."; the
# string of a Parquet file that is not UTF-8) the quoted part is replaced by "...".
_RECORD_LINE = re.compile(
    r"Original Line:.*?(?=\n(?:Expected Number|Value with|Invalid unicode|Maximum line|Possible "
    r"fix|Possible Solution|  file = )|\n\s*\n|\Z)",
    re.DOTALL,
)
_QUOTED_VALUE = re.compile(r"""(string|value|Value|line|row)\s+(['"])(?:(?!\2)[^\n]){0,500}\2""")


# Characters that break a line or a header: C0 controls, DEL, NEL and the line separators
LINE_BREAKERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")


def one_line(text: str) -> str:
    """A value from outside (a file name, a reason quoting one) safe on one log or terminal
    line: control characters and line separators escaped (a newline in a file name never
    forges a line of its own)."""
    return LINE_BREAKERS.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def scrub(text: str | None) -> str | None:
    """Free text made safe to log or keep: every run of 12 or more digits (a nik, an nkk)
    and every nik written in groups masked, and values/records a library error quotes
    (see `_RECORD_LINE`, `_QUOTED_VALUE`) replaced by "...".

    For text that may quote a record: error messages, logs, reasons, task failures."""
    if text is None:
        return None
    text = _RECORD_LINE.sub("Original Line: ...", text)
    text = _QUOTED_VALUE.sub(lambda m: f"{m.group(1)} {m.group(2)}...{m.group(2)}", text)
    return mask_digit_runs(text, 12)


def register_mask_macro(con: duckdb.DuckDBPyConnection) -> None:
    """Define `mask_id(x)` in DuckDB with the same behaviour as :func:`mask_id`.

    A TEMP macro: it lives with the connection, so read-only warehouses can use it too.
    """
    con.execute(
        f"""
        CREATE OR REPLACE TEMP MACRO mask_id(x) AS
          CASE
            WHEN x IS NULL THEN NULL
            WHEN length(x) <= {KEEP_HEAD + KEEP_TAIL} THEN repeat('{MASK_CHAR}', length(x))
            ELSE left(x, {KEEP_HEAD})
                 || repeat('{MASK_CHAR}', length(x) - {KEEP_HEAD + KEEP_TAIL})
                 || right(x, {KEEP_TAIL})
          END
        """
    )


GROUP_ID_HEX = 12


def new_group_key() -> str:
    return secrets.token_hex(32)


def register_group_macro(con: duckdb.DuckDBPyConnection, key: str) -> None:
    """Define `kelompok_id(x)`: a short keyed digest of x (sha256 of key + x)."""
    if not key.isalnum():
        raise ValueError("the group key must be alphanumeric")
    con.execute(
        f"CREATE OR REPLACE TEMP MACRO kelompok_id(x) AS "
        f"CASE WHEN x IS NULL THEN NULL ELSE left(sha256('{key}' || x), {GROUP_ID_HEX}) END"
    )


# --- files the pipeline creates ----------------------------------------------------------

_UMASK_LOCK = threading.Lock()
_OUTER_UMASK: list[int] = []  # the umask before the outermost owner_only_files block


@contextmanager
def owner_only_files() -> Iterator[None]:
    """Every file and folder created in the block (by any thread of the process: DuckDB's
    WAL, which it deletes at each checkpoint and creates again, its temp/spill folder, the
    quarantine, Data Docs, the outbox's staging) is owner-only: umask 077.

    The warehouse's one writer holds it for its whole run (pipeline.warehouse_lock).
    Re-entrant; the umask of before comes back at the end of the outermost block."""
    with _UMASK_LOCK:
        old = os.umask(0o077)
        _OUTER_UMASK.append(old)
    try:
        yield
    finally:
        with _UMASK_LOCK:
            _OUTER_UMASK.pop()
            os.umask(old)


# Bits never given to group and other on published files, whatever the operator's umask
# (review-priv F12: under umask 000 any local user could rewrite a region's list between
# publishing and mailing it)
NEVER_SHARED = 0o022


def shared_modes() -> tuple[int, int]:
    """(folder mode, file mode) the operator's umask gives outside `owner_only_files`: what
    a published night of the outbox gets once it is complete (its staging is owner-only).
    Never writable by group or other (NEVER_SHARED): umask 000 gives 0755 and 0644, a
    stricter one (027) stays as it is."""
    with _UMASK_LOCK:
        if _OUTER_UMASK:
            mask = _OUTER_UMASK[0]
        else:
            mask = os.umask(0o077)
            os.umask(mask)
    mask |= NEVER_SHARED
    return 0o777 & ~mask, 0o666 & ~mask
