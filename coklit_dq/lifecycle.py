"""Stage 5: tonight's findings against the history.

    record_findings(con, tanggal, raw, hari_pemungutan=None) -> LifecycleResult

- A finding is the same finding on two nights when its kode_temuan and kunci
  are the same (reports-v1; kunci conventions in docs/design.md).
- A finding is *open* from the night it is first found until a night that
  resolves it. Open before tonight and found again: BERULANG, keeping its
  pertama_ditemukan; else BARU, first found tonight. Normally "open before
  tonight" is "found the night before"; the difference is a night that could
  not tell (the province's file set aside, the linkage step failed): its open
  findings stay open through that night instead of coming back as new.
- Open findings that are gone tonight are resolved: copied (as last found)
  into temuan_selesai with tanggal_selesai = tonight, except where tonight
  cannot tell: their province's pemilih file was not used tonight
  (quarantined or missing), another record of their group (id_kelompok: a
  duplicate's partner, a split family) sits in such a province, or the rule
  needs a table whose file was not used tonight (`butuh_tabel`: tps, pantarlih).
- Findings of a change between two nights (DATA_HILANG, STATUS_TIDAK_WAJAR,
  PENURUNAN_TAJAM: `Rule.peristiwa`) belong to the night they are seen: they
  are open for that night only and never listed as resolved (a record still
  missing tomorrow is not fixed).
- A change to a record (those codes with unit pemilih) still stands on a later
  night while the record is as the change left it (KEADAAN: absent, or its
  status class BELUM / MS-UBAH / BARU / TMS and code). The contract lists the
  change on its night only, so those that stand are kept apart, night by night
  (perubahan_berlanjut: tonight's changes, and last night's standing ones whose
  record is unchanged tonight, or whose province's file was set aside tonight), for
  the publication to show beside the list, where the record is tonight
  (review-reader P1-2: a PPS who missed one morning never saw a deceased voter
  set back to eligible). A record that changes again resolves it.
- The night's rows of temuan, temuan_selesai and perubahan_berlanjut are
  replaced, in one transaction, so a rerun of the night gives the same rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from coklit_dq import warehouse
from coklit_dq.contract import RAW_FINDING_SCHEMA, STORED_FINDING_COLUMNS
from coklit_dq.findings import complete_findings
from coklit_dq.rules.catalog import load_catalog

log = logging.getLogger(__name__)


# Open findings before tonight: the last time each (kode_temuan, kunci) was found,
# unless a later night before tonight resolved it; a change between two nights
# ($3: event codes) is open only on the night it was seen ($2: last night).
# Only nights the warehouse holds count: a night killed after its findings were recorded
# never published them, and is read as if it had not run (warehouse.HELD_NIGHTS_SQL).
OPEN_FINDINGS_SQL = f"""
CREATE OR REPLACE TEMP TABLE _temuan_terbuka AS
SELECT l.* FROM temuan l
WHERE l.tanggal_ekspor < CAST($1 AS DATE)
  AND l.tanggal_ekspor IN ({warehouse.HELD_NIGHTS_SQL})
  AND (NOT list_contains($3::VARCHAR[], l.kode_temuan) OR l.tanggal_ekspor = $2::DATE)
  AND NOT EXISTS (SELECT 1 FROM temuan_selesai s
                  WHERE s.kode_temuan = l.kode_temuan AND s.kunci = l.kunci
                    AND s.tanggal_selesai > l.tanggal_ekspor
                    AND s.tanggal_selesai < CAST($1 AS DATE)
                    AND s.tanggal_selesai IN ({warehouse.HELD_NIGHTS_SQL}))
QUALIFY row_number() OVER (PARTITION BY l.kode_temuan, l.kunci
                           ORDER BY l.tanggal_ekspor DESC) = 1
