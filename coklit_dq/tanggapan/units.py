"""What a finding's unit is, and a fingerprint of that unit's data on a night.

A BUKAN_MASALAH answer keeps its finding out of the lists "while its unit's data
stay the same": the fingerprint of the unit is stored when the answer is applied
and compared with the fingerprint on every later night. The unit comes from the
catalog (`unit` of expectations/rules/<KODE>.yaml):

  pemilih    the record: every column of the export but what a visit that changes
             nothing changes (waktu_coklit, the officer holding it, BELUM -> MS: the
             status counts only as BARU, TMS or else)
  tps        jumlah_diturunkan, its handed-down records (BELUM, MS, UBAH, TMS) and
             the gap between its officers' app counters and its visited records:
             what its findings rest on. Not its new (BARU) or struck records, nor the
             counters and visits themselves: all grow every night of coklit, and a
             gap the region explained does not change with them
  desa       the desa's counts of the night (agregat_desa)
  pantarlih  the officer's row

Measured during coklit, a fingerprint of every column lapsed every BUKAN_MASALAH of a
record not yet visited, and of every TPS finding, the next night (review-reader P1-3).
A fingerprint carries its version (VERSION): inbox.refresh_fingerprints takes again,
from the same night, those stored by an earlier version while the warehouse holds that
night; one it cannot (the night pruned) is compared with tonight's fingerprint of its
own version (`sidik_v1`, the columns before VERSION), so an upgrade lapses no answer.
"""

from __future__ import annotations

from functools import cache

from coklit_dq.contract import EXPORT_TABLES
from coklit_dq.rules.catalog import load_catalog

# the columns that say which unit a finding is about, per kind of unit
UNIT_COLUMNS = {
    "pemilih": ("id_pemilih",),
    "tps": ("kode_desa", "no_tps"),
    "desa": ("kode_desa",),
    "pantarlih": ("id_pantarlih",),
}


@cache
def unit_of() -> dict[str, str]:
    """kode_temuan -> unit kind."""
    return {k: r.unit for k, r in load_catalog().items()}


def _hash(cols: list[str], alias: str = "") -> str:
    parts = ", ".join(f"coalesce(CAST({alias}{c} AS VARCHAR), '\u2205')" for c in cols)
    return f"concat_ws('|', {parts})"


VERSION = "2:"
# what a visit that changes nothing changes: left out of a record's fingerprint
_VISIT = ("waktu_coklit", "id_pantarlih", "status_coklit")
_STATUS = "CASE WHEN status_coklit IN ('BELUM', 'MS', 'UBAH') THEN 'aktif' ELSE status_coklit END"


def _pemilih_columns() -> list[str]:
    return [c.name for c in EXPORT_TABLES["pemilih"] if c.name not in _VISIT] + [_STATUS]


# The fingerprints of before VERSION (no prefix): every column but waktu_coklit; a TPS's
# records (all, not TMS, visited) and app counters.
def _pemilih_columns_v1() -> list[str]:
    return [c.name for c in EXPORT_TABLES["pemilih"] if c.name != "waktu_coklit"]


_TPS_V1 = ["s.jumlah_diturunkan", "r.n", "r.a", "r.v", "o.app"]
_TPS = ["s.jumlah_diturunkan", "r.d", "o.app - r.v"]
_DESA = ["n_rekaman", "n_aktif", "n_diturunkan", "jumlah_diturunkan", "n_tps"]

# whether an answer's stored fingerprint (sidik_jawab) is tonight's, in its own version
SAMA = (
    f"(CASE WHEN starts_with(sidik_jawab, '{VERSION}') THEN sidik = sidik_jawab "
    "ELSE sidik_v1 IS NOT DISTINCT FROM sidik_jawab END)"
)


