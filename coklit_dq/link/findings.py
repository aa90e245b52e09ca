"""GANDA_NIK and GANDA_ORANG as findings (RAW_FINDING_SCHEMA), all in DuckDB.

Every record of a group gets one finding; `kunci` is "<id_pemilih>|<smallest
other id_pemilih of its group>" (docs/design.md, duplicate cluster). The
keterangan names the other records by region and masked identifiers only; a
name is shown only when the other record is in the same kabupaten/kota.
Suggestion: keep the record confirmed most recently (waktu_coklit; a BARU record
where the person lives now wins a tie) and strike the others: TMS 2 (ganda) in its desa,
TMS 4 (pindah) in another.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import duckdb
import polars as pl

from coklit_dq.contract import RAW_FINDING_SCHEMA

# Members of every group: temp table _link_anggota(unique_id, id_kelompok, kode_temuan,
# match_probability, cocok, beda) built by the callers below.
_ANGGOTA_INFO = """
CREATE OR REPLACE TEMP TABLE _link_info AS
SELECT a.*, p.nik, p.nama, p.kode_desa, p.no_tps, p.id_pantarlih, p.status_coklit,
       p.waktu_coklit, w.nama_desa, w.nama_kab,
       substr(p.kode_desa, 1, 4) AS kode_kab,
       row_number() OVER (PARTITION BY a.kode_temuan, a.id_kelompok
         ORDER BY p.waktu_coklit DESC NULLS LAST, (p.status_coklit = 'BARU') DESC,
                  a.unique_id) AS urutan
FROM _link_anggota a
JOIN (SELECT * FROM pemilih SEMI JOIN _link_anggota m ON m.unique_id = pemilih.id_pemilih
      WHERE tanggal_ekspor = $tanggal
      QUALIFY row_number() OVER (PARTITION BY id_pemilih ORDER BY baris NULLS LAST) = 1) p
  ON p.id_pemilih = a.unique_id
