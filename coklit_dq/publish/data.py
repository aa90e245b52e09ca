"""What a night's publication is made of, read from the warehouse as polars frames.

Everything here is a query: findings of the night (reports-v1 columns, never
`kunci`), the findings resolved tonight, region names, coklit progress per desa
and the history per night for trends. Identifiers are masked here, once, so
every writer downstream sees the same masked values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from coklit_dq import warehouse
from coklit_dq.contract import FINDING_COLUMNS, FINDING_SCHEMA
from coklit_dq.privacy import (
    GROUPED_IDS_POLARS,
    INVISIBLE,
    NEAR_DIGIT,
    is_grouped_id,
    mask_digit_runs,
    mask_grouped,
    mask_id,
)
from coklit_dq.publish.tables import desa_order
from coklit_dq.rules.catalog import load_catalog, load_families

# Digit runs in free text that may be a nik or nkk. A run of 16+ digits is
# always masked (the nik/nkk format, or one glued to more digits); a shorter
# run of 11+ is masked when it is the nik or nkk of a record we hold (a junk
# nik of 13 digits), and left alone otherwise: the simulator's and the real
# app's id_pemilih are 12-digit numbers a PPK needs to see. Region codes are
# at most 10 digits.
ID_RUN = re.compile(r"\d{11,}")
ALWAYS = 16
# Identifier columns: an id is not personal data, and a PPS finds the record by it and
# answers by it (tanggapan-v1), so a digit run in one is masked only when it is the nik
# or nkk of a record we hold (an export that uses the nik as the record's id), whatever
# its length: a 16-digit id of the voter-data system stays as it was exported.
ID_COLUMNS = frozenset({"id_pemilih", "id_pantarlih", "id_kelompok"})


def _masker(secrets: set[str], always: float) -> Callable[[re.Match[str]], str]:
    def sub(m: re.Match[str]) -> str:
        run = m.group()
        return (mask_id(run) or "") if len(run) >= always or run in secrets else run

    return sub


def mask_text(
    df: pl.DataFrame, column: str = "keterangan", secrets: set[str] | None = None
) -> pl.DataFrame:
    """Mask nik/nkk in a text column (first 6 + last 2 kept): see ID_RUN; a nik written
    in groups (privacy.GROUPED_IDS) always; invisible characters next to a digit dropped
    first (privacy.NEAR_DIGIT). In an identifier column (ID_COLUMNS) a plain digit run
    only when it is a nik or nkk of `secrets`.

    Producers are expected to mask already; this is the last gate before a file
    leaves, for every text column of a finding (a nik keyed into rt, rw or nama is as
    personal as one in the keterangan). Candidate runs are found with polars; only
    rows holding one of them are rewritten in Python.
    """
    if df.is_empty() or column not in df.columns:
        return df
    secrets = secrets or set()
    col = pl.col(column)
    df = df.with_columns(  # an invisible character between digits hides a nik (privacy)
        pl.when(col.str.contains(NEAR_DIGIT))
        .then(col.str.replace_all(INVISIBLE, ""))
        .otherwise(col)
    )
    always = float("inf") if column in ID_COLUMNS else ALWAYS
    runs = df[column].str.extract_all(ID_RUN.pattern).explode().drop_nulls().unique()
    found = [r for r in runs.to_list() if len(r) >= always or r in secrets]
    grouped = df[column].str.extract_all(GROUPED_IDS_POLARS).explode().drop_nulls().unique()
    found += [r for r in grouped.to_list() if is_grouped_id(r)]
    if not found:
        return df
    hit = df[column].str.contains_any(found).fill_null(False)
    values = df.filter(hit)[column].to_list()
    sub = _masker(secrets, always)
    fixed = [ID_RUN.sub(sub, mask_grouped(v)) for v in values]
    return df.with_columns(df[column].scatter(hit.arg_true(), fixed))


def known_ids(con: duckdb.DuckDBPyConnection, texts: list[pl.Series]) -> set[str]:
    """The digit runs (11 or more digits) of `texts` that are a nik or nkk of a record
    we hold."""
    runs = (
        pl.concat(
            [
                t.str.replace_all(INVISIBLE, "").str.extract_all(ID_RUN.pattern).explode()
                for t in texts
            ]
        )
        .drop_nulls()
        .unique()
    )
    if runs.is_empty():
        return set()
    con.complete()
    con.register("_publish_runs", pl.DataFrame({"v": runs}))
    try:
        # the few runs are the hash side, the records only probe it (the other way round,
        # hashing every nik and nkk held, took ~1 s CPU at 1 M voters)
        rows = con.execute(
            "SELECT nik FROM pemilih WHERE nik IN (SELECT v FROM _publish_runs) "
            "UNION SELECT nkk FROM pemilih WHERE nkk IN (SELECT v FROM _publish_runs)"
        ).fetchall()
    finally:
        con.unregister("_publish_runs")
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
