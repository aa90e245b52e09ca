"""Typed readers: check one export file in DuckDB and say how to load it.

`check_file` either raises FileError (with a reason naming the line or column,
what was expected and what was found) or returns a `Checked`: the row count and
a SELECT that yields the contract's columns with the contract's types plus
`baris` (1-based data row), which the load step inserts into the snapshot.

CSV.gz is read with every column as text (codes keep their leading zeros), the
dialect fixed to export-v1's (comma, double quote, one header row, empty = null;
a UTF-8 BOM and CRLF line ends are accepted), into a staging table; one query
then finds the first value of each typed column that does not parse, so the
message can name its line. Latin-1 files: see `LATIN1_POLICY`.

Parquet is read in place: the column types must be of the contract's kind
(string, integer, date, timestamp with time zone); integers are narrowed with
a check. The file is decoded whole once while checking (every column), so a
damaged page or a string that is not UTF-8 sets this file aside alone, before
the load (the sha256 only proves the bytes are the ones upstream wrote).

Row level, the same for both formats (export-v1: "rows with bad values in a
usable file are not errors of the file"):
- pemilih, tps, pantarlih: a value that does not parse as its column's type (a
  date `0000-00-00`, a timestamp without offset, an integer too large or `abc`)
  is no error of the file: it is loaded as NULL and the row's
  `nilai_tidak_valid` names the column(s), so the rules report the record
  (DATA_TIDAK_VALID), the TPS (TPS_DATA_TIDAK_VALID) or the officer
  (PANTARLIH_DATA_TIDAK_VALID).
- pemilih: rows whose kode_desa is a valid desa code of another province are
  set aside (with file and line) and not loaded; a file most of whose rows
  belong to another province is set aside whole.
- tps: a row whose kode_desa is not a desa code, or whose no_tps is empty or
  cannot be read, is set aside (a TPS is kode_desa + no_tps: without them the
  row is no TPS and no finding's unit).
- wilayah: a row whose codes are not valid codes of their kind (2/4/6/10 digits,
  each starting with its parent's code) is set aside, never a folder or a link;
  the rest of wilayah is used.
Set-aside rows are listed in the file's warning (count, first line and column)
and, one reason each (at most MAX_ROW_REASONS), in `Checked.set_aside`.
"""

from __future__ import annotations

import csv
import gzip
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from coklit_dq.contract import CODE_DIGITS, CODE_PARENT, EXPORT_TABLES, Column, code_sql
from coklit_dq.ingest.quarantine import FileError, reason
from coklit_dq.warehouse import sql_type

# The decision export-v1 leaves open, taken here: a CSV that is not valid UTF-8 is
# DECODED AS LATIN-1 and used, with a warning (line of the first bad byte) kept
# in files.reason and IngestResult.warnings. Upstream re-encodes whole dumps; a
# province set aside for an accented name would hide all its voters from the
# night's checks, while a mis-decoded letter in a name is visible and harmless.
LATIN1_POLICY = "decode"

INT_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}  # fmt: skip
TS_TYPES = {"TIMESTAMP WITH TIME ZONE"}
HEADER_LIMIT = 1 << 20

_INT_RE = r"^[+-]?[0-9]+$"
_DATE_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TS_RE = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)$"
)
EXPECTED_TEXT = {
    "VARCHAR": "a string",
    "DATE": "a date YYYY-MM-DD",
    "TIMESTAMPTZ": "an ISO 8601 timestamp with offset",
}


MAX_ROW_REASONS = 100  # set-aside rows described one by one (the count is always exact)
FOREIGN_FILE_SHARE = 0.5  # above this share of another province's rows: the file is set aside


@dataclass
class Checked:
    rows: int  # rows in the file (the manifest's count)
    select_sql: str  # contract columns (typed, in order) + baris + nilai_tidak_valid
    drop_after: list[str] = field(default_factory=list)  # staging tables
    warning: dict[str, Any] | None = None
    set_aside: list[dict[str, Any]] = field(default_factory=list)  # row reasons (capped)
    n_set_aside: int = 0  # rows of the file not loaded
    n_unreadable: int = 0  # pemilih rows loaded with a value read as NULL


class DiskFull(OSError):
    """The warehouse's disk (or DuckDB's temp folder) is full: the night cannot be loaded.
    Never an error of a file: nothing is set aside for it."""


