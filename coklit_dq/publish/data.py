"""What a night's publication is made of, read from the warehouse as polars frames.

Everything here is a query: findings of the night (reports-v1 columns, never
`kunci`), the findings resolved tonight, region names, coklit progress per desa
and the history per night for trends. Identifiers are masked here, once, so
every writer downstream sees the same masked values.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from coklit_dq import warehouse
from coklit_dq.contract import FINDING_COLUMNS, FINDING_SCHEMA
from coklit_dq.privacy import (
    CHAIN,
    FREE_TEXT,
    GROUPED_MIN,
    IDENTIFIER,
    LIST_JOIN,
    NIK_DIGITS,
    NON_ASCII,
    PART_ANYWHERE,
    PART_MIN,
    DigitRule,
    HeldIds,
    chain_of,
    digit_chains,
    mask_digit_runs,
    mask_niks,
    run_of,
)
from coklit_dq.publish.tables import desa_order
from coklit_dq.rules.catalog import load_catalog, load_families

# How the digits of each text column of a finding are masked (privacy.mask_niks: a nik or
# nkk however written, and one we hold or a part of one, always). Free text (keterangan,
# region names: FREE_TEXT) keeps the pipeline's numbers, region codes and the app's 12-digit
# id_pemilih, which a PPK needs to see. A name or a place of birth has no digits, so any 5
# in a row may be a part of a nik (a nik split over nama and alamat shows nothing then);
# an address keeps its house number, "RT 003/004" and a postcode (5), an rt or rw its 3.
# Identifier columns (ID_COLUMNS): an id is not personal data, and a PPS finds the record
# by it and answers by it (tanggapan-v1), so only a nik or nkk we hold (or 14-15 of its
# digits) is masked in one, wherever it is among the id's digits (an export that uses the
# nik as the record's id, or the nik with a digit added): a 12- or 16-digit id of the
# voter-data system stays as it was exported.
ID_COLUMNS = frozenset({"id_pemilih", "id_pantarlih", "id_kelompok"})
TEXT_RULES: dict[str, DigitRule] = {
    "nama": DigitRule(5),
    "tempat_lahir": DigitRule(5),
    "alamat": DigitRule(6),
    "rt": DigitRule(4),
    "rw": DigitRule(4),
    **dict.fromkeys(ID_COLUMNS, IDENTIFIER),
}


def text_rule(column: str) -> DigitRule:
    return TEXT_RULES.get(column, FREE_TEXT)


def _held(secrets: Collection[str] | None) -> HeldIds | None:
    if not secrets:
        return None
    return secrets if isinstance(secrets, HeldIds) else HeldIds(secrets)


def mask_text(
    df: pl.DataFrame, column: str = "keterangan", secrets: Collection[str] | None = None
) -> pl.DataFrame:
    """Mask nik/nkk in a text column (privacy.mask_niks with the column's TEXT_RULES;
    `secrets`: the niks and nkks we hold that the texts mention, see known_ids).

    Producers are expected to mask already; this is the last gate before a file
    leaves, for every text column of a finding (a nik keyed into rt, rw or nama is as
    personal as one in the keterangan). polars finds the rows that may hold something to
    mask (`_maybe`); only those are read and rewritten in Python.
    """
    if df.is_empty() or column not in df.columns:
        return df
    rule, held = text_rule(column), _held(secrets)
    hit = _maybe(df[column], rule, held)
    if not hit.any():
        return df
    values = df.filter(hit)[column].to_list()
    fixed = [mask_niks(v, rule, held) if v else v for v in values]
    return df.with_columns(df[column].scatter(hit.arg_true(), fixed))


def _maybe(texts: pl.Series, rule: DigitRule, held: HeldIds | None) -> pl.Series:
    """Which of `texts` mask_niks may change: any beyond ASCII (digits of other scripts,
    marks and invisible characters the masker reads itself), and in ASCII a run it masks,
    a held nik's part (HeldIds.triggers) among its digits, or a number of several groups
    that mask_niks masks (the distinct ones are few, each is tried alone)."""
    if rule.ids:
        hit = texts.str.contains(NON_ASCII)
        if held:
            hit |= texts.str.replace_all("[^0-9]", "").str.contains_any(held.triggers)
        return hit.fill_null(False)
    least = PART_MIN if held else GROUPED_MIN
    direct = f"{NON_ASCII}|{run_of(rule)}"
    hit = texts.str.contains(f"{direct}|{chain_of(least)}|{LIST_JOIN}").fill_null(False)
    if not hit.any():  # one pass over all rows, the rest over the few it found
        return hit
    some = texts.filter(hit)
    keep = some.str.contains(direct)
    if held:
        keep |= some.str.contains_any(held.triggers)
    chains = pl.DataFrame({"c": some.str.extract_all(CHAIN)}).with_row_index().explode("c")
    distinct = chains["c"].drop_nulls().unique()
    many = distinct.filter(distinct.str.count_matches("[0-9]") >= least).to_list()
    found = [c for c in many if mask_niks(c, rule, held) != c]  # few, each tried alone
    if found:
        keep = keep.scatter(chains.filter(pl.col("c").is_in(found))["index"].unique(), True)
    return hit.scatter(hit.arg_true(), keep)


def known_ids(con: duckdb.DuckDBPyConnection, texts: list[pl.Series]) -> HeldIds:
    """The niks and nkks of records we hold that `texts` (columns of findings, by name)
    mention: as a number of 11 or more digits however written (privacy.digit_chains), 16
    of its digits in a row, or a part of one (14-15 of its first or last digits anywhere,
    11-13 as a whole number in free text)."""
    whole, part = [], []  # numbers that may be a nik or nkk, and a part of one
    for t in texts:
        rule = text_rule(str(t.name))
        if rule.ids:  # an id's digits in a row (IDENTIFIER)
            plain = t.filter(~t.str.contains(NON_ASCII)).str.replace_all("[^0-9]", "")
            other = t.filter(t.str.contains(NON_ASCII).fill_null(False))
            grouped: list[str] = []
        else:  # one pass over all rows, the rest over those with 11 digits in a number
            maybe = t.filter(t.str.contains(f"{NON_ASCII}|{chain_of(PART_MIN)}|{LIST_JOIN}"))
            plain = maybe.str.extract_all(f"[0-9]{{{PART_MIN},}}").explode()
            other = maybe.filter(maybe.str.contains(NON_ASCII))
            several = maybe.filter(maybe.str.contains(f"{chain_of(PART_MIN)}|{LIST_JOIN}"))
            grouped = several.str.extract_all(CHAIN).explode().drop_nulls().unique().to_list()
        read = []  # the numbers polars cannot read: in groups, in other digits
        for v in grouped + other.unique().to_list():
            read += digit_chains(v, rule)
        numbers = pl.concat([plain.drop_nulls(), pl.Series(read, dtype=pl.String)]).unique()
        size = numbers.str.len_chars()
        whole.append(numbers.filter(size >= PART_MIN))
        if not rule.ids:
            part.append(numbers.filter((size >= PART_MIN) & (size < PART_ANYWHERE)))
        long = numbers.filter(size >= PART_ANYWHERE).to_list()  # few: their windows
        for n in range(PART_ANYWHERE, NIK_DIGITS + 1):
            windows = pl.Series([d[i : i + n] for d in long for i in range(len(d) - n + 1)])
            (whole if n == NIK_DIGITS else part).append(windows)
    return HeldIds(_lookup(con, _distinct(whole), _distinct(part)))


def _distinct(series: list[pl.Series]) -> pl.DataFrame:
    values = pl.concat([pl.Series([], dtype=pl.String), *(s.cast(pl.String) for s in series)])
    return pl.DataFrame({"v": values.unique()})


def _lookup(con: duckdb.DuckDBPyConnection, whole: pl.DataFrame, part: pl.DataFrame) -> set[str]:
    """The niks and nkks held that are one of `whole`, or begin or end with one of `part`."""
    if whole.is_empty() and part.is_empty():
        return set()
    con.complete()
    con.register("_publish_whole", whole)
    con.register("_publish_part", part)
    sizes = part["v"].str.len_chars().unique().sort().to_list()
    ends = "".join(
        f" OR {end}(x, {n}) IN (SELECT v FROM _publish_part WHERE length(v) = {n})"
        for n in sizes
        for end in ("left", "right")
    )
    try:
        # the few numbers are the hash side, the records only probe it (the other way
        # round, hashing every nik and nkk held, took ~1 s CPU at 1 M voters); the ids
        # whose first or last 11 digits match are few, and only they are tried for parts of
        # every length (each length probed over all records cost ~0.4 s at 1 M voters)
        rows = con.execute(
            f"""
            WITH maybe AS MATERIALIZED (
              SELECT DISTINCT x FROM (SELECT nik AS x FROM pemilih UNION ALL
                                      SELECT nkk FROM pemilih)
              WHERE x IN (SELECT v FROM _publish_whole)
                 OR left(x, {PART_MIN}) IN (SELECT left(v, {PART_MIN}) FROM _publish_part)
                 OR right(x, {PART_MIN}) IN (SELECT right(v, {PART_MIN}) FROM _publish_part))
            SELECT x FROM maybe WHERE x IN (SELECT v FROM _publish_whole){ends}
            """
        ).fetchall()
    finally:
        con.unregister("_publish_whole")
        con.unregister("_publish_part")
    return {r[0] for r in rows}


def _findings_sql(table: str, where: str) -> str:
    cols = ", ".join(FINDING_COLUMNS)
    return f"SELECT {cols} FROM {table} WHERE {where} ORDER BY kunci"


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list[object]) -> pl.DataFrame:
    # duckdb 2: a result left open by execute() (fetchone) blocks con.sql(); finish it first
    con.complete()
    return con.sql(sql, params=params).pl()


def findings(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """The night's findings in reports-v1 columns, in desa-officer order."""
    df = _frame(con, _findings_sql("temuan", "tanggal_ekspor = ?"), [tanggal])
    return desa_order(df.cast(FINDING_SCHEMA, strict=False).select(FINDING_COLUMNS))