LEFT JOIN (SELECT * FROM wilayah WHERE tanggal_ekspor = $tanggal) w USING (kode_desa)
"""

_FINDINGS = """
WITH pasangan AS (
  SELECT s.unique_id, s.kode_temuan, o.unique_id AS lain, o.kode_kab AS kab_lain,
         o.urutan AS urutan_lain, o.kode_desa = s.kode_desa AS desa_sama,
         CASE WHEN o.kode_kab = s.kode_kab
              THEN o.unique_id || ', NIK '
                   || coalesce(CASE WHEN $mask THEN mask_id(o.nik) ELSE o.nik END, '-')
                   || ', Desa ' || coalesce(o.nama_desa, '?') || ' (' || o.kode_desa || ')'
              ELSE 'NIK ' || coalesce(CASE WHEN $mask THEN mask_id(o.nik) ELSE o.nik END, '-')
                   || ', Desa ' || coalesce(o.nama_desa, '?') || ' (' || o.kode_desa || '), '
                   || coalesce(o.nama_kab, '?') || ' (' || o.kode_kab || ')'
         END AS uraian
  FROM _link_info s JOIN _link_info o
    ON o.kode_temuan = s.kode_temuan AND o.id_kelompok = s.id_kelompok
   AND o.unique_id <> s.unique_id
), per AS (
  SELECT unique_id, kode_temuan, min(lain) AS lain_terkecil, count(*) AS n_lain,
         string_agg(uraian, '; ' ORDER BY lain) AS uraian,
         any_value(uraian ORDER BY urutan_lain) FILTER (WHERE urutan_lain = 1) AS simpan,
         -- the record struck: TMS 2 (ganda) in the kept record's desa, TMS 4 (pindah) where
         -- its person lived before (domain.md: added where they live now, not struck there)
         CASE WHEN bool_and(desa_sama) THEN 'TMS 2 (ganda)'
              WHEN NOT bool_or(desa_sama) THEN 'TMS 4 (pindah)'
              ELSE 'TMS 2 (ganda) atau TMS 4 (pindah)' END AS tms_lain,
         CASE WHEN any_value(desa_sama) FILTER (WHERE urutan_lain = 1)
              THEN 'TMS 2 (ganda)' ELSE 'TMS 4 (pindah)' END AS tms_ini
  FROM pasangan GROUP BY ALL
)
SELECT
  s.kode_temuan,
  $tingkat_nik AS tingkat_nik, $tingkat_orang AS tingkat_orang,
  substr(s.kode_desa, 1, 2) AS kode_prov, substr(s.kode_desa, 1, 4) AS kode_kab,
  substr(s.kode_desa, 1, 6) AS kode_kec, s.kode_desa, s.no_tps, s.unique_id AS id_pemilih,
  s.id_pantarlih, s.id_kelompok,
  CASE WHEN s.kode_temuan = 'GANDA_NIK'
    THEN 'NIK ' || CASE WHEN $mask THEN mask_id(s.nik) ELSE s.nik END || ' juga tercatat pada '
         || per.n_lain || ' data pemilih lain yang tidak TMS: ' || per.uraian || '.'
    ELSE 'Kemungkinan orang yang sama dengan ' || per.n_lain || ' data pemilih lain (probabilitas '
         || 'kecocokan ' || CASE WHEN s.match_probability >= 0.9995 THEN '> 99,9'
              ELSE replace(printf('%.1f', 100 * s.match_probability), '.', ',') END || '%; cocok: '
         || coalesce(nullif(s.cocok, ''), '-') || '; berbeda: ' || coalesce(nullif(s.beda, ''), '-')
         || coalesce('; ' || nullif(s.konteks, ''), '') || '): ' || per.uraian || '.'
  END
  || CASE WHEN s.urutan = 1
       THEN ' Saran: pertahankan data ini (dicoklit paling akhir, tempat tinggal sekarang);'
            || ' data lainnya ditandai ' || per.tms_lain || ' oleh PPS desanya.'
       ELSE ' Saran: pastikan dengan pemilih, lalu tandai data ini ' || per.tms_ini || ';'
            || ' pertahankan data yang dicoklit paling akhir (' || per.simpan || ').'
     END AS keterangan,
  s.unique_id || '|' || per.lain_terkecil AS kunci