def disk_full(exc: BaseException) -> None:
    """Raise DiskFull from `exc` when it is DuckDB (or the OS) saying the disk is full."""
    if "no space left on device" in str(exc).lower():
        raise DiskFull(
            28, "No space left on device: the warehouse's disk is full; the night was not loaded"
        ) from exc


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def expected_of(col: Column) -> str:
    t = sql_type(col)
    if t in EXPECTED_TEXT:
        return EXPECTED_TEXT[t]
    return f"an integer ({t})"


# What DuckDB says about a CSV beyond its first line, kept when found; anything else it
# prints (the "Original Line", which may span lines when a quoted field holds a newline,
# the reader's options) may quote a record and is dropped.
_DUCK_PHRASES = (
    r"Expected Number of Columns: \d+ Found: \d+",
    r"Value with unterminated quote found",
    r"Invalid unicode \(byte sequence mismatch\) detected",
    r"Maximum line size of \d+ bytes exceeded",
)


def duck_message(exc: Exception) -> tuple[str, int | None]:
    """DuckDB's error as one safe line and the CSV line it names.

    Only DuckDB's first line (quoted strings in it masked: they may be values, e.g. the
    string that is not UTF-8) and the known phrases of `_DUCK_PHRASES`: never a record."""
    text = str(exc)
    m = re.search(r"CSV Error on Line: (\d+)", text)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    first = re.sub(r"'[^'\n]*'", "'...'", re.sub(r'"[^"\n]*"', '"..."', first))
    if m:
        first = first[: first.index("CSV Error on Line:")] + f"CSV Error on Line: {m.group(1)}"
    found = [p.group(0) for ph in _DUCK_PHRASES if (p := re.search(ph, text))]
    return " ".join([first.strip(), *found])[:300], int(m.group(1)) if m else None


# --- CSV.gz ---------------------------------------------------------------------


_KNOWN_NAMES = frozenset(c.name for cols in EXPORT_TABLES.values() for c in cols)


_COLUMN_LIKE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)+")  # snake_case, as export-v1 names


def _names(header: list[str]) -> str:
    """Column names as a reason may show them: a column of export-v1 or a snake_case name
    (a renamed column: `tgl_lahir`); anything else is `?` (a file without a header starts
    with a record, whose values are never quoted)."""
    return ",".join(
        h if h in _KNOWN_NAMES or (len(h) <= 40 and _COLUMN_LIKE.fullmatch(h)) else "?"
        for h in header
    )


def _found_columns(table: str, names: list[str], what: str) -> str:
    """A missing column's `found`: first the names that are not of the table (the renamed
    one is among them), then the whole list (a reason's `found` is cut at MAX_FOUND)."""
    known = {c.name for c in EXPORT_TABLES[table]}
    other = [n for n in names if n not in known]
    head = f"not of {table}: {_names(other)}; " if other else ""
    return f"{head}{what}: {_names(names)}"


def read_header(path: Path, rel: str) -> list[str]:
    try:
        with gzip.open(path, "rb") as fh:
            first = fh.readline(HEADER_LIMIT)
    except (OSError, EOFError, zlib.error) as exc:
        raise FileError(
            reason(rel, f"not a readable gzip file: {exc}", line=1, expected="gzip-compressed CSV")
        ) from None
    first = first.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n")
    if not first:
        raise FileError(reason(rel, "no header row", line=1, expected="one header row"))
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        text = first.decode("latin-1")
    return next(csv.reader([text]))


def _csv_sql(path: Path, header: list[str], encoding: str) -> str:
    cols = {}
    for i, name in enumerate(header):
        key = name if name not in cols else f"{name}__dup{i}"
        cols[key] = "VARCHAR"
    struct = "{" + ", ".join(f"{lit(k)}: 'VARCHAR'" for k in cols) + "}"
    return (
        f"read_csv({lit(str(path))}, auto_detect=false, header=true, delim=',', quote='\"', "
        f"escape='\"', compression='gzip', encoding={lit(encoding)}, columns={struct})"
    )


def _bad_predicate(col: Column, v: str) -> str | None:
    t = sql_type(col)
    if t == "VARCHAR":
        return None
    if t == "DATE":
        return (
            f"{v} IS NOT NULL AND (NOT regexp_matches({v}, '{_DATE_RE}') "
            f"OR try_cast({v} AS DATE) IS NULL)"
        )
    if t == "TIMESTAMPTZ":
        return (
            f"{v} IS NOT NULL AND (NOT regexp_matches({v}, '{_TS_RE}') "
            f"OR try_cast({v} AS TIMESTAMPTZ) IS NULL)"
        )
    return (
        f"{v} IS NOT NULL AND (NOT regexp_matches({v}, '{_INT_RE}') "
        f"OR try_cast({v} AS {t}) IS NULL)"
    )