def resolved(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """Findings of the night before that are gone tonight (same columns and order)."""
    df = _frame(con, _findings_sql("temuan_selesai", "tanggal_selesai = ?"), [tanggal])
    return desa_order(df.cast(FINDING_SCHEMA, strict=False).select(FINDING_COLUMNS))


def catalog_frame() -> pl.DataFrame:
    """kode_temuan -> judul, keluarga, nama_keluarga, urutan (sheet order)."""
    families = load_families()
    order = {k: i for i, k in enumerate(families)}
    rules = load_catalog().values()
    return pl.DataFrame(
        {
            "kode_temuan": [r.kode_temuan for r in rules],
            "judul": [r.judul for r in rules],
            "keluarga": [r.keluarga for r in rules],
            "nama_keluarga": [families.get(r.keluarga, r.keluarga) for r in rules],
            "urutan_keluarga": [order.get(r.keluarga, len(order)) for r in rules],
            "tindakan": [r.tindakan for r in rules],
        }
    )


def wilayah(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """Region names: the night's wilayah, else the latest earlier one we hold."""
    return _frame(
        con,
        """
        SELECT kode_desa, nama_desa, kode_kec, nama_kec, kode_kab, nama_kab, kode_prov, nama_prov
        FROM wilayah
        WHERE tanggal_ekspor = (SELECT max(tanggal_ekspor) FROM wilayah WHERE tanggal_ekspor <= ?)
        ORDER BY kode_desa
        """,
        [tanggal],
    )


def progress(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """agregat_desa of the night with tercoklit = handed-down records already visited."""
    return _frame(
        con,
        """
        SELECT coalesce(kode_prov, left(kode_desa, 2)) AS kode_prov,
               coalesce(kode_kab, left(kode_desa, 4)) AS kode_kab,
               coalesce(kode_kec, left(kode_desa, 6)) AS kode_kec,
               kode_desa, n_rekaman, n_belum, n_ms, n_ubah,
               n_baru, n_tms, n_aktif, n_diturunkan, jumlah_diturunkan, n_tps,
               n_ms + n_ubah + n_tms AS n_tercoklit
        FROM agregat_desa WHERE tanggal_ekspor = ? ORDER BY kode_desa
        """,
        [tanggal],
    )


def history(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """Per night and kabupaten/kota: progress and findings, for trend charts."""
    return _frame(
        con,
        f"""
        WITH a AS (
          SELECT tanggal_ekspor, coalesce(kode_prov, left(kode_desa, 2)) AS kode_prov,
                 coalesce(kode_kab, left(kode_desa, 4)) AS kode_kab,
                 sum(n_rekaman)::BIGINT AS n_rekaman,
                 sum(n_ms + n_ubah + n_tms)::BIGINT AS n_tercoklit,
                 sum(jumlah_diturunkan)::BIGINT AS jumlah_diturunkan,
                 sum(n_aktif)::BIGINT AS n_aktif
          FROM agregat_desa WHERE tanggal_ekspor = $1
            OR tanggal_ekspor < $1 AND tanggal_ekspor IN ({warehouse.HELD_NIGHTS_SQL})
          GROUP BY ALL
        ), t AS (
          SELECT tanggal_ekspor, kode_prov, kode_kab, count(*) AS n_temuan,
                 count(*) FILTER (WHERE tingkat = 'TINGGI') AS n_tinggi,
                 count(*) FILTER (WHERE tingkat = 'SEDANG') AS n_sedang,
                 count(*) FILTER (WHERE tingkat = 'RENDAH') AS n_rendah
          FROM temuan WHERE kode_kab IS NOT NULL AND (tanggal_ekspor = $1
            OR tanggal_ekspor < $1 AND tanggal_ekspor IN ({warehouse.HELD_NIGHTS_SQL}))
          GROUP BY ALL
        )
        SELECT tanggal_ekspor, kode_prov, kode_kab,
               coalesce(n_rekaman, 0) AS n_rekaman, coalesce(n_tercoklit, 0) AS n_tercoklit,
               coalesce(jumlah_diturunkan, 0) AS jumlah_diturunkan,
               coalesce(n_aktif, 0) AS n_aktif,
               coalesce(n_temuan, 0) AS n_temuan, coalesce(n_tinggi, 0) AS n_tinggi,
               coalesce(n_sedang, 0) AS n_sedang, coalesce(n_rendah, 0) AS n_rendah
        FROM a FULL JOIN t USING (tanggal_ekspor, kode_prov, kode_kab)
        ORDER BY tanggal_ekspor, kode_kab
        """,
        [tanggal],
    )


def previous_counts(con: duckdb.DuckDBPyConnection, previous: date | None) -> pl.DataFrame:
    """Findings of the night before per kode_kab and kode_temuan."""
    return _frame(
        con,
        """
        SELECT kode_prov, kode_kab, kode_temuan, count(*) AS n_kemarin
        FROM temuan WHERE tanggal_ekspor = ? GROUP BY ALL
        """,
        [previous],
    )


@dataclass(frozen=True)
class FileState:
    """How a province's pemilih file fared tonight (used / quarantined / absent)."""

    kode_prov: str
    state: str
    path: str | None
    reason: str | None


def province_files(con: duckdb.DuckDBPyConnection, tanggal: date) -> dict[str, FileState]:
    rows = con.execute(
        """
        SELECT kode_prov, state, path, reason FROM files
        WHERE tanggal_ekspor = ? AND tabel = 'pemilih' AND kode_prov IS NOT NULL
        ORDER BY kode_prov, state DESC, path
        """,
        [tanggal],
    ).fetchall()
    out: dict[str, FileState] = {}
    for prov, state, path, reason in rows:
        # a province with a used and a quarantined file counts as quarantined
        if prov in out and out[prov].state == "quarantined":
            continue
        out[prov] = FileState(prov, state, path, _reason_message(reason))
    return out


def _reason_message(reason: str | None) -> str | None:
    """The human part of a quarantine reason, masked (never a raw value of a record)."""
    if not reason:
        return None
    try:
        data = json.loads(reason)
    except ValueError:
        text = reason
    else:
        text = str(data.get("message") or "") if isinstance(data, dict) else str(data)
    return mask_digit_runs(text, 11)[:300] or None