FROM _link_info s JOIN per USING (unique_id, kode_temuan)
ORDER BY s.kode_temuan, s.id_kelompok, s.unique_id
"""


def ganda_nik_members(con: duckdb.DuckDBPyConnection, tanggal: date) -> None:
    """_link_anggota for GANDA_NIK: a valid nik on 2+ records that are not TMS, nationally."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _link_anggota AS
        WITH night AS (
          SELECT id_pemilih, nik FROM pemilih WHERE tanggal_ekspor = ? AND status_coklit <> 'TMS'
        ), shared AS (  -- niks on 2+ ids, found before the pattern is checked on the few
          SELECT nik FROM night GROUP BY nik HAVING min(id_pemilih) < max(id_pemilih)
        ), r AS (
          SELECT DISTINCT id_pemilih, nik FROM night SEMI JOIN shared USING (nik)
          WHERE nik_valid(nik)
        )
        SELECT id_pemilih AS unique_id, 'NIK-' || kelompok_id(nik) AS id_kelompok,
               'GANDA_NIK' AS kode_temuan, NULL::DOUBLE AS match_probability,
               NULL::VARCHAR AS cocok, NULL::VARCHAR AS beda, NULL::VARCHAR AS konteks
        FROM r QUALIFY count(*) OVER (PARTITION BY nik) > 1""",
        [tanggal],
    )


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def level_labels(model: dict[str, Any]) -> dict[str, dict[int, tuple[str, bool]]]:
    """comparison -> {gamma value: (label, agrees)}, read from the trained model.

    Splink numbers a comparison's levels from the top: the null level is -1, the
    others count down to 0 in declared order. The first non-null level is the exact
    agreement, and every level carrying its words agrees: a gated comparison
    (settings.GATES) declares it once per branch (its m is copied by label too)."""
    out: dict[str, dict[int, tuple[str, bool]]] = {}
    for comp in model["comparisons"]:
        levels = comp["comparison_levels"]
        n = sum(1 for lv in levels if not lv.get("is_null_level"))
        table: dict[int, tuple[str, bool]] = {}
        j = 0
        top: str | None = None
        for lv in levels:
            label = str(lv.get("label_for_charts") or comp["output_column_name"])
            if lv.get("is_null_level"):
                table[-1] = (label, False)
                continue
            top = top or label
            table[n - 1 - j] = (label, label == top)
            j += 1
        out[comp["output_column_name"]] = table
    return out


def _agree_sql(model: dict[str, Any]) -> tuple[str, str, str]:
    """SQL of three texts over a pair's gamma columns: the fields that agree, those that
    differ, and the context (model_settings.KETERANGAN_KONTEKS), in the model's words."""
    from linkage import settings as model_settings

    agree, differ, context = [], [], []
    for col, table in level_labels(model).items():
        g = f"gamma_{col}"
        if col in model_settings.KETERANGAN_KONTEKS:
            whens = " ".join(f"WHEN {g} = {k} THEN {_sql_text(t)}" for k, (t, _) in table.items())
            context.append(f"CASE {whens} END")
            continue
        yes = " ".join(f"WHEN {g} = {k} THEN {_sql_text(t)}" for k, (t, a) in table.items() if a)
        no = " ".join(f"WHEN {g} = {k} THEN {_sql_text(t)}" for k, (t, a) in table.items() if not a)
        agree.append(f"CASE {yes} END")
        differ.append(f"CASE {no} END")
    return tuple(  # type: ignore[return-value]
        "concat_ws(', ', " + ", ".join(parts) + ")" for parts in (agree, differ, context)
    )


def ganda_orang_members(
    con: duckdb.DuckDBPyConnection, edges: str, clusters: str, model: dict[str, Any]
) -> None:
    """_link_anggota for GANDA_ORANG from the clustered edges: each record's best edge
    gives its probability and which fields agree and differ (the labels of the model's
    comparison levels)."""
    agree, differ, context = _agree_sql(model)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _link_anggota AS
        WITH e AS (
          SELECT id_l AS unique_id, * EXCLUDE (id_l, id_r) FROM {edges}
          UNION ALL SELECT id_r, * EXCLUDE (id_l, id_r) FROM {edges}
        ), best AS (
          SELECT * FROM e QUALIFY row_number() OVER (
            PARTITION BY unique_id ORDER BY match_probability DESC) = 1
        )
        SELECT c.unique_id, 'ORANG-' || kelompok_id(c.klaster) AS id_kelompok,
               'GANDA_ORANG' AS kode_temuan, b.match_probability,
               {agree} AS cocok, {differ} AS beda, {context} AS konteks
        FROM {clusters} c JOIN best b USING (unique_id)"""
    )


def findings(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    *,
    tingkat: dict[str, str],
    mask: bool = True,
) -> pl.DataFrame:
    """The findings of the members in _link_anggota, in RAW_FINDING_SCHEMA."""
    con.execute(_ANGGOTA_INFO, {"tanggal": tanggal})
    params = {
        "mask": mask,
        "tingkat_nik": tingkat["GANDA_NIK"],
        "tingkat_orang": tingkat["GANDA_ORANG"],
    }
    df = pl.from_arrow(con.sql(_FINDINGS, params=params).to_arrow_table())
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(
        tingkat=pl.when(pl.col("kode_temuan") == "GANDA_NIK")
        .then(pl.col("tingkat_nik"))
        .otherwise(pl.col("tingkat_orang"))
    )
    return df.select(list(RAW_FINDING_SCHEMA.names())).cast(RAW_FINDING_SCHEMA)