def check_csv(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    table: str,
    *,
    rows: int,
    stage: str,
    prov: str | None = None,
) -> Checked:
    columns = EXPORT_TABLES[table]
    header = read_header(path, rel)
    for col in columns:
        n = header.count(col.name)
        if n == 0:
            raise FileError(
                reason(
                    rel,
                    f"column {col.name} is missing (renamed or left out)",
                    line=1,
                    column=col.name,
                    expected=f"a column named {col.name}",
                    found=_found_columns(table, header, "header"),
                )
            )
        if n > 1:
            raise FileError(
                reason(rel, f"column {col.name} appears {n} times", line=1, column=col.name,
                       expected="each column once", found=f"{n} columns named {col.name}")
            )  # fmt: skip
    select = ", ".join(q(c.name) for c in columns)
    warning = None
    for encoding in ("utf-8", "latin-1"):
        try:
            con.execute(f"DROP TABLE IF EXISTS {stage}")
            con.execute(
                f"CREATE TABLE {stage} AS SELECT {select} FROM {_csv_sql(path, header, encoding)}"
            )
            break
        except duckdb.Error as exc:
            disk_full(exc)
            con.execute(f"DROP TABLE IF EXISTS {stage}")
            msg, line = duck_message(exc)
            if "unicode" in msg.lower() and encoding == "utf-8" and LATIN1_POLICY == "decode":
                warning = reason(
                    rel,
                    f"not valid UTF-8 (first bad byte on line {line}); decoded as Latin-1",
                    line=line,
                    expected="UTF-8 text",
                    found="bytes that are not UTF-8 (read as Latin-1)",
                )
                continue
            if "gzip" in msg.lower():
                raise FileError(
                    reason(rel, f"gzip stream broken: {msg}", line=line,
                           expected="a complete gzip-compressed CSV")
                ) from None  # fmt: skip
            raise FileError(
                reason(rel, f"not readable as export-v1 CSV: {msg}", line=line,
                       expected=f"{len(header)} comma-separated fields per line")
            ) from None  # fmt: skip
    try:
        checked = _check_rows_of(
            con,
            rel,
            table,
            prov=prov,
            listed=rows,
            src=stage,
            value=q,
            bad=lambda c: _bad_predicate(c, q(c.name)),
            cast=lambda c: _cast(c, q(c.name)),
            line="rowid + 2",  # the header is line 1
            baris="rowid + 1",
        )
    except FileError:
        con.execute(f"DROP TABLE IF EXISTS {stage}")
        raise
    checked.drop_after.append(stage)
    checked.warning = _merge_warnings(rel, warning, checked.warning)
    return checked


def _cast(col: Column, v: str) -> str:
    t = sql_type(col)
    return f"CAST({v} AS {t}) AS {q(col.name)}" if t != "VARCHAR" else f"{v} AS {q(col.name)}"


def _check_rows(rel: str, listed: int, n_rows: int) -> None:
    if n_rows != listed:
        raise FileError(
            reason(
                rel,
                f"{n_rows} rows read, the manifest lists {listed}",
                expected=f"{listed} rows (manifest)",
                found=f"{n_rows} rows",
            )
        )


# --- row level: values that cannot be read, rows set aside -------------------------------


def _merge_warnings(rel: str, *warnings: dict[str, Any] | None) -> dict[str, Any] | None:
    """One warning of a used file (files.reason holds one): the first one's place, all texts."""
    ws = [w for w in warnings if w]
    if len(ws) <= 1:
        return ws[0] if ws else None
    out = dict(ws[0])
    out["message"] = "; ".join(w["message"] for w in ws)
    return out