"""


# A record's state that a change leaves: absent, or its status class (a visit that
# confirms, MS or UBAH, leaves it as it was).
KEADAAN = (
    "CASE WHEN status_coklit IN ('MS', 'UBAH') THEN 'aktif' "
    "WHEN status_coklit = 'TMS' THEN 'TMS ' || coalesce(CAST(kode_tms AS VARCHAR), '') "
    "ELSE coalesce(status_coklit, '?') END"
)
# $1 tonight, $2 last night (NULL: none), $3 the codes of changes to a record, $4 the
# provinces loaded tonight: a province whose file was set aside cannot tell, and its
# changes stand as they stood (its records are carried forward only after this step).
STANDING_SQL = f"""
INSERT INTO perubahan_berlanjut
WITH c AS (
  SELECT kode_temuan, kunci, id_pemilih, kode_prov, CAST($1 AS DATE) AS tanggal_perubahan,
         NULL::VARCHAR AS keadaan_lalu
  FROM temuan WHERE tanggal_ekspor = CAST($1 AS DATE) AND list_contains($3::VARCHAR[], kode_temuan)
  UNION ALL
  SELECT b.kode_temuan, b.kunci, b.id_pemilih, b.kode_prov, b.tanggal_perubahan, b.keadaan
  FROM perubahan_berlanjut b
  WHERE b.tanggal_ekspor = CAST($2 AS DATE)
    AND NOT EXISTS (SELECT 1 FROM temuan t WHERE t.tanggal_ekspor = CAST($1 AS DATE)
                    AND t.kode_temuan = b.kode_temuan AND t.kunci = b.kunci)
),
k AS (
  SELECT id_pemilih, string_agg(DISTINCT {KEADAAN}, ',' ORDER BY {KEADAAN}) AS keadaan
  FROM pemilih
  WHERE tanggal_ekspor = CAST($1 AS DATE) AND id_pemilih IN (SELECT id_pemilih FROM c)
  GROUP BY id_pemilih
),
n AS (
  SELECT c.*, list_contains($4::VARCHAR[], c.kode_prov) AS tahu,
         coalesce(k.keadaan, 'tidak ada') AS keadaan
  FROM c LEFT JOIN k USING (id_pemilih)
)
SELECT CAST($1 AS DATE), kode_temuan, kunci, id_pemilih, kode_prov, tanggal_perubahan,
       CASE WHEN tahu OR keadaan_lalu IS NULL THEN keadaan ELSE keadaan_lalu END
FROM n
WHERE keadaan_lalu IS NULL OR keadaan_lalu = keadaan OR NOT tahu
"""


# The findings of earlier nights' changes that still stand tonight, as they were found
# (reports-v1 columns), with the night of the change: shown beside tonight's list. A
# record still there is shown where it is tonight, with its data of tonight (the region
# that now holds it acts; the old one no longer sees a voter it does not hold).
def standing_as_found(night: str) -> str:
    """SQL of the findings of earlier nights' changes that still stand on `night` (a SQL
    value or parameter): their rows of temuan as found, with `tanggal_perubahan`. The one
    definition the publication and the answers read."""
    return f"""
SELECT t.*, b.tanggal_perubahan
FROM perubahan_berlanjut b
JOIN temuan t ON t.tanggal_ekspor = b.tanggal_perubahan AND t.kode_temuan = b.kode_temuan
 AND t.kunci = b.kunci