def fingerprint_sql(findings: str, tanggal_param: str = "$tanggal") -> str:
    """SELECT every row of relation `findings` (with kode_temuan, id_pemilih, kode_desa,
    no_tps, id_pantarlih) plus `sidik`: its unit's fingerprint on the night (and
    `sidik_v1`, the same before VERSION)."""
    units = ", ".join(f"('{k}', '{u}')" for k, u in sorted(unit_of().items()))
    pem, pem1 = _pemilih_columns(), _pemilih_columns_v1()
    pan = [c.name for c in EXPORT_TABLES["pantarlih"]]
    t = tanggal_param
    return f"""
WITH u(kode_temuan, unit) AS (VALUES {units}),
p AS (
  SELECT id_pemilih,
         '{VERSION}' || md5(string_agg({_hash(pem)}, '#' ORDER BY {_hash(pem)})) AS sidik,
         md5(string_agg({_hash(pem1)}, '#' ORDER BY {_hash(pem1)})) AS sidik_v1
  FROM pemilih WHERE tanggal_ekspor = {t}
    AND id_pemilih IN (SELECT id_pemilih FROM {findings}) GROUP BY id_pemilih
),
r AS (
  SELECT kode_desa, no_tps, count(*) AS n, count(*) FILTER (WHERE status_coklit <> 'TMS') AS a,
         count(*) FILTER (WHERE status_coklit <> 'BELUM') AS v,
         count(*) FILTER (WHERE status_coklit IN ('BELUM', 'MS', 'UBAH', 'TMS')) AS d
  FROM pemilih WHERE tanggal_ekspor = {t}
    AND kode_desa IN (SELECT kode_desa FROM {findings}) GROUP BY ALL
),
o AS (
  SELECT kode_desa, no_tps, sum(jumlah_tercoklit_app) AS app
  FROM pantarlih WHERE tanggal_ekspor = {t} GROUP BY ALL
),
t AS (
  SELECT s.kode_desa, s.no_tps,
         '{VERSION}' || md5({_hash(_TPS)}) AS sidik, md5({_hash(_TPS_V1)}) AS sidik_v1
  FROM tps s LEFT JOIN r USING (kode_desa, no_tps) LEFT JOIN o USING (kode_desa, no_tps)
  WHERE s.tanggal_ekspor = {t}
),
d AS (
  SELECT kode_desa, '{VERSION}' || md5({_hash(_DESA)}) AS sidik, md5({_hash(_DESA)}) AS sidik_v1
  FROM agregat_desa WHERE tanggal_ekspor = {t}
),
o2 AS (
  SELECT id_pantarlih,
         '{VERSION}' || md5(string_agg({_hash(pan)}, '#' ORDER BY {_hash(pan)})) AS sidik,
         md5(string_agg({_hash(pan)}, '#' ORDER BY {_hash(pan)})) AS sidik_v1
  FROM pantarlih WHERE tanggal_ekspor = {t}
    AND id_pantarlih IN (SELECT id_pantarlih FROM {findings}) GROUP BY id_pantarlih
)
SELECT f.*, CASE u.unit WHEN 'pemilih' THEN p.sidik_v1 WHEN 'tps' THEN t.sidik_v1
                        WHEN 'desa' THEN d.sidik_v1 WHEN 'pantarlih' THEN o2.sidik_v1
            END AS sidik_v1,
            CASE u.unit WHEN 'pemilih' THEN p.sidik WHEN 'tps' THEN t.sidik
                        WHEN 'desa' THEN d.sidik WHEN 'pantarlih' THEN o2.sidik END AS sidik
FROM {findings} f
LEFT JOIN u ON u.kode_temuan = f.kode_temuan
LEFT JOIN p ON u.unit = 'pemilih' AND p.id_pemilih = f.id_pemilih
LEFT JOIN t ON u.unit = 'tps' AND t.kode_desa = f.kode_desa AND t.no_tps = f.no_tps
LEFT JOIN d ON u.unit = 'desa' AND d.kode_desa = f.kode_desa
LEFT JOIN o2 ON u.unit = 'pantarlih' AND o2.id_pantarlih = f.id_pantarlih
"""