def _aside_predicates(
    table: str,
    prov: str | None,
    value: Callable[[str], str],
    bad: Callable[[Column], str | None],
) -> list[tuple[str, str, str]]:
    """(column, SQL predicate TRUE when the row is set aside for it, what was expected),
    in the order a row's reason names them (the first that holds).

    A row is set aside only when it cannot be the unit of a finding: a wilayah row whose
    codes would become folders, a voter of another province, a tps row whose kode_desa is
    not a desa code or whose no_tps is empty or cannot be read (kode_desa + no_tps is the
    TPS; without them the row is no TPS)."""
    out: list[tuple[str, str, str]] = []
    if table == "tps":  # a TPS is kode_desa + no_tps: without either the row is no TPS
        v = value("kode_desa")
        out.append(("kode_desa", f"NOT {code_sql('kode_desa', v)}", "a desa code of 10 digits"))
        no_tps = next(c for c in EXPORT_TABLES["tps"] if c.name == "no_tps")
        p = bad(no_tps)
        n = value("no_tps")
        out.append(
            ("no_tps", f"({n} IS NULL OR coalesce({p or 'FALSE'}, FALSE))", expected_of(no_tps))
        )
    if table == "wilayah":
        for kind in ("kode_prov", "kode_kab", "kode_kec", "kode_desa"):
            v = value(kind)
            ok = code_sql(kind, v)
            expected = f"{CODE_DIGITS[kind]} digits"
            parent = CODE_PARENT.get(kind)
            if parent:
                ok = f"({ok} AND coalesce(starts_with({v}, {value(parent)}), FALSE))"
                expected += f" starting with its {parent}"
            out.append((kind, f"NOT {ok}", expected))
    elif table == "pemilih" and prov is not None:
        v = value("kode_desa")
        out.append(
            (
                "kode_desa",
                f"(left({v}, 2) <> {lit(prov)} AND {code_sql('kode_desa', v)})",
                f"a desa of province {prov} (this file's province)",
            )
        )
    return out


def _check_rows_of(
    con: duckdb.DuckDBPyConnection,
    rel: str,
    table: str,
    *,
    prov: str | None,
    listed: int,
    src: str,
    value: Callable[[str], str],
    bad: Callable[[Column], str | None],
    cast: Callable[[Column], str],
    line: str,
    baris: str,
    parquet: Path | None = None,
) -> Checked:
    """One streaming pass over `src` (a staging table or read_parquet) for the row count,
    the values that do not parse (`bad`), the rows to set aside; then the load's SELECT.

    `parquet` (the file, for Parquet): the pass also hashes every column, so every page is
    decoded once here; a damaged one sets the file aside before the load."""
    columns = EXPORT_TABLES[table]
    aside = _aside_predicates(table, prov, value, bad)
    any_aside = " OR ".join(f"({p})" for _, p, _ in aside) or "FALSE"
    # a value that cannot be read in a row that is loaded (rows set aside are not counted)
    bads = [(c, f"({p}) AND NOT ({any_aside})") for c in columns if (p := bad(c))]
    parts = ["count(*)"]
    for _, p in bads:
        parts += [f"min({line}) FILTER (WHERE {p})", f"count(*) FILTER (WHERE {p})"]
    for _, p, _ in aside:
        parts += [f"min({line}) FILTER (WHERE {p})", f"count(*) FILTER (WHERE {p})"]
    parts.append(f"count(*) FILTER (WHERE {any_aside})")
    if parquet is not None:
        parts.append(f"bit_xor(hash({', '.join(value(c.name) for c in columns)}))")
    try:
        res = con.execute(f"SELECT {', '.join(parts)} FROM {src}").fetchall()[0]
    except duckdb.Error as exc:
        disk_full(exc)
        raise _unreadable(
            con, rel, src=src, columns=columns, value=value, exc=exc, parquet=parquet
        ) from None
    n_rows = int(res[0])
    _check_rows(rel, listed, n_rows)
    i = 1
    bad_found: list[tuple[int, int, Column, str]] = []  # first line, count, column, predicate
    for c, p in bads:
        if res[i] is not None:
            bad_found.append((int(res[i]), int(res[i + 1]), c, p))
        i += 2
    aside_found: list[tuple[int, int, str, str]] = []
    for name, _, exp in aside:
        if res[i] is not None:
            aside_found.append((int(res[i]), int(res[i + 1]), name, exp))
        i += 2
    n_aside = int(res[i])
    warnings: list[dict[str, Any] | None] = []
    n_unreadable = 0
    if bad_found:  # NULL + nilai_tidak_valid: the rules report the record, TPS or officer
        first, _, col, _ = min(bad_found, key=lambda b: b[0])
        n_unreadable = sum(b[1] for b in bad_found)
        cols = ", ".join(sorted({b[2].name for b in bad_found}))
        warnings.append(
            reason(
                rel,
                f"{n_unreadable} value(s) cannot be read as their type (columns {cols}); "
                f"loaded as empty and reported as findings of their rows "
                f"(first: line {first}, column {col.name})",
                line=first,
                column=col.name,
                expected=expected_of(col),
                found="a value that is not " + expected_of(col),
            )
        )
    set_aside: list[dict[str, Any]] = []
    if aside_found:
        foreign = table == "pemilih"
        first, _, acol, expected = min(aside_found, key=lambda a: a[0])
        if foreign and n_aside > FOREIGN_FILE_SHARE * n_rows:
            provs = con.execute(
                f"SELECT string_agg(DISTINCT left({value('kode_desa')}, 2), ',' ORDER BY "
                f"left({value('kode_desa')}, 2)) FROM {src} WHERE {any_aside}"
            ).fetchall()[0][0]
            raise FileError(
                reason(
                    rel,
                    f"{n_aside} of {n_rows} rows are voters of province(s) {provs}, not of "
                    f"province {prov}: this is not the file of province {prov}",
                    line=first,
                    column="kode_desa",
                    expected=expected,
                    found=f"kode_desa of province(s) {provs}",
                )
            )
        what = (
            f"rows of another province (kode_desa not of {prov})"
            if foreign
            else "rows that are no TPS (kode_desa not a desa code, or no_tps empty or unreadable)"
            if table == "tps"
            else "rows whose region codes are not valid codes of their kind"
        )
        warnings.append(
            reason(
                rel,
                f"{n_aside} {what} set aside, not loaded (first: line {first}, column {acol}); "
                "the other rows are used",
                line=first,
                column=acol,
                expected=expected,
                found=f"{n_aside} row(s)",
            )
        )
        set_aside = _row_reasons(
            con, rel, src=src, aside=aside, value=value, line=line, foreign=foreign
        )
    typed = ", ".join(
        cast(c)
        if not (p := bad(c))
        else f"CASE WHEN {p} THEN NULL ELSE {_cast_expr(c, value(c.name))} END AS {q(c.name)}"
        for c in columns
    )
    names = [f"CASE WHEN {p} THEN {lit(c.name)} END" for c, p in bads]
    extra = (
        f", nullif(concat_ws(',', {', '.join(names)}), '') AS nilai_tidak_valid"
        if names
        else ", NULL::VARCHAR AS nilai_tidak_valid"
    )
    where = f" WHERE NOT ({any_aside})" if aside_found else ""
    return Checked(
        rows=n_rows,
        select_sql=f"SELECT {typed}, {baris} AS baris{extra} FROM {src}{where}",
        warning=_merge_warnings(rel, *warnings),
        set_aside=set_aside,
        n_set_aside=n_aside,
        n_unreadable=n_unreadable,
    )