WHERE b.tanggal_ekspor = {night} AND b.tanggal_perubahan < {night}
"""


STANDING_FINDINGS_SQL = f"""
WITH s AS ({standing_as_found("$1")}),
p AS (
  SELECT id_pemilih, any_value(kode_desa ORDER BY baris) AS kode_desa,
         any_value(no_tps ORDER BY baris) AS no_tps, any_value(nama ORDER BY baris) AS nama,
         any_value(alamat ORDER BY baris) AS alamat, any_value(rt ORDER BY baris) AS rt,
         any_value(rw ORDER BY baris) AS rw
  FROM pemilih WHERE tanggal_ekspor = $1 AND id_pemilih IN (SELECT id_pemilih FROM s)
  GROUP BY id_pemilih
),
w AS (
  SELECT DISTINCT kode_prov, kode_kab, kode_kec, nama_kec, kode_desa, nama_desa FROM wilayah
  WHERE tanggal_ekspor = (SELECT max(tanggal_ekspor) FROM wilayah WHERE tanggal_ekspor <= $1)
)
SELECT s.* REPLACE (
         coalesce(w.kode_prov, s.kode_prov) AS kode_prov,
         coalesce(w.kode_kab, s.kode_kab) AS kode_kab,
         coalesce(w.kode_kec, s.kode_kec) AS kode_kec,
         coalesce(w.kode_desa, s.kode_desa) AS kode_desa,
         CASE WHEN w.kode_desa IS NULL THEN s.no_tps ELSE p.no_tps END AS no_tps,
         coalesce(w.nama_kec, s.nama_kec) AS nama_kec,
         coalesce(w.nama_desa, s.nama_desa) AS nama_desa,
         CASE WHEN p.id_pemilih IS NULL THEN s.nama ELSE p.nama END AS nama,
         CASE WHEN p.id_pemilih IS NULL THEN s.alamat ELSE p.alamat END AS alamat,
         CASE WHEN p.id_pemilih IS NULL THEN s.rt ELSE p.rt END AS rt,
         CASE WHEN p.id_pemilih IS NULL THEN s.rw ELSE p.rw END AS rw)
