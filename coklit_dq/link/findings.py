"""GANDA_NIK and GANDA_ORANG as findings (RAW_FINDING_SCHEMA), all in DuckDB.

Every record of a group gets one finding; `kunci` is "<id_pemilih>|<smallest
other id_pemilih of its group>" (docs/design.md, duplicate cluster). The
keterangan names the other records by region and masked identifiers only; a
name is shown only when the other record is in the same kabupaten/kota.
Suggestion: keep the record confirmed most recently (waktu_coklit; a BARU record
where the person lives now wins a tie) and strike the others as TMS 2.
"""

from __future__ import annotations

from datetime import date

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
JOIN (SELECT * FROM pemilih WHERE tanggal_ekspor = $tanggal
      QUALIFY row_number() OVER (PARTITION BY id_pemilih ORDER BY baris NULLS LAST) = 1) p
  ON p.id_pemilih = a.unique_id
LEFT JOIN (SELECT * FROM wilayah WHERE tanggal_ekspor = $tanggal) w USING (kode_desa)
"""

_FINDINGS = """
WITH pasangan AS (
  SELECT s.unique_id, s.kode_temuan, o.unique_id AS lain, o.kode_kab AS kab_lain,
         o.urutan AS urutan_lain,
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
         any_value(uraian ORDER BY urutan_lain) FILTER (WHERE urutan_lain = 1) AS simpan
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
         || '): ' || per.uraian || '.'
  END
  || CASE WHEN s.urutan = 1
       THEN ' Saran: pertahankan data ini (dicoklit paling akhir, tempat tinggal sekarang);'
            || ' data lainnya ditandai TMS 2 (ganda) oleh PPS desanya.'
       ELSE ' Saran: pastikan dengan pemilih, lalu tandai data ini TMS 2 (ganda);'
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
        WITH r AS (
          SELECT DISTINCT id_pemilih, nik FROM pemilih
          WHERE tanggal_ekspor = ? AND status_coklit <> 'TMS' AND nik_valid(nik)
        )
        SELECT id_pemilih AS unique_id, 'NIK-' || kelompok_id(nik) AS id_kelompok,
               'GANDA_NIK' AS kode_temuan, NULL::DOUBLE AS match_probability,
               NULL::VARCHAR AS cocok, NULL::VARCHAR AS beda
        FROM r QUALIFY count(*) OVER (PARTITION BY nik) > 1""",
        [tanggal],
    )


# Labels of the gamma levels (highest level first), for "cocok"/"berbeda".
_GAMMA = {
    "nik": ("nik", {3: "sama kecuali bagian tanggal", 2: "beda 1 digit", 1: "beda 2 digit"}),
    "nama": (
        "nama",
        {
            4: "beda 1 huruf",
            3: "nama belakang hilang",
            2: "ejaan mirip",
            1: "hanya nama depan sama",
        },
    ),
    "tgl_lahir": ("tanggal lahir", {2: "hari dan bulan tertukar", 1: "selisih 1 hari"}),
    "jenis_kelamin": ("jenis kelamin", {}),
    "tempat_lahir": ("tempat lahir", {1: "ejaan mirip"}),
    "wilayah": ("wilayah", {}),
}
_TOP = {"nik": 4, "nama": 5, "tgl_lahir": 4, "jenis_kelamin": 1, "tempat_lahir": 2}


def _agree_sql() -> tuple[str, str]:
    agree, differ = [], []
    for col, top in _TOP.items():
        label, partial = _GAMMA[col]
        g = f"gamma_{col}"
        if col == "tgl_lahir":  # 4 same, 3 same placeholder date
            agree.append(
                f"CASE WHEN {g} = 4 THEN '{label}' WHEN {g} = 3 THEN "
                f"'{label} (tanggal pengganti)' END"
            )
            parts = " ".join(f"WHEN {g} = {k} THEN '{label}: {v}'" for k, v in partial.items())
            differ.append(f"CASE {parts} WHEN {g} = 0 THEN '{label}' END")
            continue
        agree.append(f"CASE WHEN {g} = {top} THEN '{label}' END")
        parts = " ".join(f"WHEN {g} = {k} THEN '{label}: {v}'" for k, v in partial.items())
        differ.append(f"CASE {parts} WHEN {g} = 0 THEN '{label}' END")
    return (
        "concat_ws(', ', " + ", ".join(agree) + ")",
        "concat_ws(', ', " + ", ".join(differ) + ")",
    )


def ganda_orang_members(con: duckdb.DuckDBPyConnection, edges: str, clusters: str) -> None:
    """_link_anggota for GANDA_ORANG from the clustered edges: each record's best edge
    gives its probability and which fields agree and differ."""
    agree, differ = _agree_sql()
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
               {agree} AS cocok, {differ} AS beda
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