def _cast_expr(col: Column, v: str) -> str:
    t = sql_type(col)
    return f"CAST({v} AS {t})" if t != "VARCHAR" else v


def _row_reasons(
    con: duckdb.DuckDBPyConnection,
    rel: str,
    *,
    src: str,
    aside: list[tuple[str, str, str]],
    value: Callable[[str], str],
    line: str,
    foreign: bool,
) -> list[dict[str, Any]]:
    """One reason per set-aside row (the first MAX_ROW_REASONS, by line): the first column
    that set it aside and its value (codes only: never a personal column)."""
    which = "CASE " + " ".join(f"WHEN {p} THEN {lit(c)}" for c, p, _ in aside) + " END"
    shown = "CASE " + " ".join(f"WHEN {p} THEN CAST({value(c)} AS VARCHAR)" for c, p, _ in aside)
    shown += " END"
    any_aside = " OR ".join(f"({p})" for _, p, _ in aside)
    got = con.execute(
        f"SELECT {line}, {which}, {shown} FROM {src} WHERE {any_aside} "
        f"ORDER BY 1 LIMIT {MAX_ROW_REASONS}"
    ).fetchall()
    expected = {c: e for c, _, e in aside}
    out = []
    for ln, col, v in got:
        msg = (
            f"line {ln}: a voter of another province (kode_desa {v!r}); row set aside"
            if foreign
            else f"line {ln}, column {col}: {'empty' if v is None else repr(v)} is not a "
            f"valid {col}; row set aside"
        )
        out.append(reason(rel, msg, line=int(ln), column=col, expected=expected[col], found=v))
    return out


