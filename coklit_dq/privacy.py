"""Masking of identifiers shown to regions (reports-v1: first 6 and last 2 digits).

One place for the rule, in Python and as a DuckDB macro, so every writer masks
the same way. Also the group ids derived from a nik or nkk (id_kelompok of
GANDA_NIK, KK_TERPISAH): a plain hash of a nik could be reversed by trying the
10^8 niks that fit its masked form, so they are keyed with a secret the
warehouse keeps (`kelompok_id(x)`), stable from night to night.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager

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


# A nik or nkk written in groups: digits parted by one to three spaces, no-break spaces,
# periods, hyphens, slashes, underscores or commas ("3101 0124 0963 0001", "3101.0124...",
# "3101 - 0124 - ...", "3101_0124_...", "310101 0124096300", "3101,0124,0963,0001").
# Which groups are one (`_mask_run`): consecutive groups of 16 digits in all, or a whole
# run of more in groups of at most 8 (a nik glued to more digits). Commas part lists
# ("TPS 1, 2, 3, ..." is the pipeline's own), so groups joined by a comma count only when
# each has 4 digits or more. A group starts after a non-digit, so a run inside an id
# (PL3101011001001-1) is never one. GROUPED_IDS_POLARS is the same without the look-around
# (polars' regex has none), to find candidates.
_SEP = "[ .\\-/_,\u00a0]{1,3}"
GROUPED_IDS = re.compile(rf"(?<!\d)\d{{1,16}}(?:{_SEP}\d{{1,16}}){{1,15}}(?!\d)")
GROUPED_IDS_POLARS = rf"\d{{1,16}}(?:{_SEP}\d{{1,16}}){{1,15}}"
NIK_DIGITS = 16


def _windows(groups: list[str], seps: list[str]) -> str:
    """Groups (parted by `seps`) with every window of consecutive groups of 16 digits in
    all masked as one nik; groups joined by a comma count only with 4 digits or more."""
    sizes = [len(g) for g in groups]
    out, i = [], 0
    while i < len(groups):
        j, total = i, sizes[i]
        while total < NIK_DIGITS and j + 1 < len(groups):
            j += 1
            total += sizes[j]
        joined_by_comma = [k for k in range(i, j) if "," in seps[k]]
        if (
            j > i
            and total == NIK_DIGITS
            and all(sizes[k] >= 4 and sizes[k + 1] >= 4 for k in joined_by_comma)
        ):
            out.append(mask_id("".join(groups[i : j + 1])) or "")
            i = j + 1
        else:
            out.append(groups[i])
            i += 1
        if i < len(groups):
            out.append(seps[i - 1])
    return "".join(out)


def _mask_stretch(groups: list[str], seps: list[str]) -> str:
    """A stretch without commas: more than 16 digits in groups of at most 8 is a nik glued
    to more digits, masked whole; otherwise its windows (`_windows`)."""
    sizes = [len(g) for g in groups]
    if sum(sizes) > NIK_DIGITS and max(sizes) <= 8:
        return mask_id("".join(groups)) or ""
    return _windows(groups, seps)


def _mask_run(run: str) -> str:
    """A grouped run with every nik/nkk in it masked as one nik (its separators dropped):
    the whole run when it is one as groups of 4+ digits joined by commas, else each
    stretch between its commas alone (so "no. 7, 3101 0104 0802 0001" masks the nik)."""
    groups = re.findall(r"\d+", run)
    seps = re.findall(r"\D+", run)
    if "," not in run:
        return _mask_stretch(groups, seps)
    whole = _windows(groups, seps)
    if whole != run and re.fullmatch(r"[0-9*]+", whole):
        return whole
    out, start = [], 0
    for k, sep in enumerate([*seps, ""]):
        if "," in sep or k == len(seps):
            out.append(_mask_stretch(groups[start : k + 1], seps[start:k]) + sep)
            start = k + 1
    return "".join(out)


def is_grouped_id(run: str) -> bool:
    """Whether a match of GROUPED_IDS(_POLARS) holds a nik or nkk to mask."""
    return _mask_run(run) != run


def mask_grouped(text: str) -> str:
    """Every nik/nkk written in groups masked as one nik (its separators dropped)."""
    return GROUPED_IDS.sub(lambda m: _mask_run(m.group()), text)


def mask_digit_runs(text: str, min_run: int) -> str:
    """Free text with every nik/nkk masked: runs of `min_run`+ digits, and niks written in
    groups (GROUPED_IDS); invisible format characters next to a digit dropped first."""
    masked = mask_grouped(drop_invisible(text))
    return re.sub(rf"\d{{{min_run},}}", lambda m: mask_id(m.group()) or "", masked)


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
