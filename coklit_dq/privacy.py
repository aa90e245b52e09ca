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


# A nik or nkk written in groups ("3201 0124 0963 0001", "3201.0124.0963.0001",
# "3201-0124-0963-0001", "32010124 09630001", a no-break space, two spaces): groups of 1-8
# digits parted by one or two spaces, periods, hyphens or slashes, 16 digits or more in
# all. Not a comma: "TPS 1, 2, 3, ..." lists are the pipeline's own. A group starts after
# a non-digit, so a run inside an id (PL3101011001001-1) is never one. GROUPED_IDS_POLARS
# is the same without the look-around (polars' regex has none), to find candidates.
_SEP = "[ .\\-/\u00a0]{1,2}"
GROUPED_IDS = re.compile(rf"(?<!\d)\d{{1,8}}(?:{_SEP}\d{{1,8}}){{1,15}}(?!\d)")
GROUPED_IDS_POLARS = rf"\d{{1,8}}(?:{_SEP}\d{{1,8}}){{1,15}}"
GROUPED_MIN_DIGITS = 16


def _grouped_digits(run: str) -> str:
    return re.sub(r"\D", "", run)


def is_grouped_id(run: str) -> bool:
    """A match of GROUPED_IDS(_POLARS) that is long enough to be a nik or nkk."""
    return len(_grouped_digits(run)) >= GROUPED_MIN_DIGITS


def mask_grouped(text: str) -> str:
    """Every nik/nkk written in groups masked as one nik (its separators dropped)."""

    def sub(m: re.Match[str]) -> str:
        run = m.group()
        return (mask_id(_grouped_digits(run)) or "") if is_grouped_id(run) else run

    return GROUPED_IDS.sub(sub, text)


def mask_digit_runs(text: str, min_run: int) -> str:
    """Free text with every nik/nkk masked: runs of `min_run`+ digits, and 16+ digits
    written in groups (GROUPED_IDS)."""
    return re.sub(rf"\d{{{min_run},}}", lambda m: mask_id(m.group()) or "", mask_grouped(text))


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


def shared_modes() -> tuple[int, int]:
    """(folder mode, file mode) the operator's umask gives outside `owner_only_files`: what
    a published night of the outbox gets once it is complete (its staging is owner-only)."""
    with _UMASK_LOCK:
        if _OUTER_UMASK:
            mask = _OUTER_UMASK[0]
        else:
            mask = os.umask(0o077)
            os.umask(mask)
    return 0o777 & ~mask, 0o666 & ~mask