def _unreadable(
    con: duckdb.DuckDBPyConnection,
    rel: str,
    *,
    src: str,
    columns: tuple[Column, ...],
    value: Callable[[str], str],
    exc: duckdb.Error,
    parquet: Path | None,
) -> FileError:
    """The reason of a file whose pages cannot be decoded: the first column that fails read
    on its own and, for Parquet, its first row group that fails (DuckDB skips the other row
    groups for a file_row_number range); DuckDB's message without any quoted value."""
    msg, _ = duck_message(exc)
    bad_col = None
    for c in columns:
        try:
            con.execute(f"SELECT bit_xor(hash({value(c.name)})) FROM {src}").fetchall()
        except duckdb.Error:
            bad_col = c.name
            break
    where = f"column {bad_col}" if bad_col else ""
    line = None
    if parquet is not None and bad_col is not None:
        groups = con.execute(
            "SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata(?) ORDER BY 1",
            [str(parquet)],
        ).fetchall()
        lo = 0
        for rg, n in groups:
            try:
                con.execute(
                    f"SELECT bit_xor(hash({value(bad_col)})) FROM {src} "
                    f"WHERE file_row_number BETWEEN {lo} AND {lo + int(n) - 1}"
                ).fetchall()
            except duckdb.Error:
                where = f"row group {rg} (rows {lo + 1}-{lo + int(n)}), column {bad_col}"
                line = lo + 1
                break
            lo += int(n)
    return FileError(
        reason(
            rel,
            f"cannot be decoded whole{' (' + where + ')' if where else ''}: {msg}",
            line=line,
            column=bad_col,
            expected="a file whose every page can be read (strings in UTF-8)",
            found="a damaged page or a string that is not UTF-8",
        )
    )


# --- Parquet --------------------------------------------------------------------


def _kind_ok(target: str, found: str) -> bool:
    if target == "VARCHAR":
        return found == "VARCHAR"
    if target == "DATE":
        return found == "DATE"
    if target == "TIMESTAMPTZ":
        return found in TS_TYPES
    return found in INT_TYPES


def check_parquet(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    table: str,
    *,
    rows: int,
    prov: str | None = None,
) -> Checked:
    columns = EXPORT_TABLES[table]
    src = f"read_parquet({lit(str(path))}, file_row_number=true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit(str(path))})").fetchall()
    except duckdb.Error as exc:
        msg, _ = duck_message(exc)
        raise FileError(
            reason(rel, f"not a readable Parquet file: {msg}", expected="a Parquet file")
        ) from None
    types = {r[0]: str(r[1]) for r in described}
    for col in columns:
        if col.name not in types:
            raise FileError(
                reason(
                    rel,
                    f"column {col.name} is missing (renamed or left out)",
                    column=col.name,
                    expected=f"a column named {col.name}",
                    found=_found_columns(table, list(types), "columns"),
                )
            )
        target = sql_type(col)
        if not _kind_ok(target, types[col.name]):
            raise FileError(
                reason(
                    rel,
                    f"column {col.name} has type {types[col.name]}, expected {expected_of(col)}",
                    column=col.name,
                    expected=f"{expected_of(col)} ({target})",
                    found=types[col.name],
                )
            )
    # Integers that do not fit the warehouse's narrower type are values that cannot be
    # read (pemilih: NULL + nilai_tidak_valid; other tables: an error of the file).
    narrow = {
        c.name for c in columns if types[c.name] in INT_TYPES and types[c.name] != sql_type(c)
    }

    def bad(c: Column) -> str | None:
        if c.name not in narrow:
            return None
        return f"({q(c.name)} IS NOT NULL AND try_cast({q(c.name)} AS {sql_type(c)}) IS NULL)"

    return _check_rows_of(
        con,
        rel,
        table,
        prov=prov,
        listed=rows,
        src=src,
        value=q,
        bad=bad,
        cast=lambda c: _cast(c, q(c.name)),
        line="file_row_number + 1",
        baris="file_row_number + 1",
        parquet=path,
    )


def check_file(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    rel: str,
    table: str,
    *,
    fmt: str,
    rows: int,
    stage: str,
    prov: str | None = None,
) -> Checked:
    """Check one file (`prov`: the province of a pemilih file, from its name)."""
    if fmt == "csv.gz":
        return check_csv(con, path, rel, table, rows=rows, stage=stage, prov=prov)
    return check_parquet(con, path, rel, table, rows=rows, prov=prov)