FROM s
LEFT JOIN p ON p.id_pemilih = s.id_pemilih
LEFT JOIN w ON w.kode_desa = p.kode_desa
"""


def standing_findings(con: duckdb.DuckDBPyConnection, tanggal: date) -> pl.DataFrame:
    """Changes to records found on earlier nights that still stand on night `tanggal`:
    their findings as found (every stored column), and `tanggal_perubahan`."""
    return con.sql(STANDING_FINDINGS_SQL, params=[tanggal]).pl()


@dataclass(frozen=True)
class LifecycleResult:
    tanggal: date
    previous: date | None
    n_temuan: int
    n_baru: int
    n_berulang: int
    n_selesai: int


def _columns(prefix: str = "") -> str:
    return ", ".join(f"{prefix}{c}" for c in STORED_FINDING_COLUMNS)


# tonight's row (r) against the open finding (l): the lifecycle's own three columns
_LIFECYCLE = {
    "tanggal_ekspor": "CAST($1 AS DATE)",
    "status_temuan": "CASE WHEN l.kunci IS NULL THEN 'BARU' ELSE 'BERULANG' END",
    "pertama_ditemukan": "coalesce(l.pertama_ditemukan, CAST($1 AS DATE))",
}


def _tonight() -> str:
    return ", ".join(_LIFECYCLE.get(c, f"r.{c}") for c in STORED_FINDING_COLUMNS)


def _count(con: duckdb.DuckDBPyConnection, sql: str, tanggal: date) -> int:
    # fetchall: DuckDB 2 keeps a partly fetched result open on the connection
    return int(con.execute(sql, [tanggal]).fetchall()[0][0])


def record_findings(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    raw: pl.DataFrame,
    *,
    hari_pemungutan: date | None = None,
) -> LifecycleResult:
    """Write tonight's findings into temuan and the resolved ones into temuan_selesai.

    Each row is completed first (findings.complete_findings: whose record, who acts,
    prioritas; usia on `hari_pemungutan`)."""
    lalu = warehouse.previous_night(con, tanggal)
    loaded = warehouse.loaded_provinces(con, tanggal)
    catalog = load_catalog()
    absent = warehouse.tables_set_aside(con, tanggal)
    events = [k for k, r in catalog.items() if r.peristiwa]
    to_record = [k for k, r in catalog.items() if r.peristiwa and r.unit == "pemilih"]
    # never resolved tonight: changes between two nights, and rules blind tonight
    keep_open = events + [k for k, r in catalog.items() if set(r.butuh_tabel) & absent]
    # officer findings come from the country-wide pantarlih file, not a province's file
    officer = [k for k, r in catalog.items() if r.unit == "pantarlih"]
    # One finding per code and unit (a producer's duplicate would break "same finding").
    frame = raw.select(pl.col(c).cast(t) for c, t in RAW_FINDING_SCHEMA.items()).unique(
        subset=["kode_temuan", "kunci"], keep="first", maintain_order=True
    )
    frame = complete_findings(con, tanggal, frame, hari_pemungutan)
    con.register("_temuan_malam_ini", frame.to_arrow())
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("DELETE FROM temuan WHERE tanggal_ekspor = ?", [tanggal])
            con.execute("DELETE FROM temuan_selesai WHERE tanggal_selesai = ?", [tanggal])
            con.execute("DELETE FROM perubahan_berlanjut WHERE tanggal_ekspor = ?", [tanggal])
            con.execute(OPEN_FINDINGS_SQL, [tanggal, lalu, events])
            con.execute(
                f"""
                INSERT INTO temuan ({_columns()})
                SELECT {_tonight()}
                FROM _temuan_malam_ini r
                LEFT JOIN _temuan_terbuka l
                  ON l.kode_temuan = r.kode_temuan AND l.kunci = r.kunci
                """,
                [tanggal],
            )
            con.execute(STANDING_SQL, [tanggal, lalu, to_record, loaded])
            if lalu is not None:
                con.execute(
                    f"""
                    INSERT INTO temuan_selesai ({_columns()}, tanggal_selesai)
                    SELECT {_columns("l.")}, CAST($1 AS DATE)
                    FROM _temuan_terbuka l
                    WHERE $2 IS NOT NULL
                      AND NOT EXISTS (SELECT 1 FROM _temuan_malam_ini r
                                      WHERE r.kode_temuan = l.kode_temuan AND r.kunci = l.kunci)
                      AND (list_contains($5::VARCHAR[], l.kode_temuan) OR l.kode_prov IS NULL
                           OR list_contains($3::VARCHAR[], l.kode_prov))
                      AND NOT list_contains($4::VARCHAR[], l.kode_temuan)
                      -- a group with a member in a province not loaded tonight
                      AND NOT (l.id_kelompok IS NOT NULL AND EXISTS (
                        SELECT 1 FROM temuan g
                        WHERE g.tanggal_ekspor = l.tanggal_ekspor
                          AND g.kode_temuan = l.kode_temuan AND g.id_kelompok = l.id_kelompok
                          AND g.kode_prov IS NOT NULL
                          AND NOT list_contains($3::VARCHAR[], g.kode_prov)))
                    """,
                    [tanggal, lalu, loaded, keep_open, officer],
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.unregister("_temuan_malam_ini")
        con.execute("DROP TABLE IF EXISTS _temuan_terbuka")
    (counts,) = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE status_temuan = 'BARU'), "
        "count(*) FILTER (WHERE status_temuan = 'BERULANG') FROM temuan WHERE tanggal_ekspor = ?",
        [tanggal],
    ).fetchall()
    n_selesai = _count(
        con, "SELECT count(*) FROM temuan_selesai WHERE tanggal_selesai = ?", tanggal
    )
    result = LifecycleResult(
        tanggal=tanggal,
        previous=lalu,
        n_temuan=int(counts[0]),
        n_baru=int(counts[1]),
        n_berulang=int(counts[2]),
        n_selesai=n_selesai,
    )
    log.info(
        "findings of %s: %d (%d new, %d recurring), %d resolved since %s",
        tanggal,
        result.n_temuan,
        result.n_baru,
        result.n_berulang,
        result.n_selesai,
        lalu,
    )
    return result
