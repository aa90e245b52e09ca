"""Replace a night in the warehouse, in one transaction.

runs (state 'running'), files (every file: used or quarantined, with its
reason), the snapshots from the checked files, agregat_desa, and pruning of
snapshots the checks no longer need.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from coklit_dq import warehouse
from coklit_dq.contract import EXPORT_TABLES, STATUS_DITURUNKAN, code_sql
from coklit_dq.ingest.readers import Checked, DiskFull, disk_full, q


@dataclass
class FileRow:
    path: str
    tabel: str | None
    kode_prov: str | None
    rows: int | None
    state: str  # used | quarantined
    reason: dict[str, Any] | None
    checked: Checked | None = None


AGREGAT_SQL = f"""
INSERT INTO agregat_desa
WITH p AS (
  SELECT kode_desa,
    count(*) AS n_rekaman,
    count(*) FILTER (WHERE status_coklit = 'BELUM') AS n_belum,
    count(*) FILTER (WHERE status_coklit = 'MS') AS n_ms,
    count(*) FILTER (WHERE status_coklit = 'UBAH') AS n_ubah,
    count(*) FILTER (WHERE status_coklit = 'BARU') AS n_baru,
    count(*) FILTER (WHERE status_coklit = 'TMS') AS n_tms,
    count(*) FILTER (WHERE status_coklit IS DISTINCT FROM 'TMS') AS n_aktif,
    count(*) FILTER (WHERE status_coklit IN ({", ".join(f"'{s}'" for s in STATUS_DITURUNKAN)}))
      AS n_diturunkan
  FROM pemilih WHERE tanggal_ekspor = $tanggal AND kode_desa IS NOT NULL
  GROUP BY kode_desa
), t AS (
  SELECT kode_desa, sum(jumlah_diturunkan) AS jumlah_diturunkan, count(*) AS n_tps
  FROM tps WHERE tanggal_ekspor = $tanggal AND kode_desa IS NOT NULL
  GROUP BY kode_desa
), d AS (
  SELECT kode_desa FROM p
  UNION SELECT kode_desa FROM t
  UNION SELECT kode_desa FROM wilayah WHERE tanggal_ekspor = $tanggal AND kode_desa IS NOT NULL
)
SELECT $tanggal, left(d.kode_desa, 2), left(d.kode_desa, 4), left(d.kode_desa, 6), d.kode_desa,
  coalesce(p.n_rekaman, 0), coalesce(p.n_belum, 0), coalesce(p.n_ms, 0), coalesce(p.n_ubah, 0),
  coalesce(p.n_baru, 0), coalesce(p.n_tms, 0), coalesce(p.n_aktif, 0), coalesce(p.n_diturunkan, 0),
  CASE WHEN $tps_loaded THEN coalesce(t.jumlah_diturunkan, 0) END,
  CASE WHEN $tps_loaded THEN coalesce(t.n_tps, 0) END
FROM d LEFT JOIN p USING (kode_desa) LEFT JOIN t USING (kode_desa)
-- only provinces whose voters were loaded tonight: a quarantined or missing
-- province must not look like a province whose voters all vanished; and only
-- valid desa codes (their prefixes become folders of the outbox): a record with
-- any other kode_desa is a finding of its own, listed nationally
WHERE list_contains($provinces, left(d.kode_desa, 2)) AND {code_sql("kode_desa", "d.kode_desa")}
"""


def _rollback(con: duckdb.DuckDBPyConnection, exc: BaseException) -> None:
    """Undo the night; when DuckDB already aborted the transaction (a full disk, an I/O
    error), its own error is the one to report, not 'cannot rollback'."""
    with contextlib.suppress(duckdb.Error):  # gone already when DuckDB aborted it: `exc` says why
        con.execute("ROLLBACK")
    if not isinstance(exc, DiskFull):
        disk_full(exc)


def load_night(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    *,
    dibuat: datetime | None,
    source: str,
    started_at: datetime,
    files: list[FileRow],
) -> list[date]:
    """Replace the night and prune; returns the nights whose snapshots were dropped."""
    used_tables = {f.tabel for f in files if f.state == "used"}
    provinces = sorted({f.kode_prov for f in files if f.state == "used" and f.kode_prov})
    # baris is explicit, so the load needs no order: let DuckDB insert in parallel
    # and stream without keeping rows in file order (the setting is put back after).
    con.execute("SET preserve_insertion_order = false")
    con.execute("BEGIN TRANSACTION")
    try:
        warehouse.begin_run(con, tanggal, dibuat=dibuat, source=source, started_at=started_at)
        for t in (*warehouse.SNAPSHOT_TABLES, "files", "agregat_desa"):
            con.execute(f"DELETE FROM {t} WHERE tanggal_ekspor = ?", [tanggal])
        for f in files:
            con.execute(
                "INSERT INTO files (tanggal_ekspor, path, tabel, kode_prov, rows, state, reason) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    tanggal,
                    f.path,
                    f.tabel,
                    f.kode_prov,
                    f.rows,
                    f.state,
                    json.dumps(f.reason, ensure_ascii=False) if f.reason else None,
                ],
            )
        for f in files:
            if f.state != "used" or f.checked is None or f.tabel is None:
                continue
            cols = [c.name for c in EXPORT_TABLES[f.tabel]]
            names = ", ".join(q(c) for c in cols)
            if f.tabel == "pemilih":
                con.execute(
                    f"INSERT INTO pemilih (tanggal_ekspor, {names}, baris, nilai_tidak_valid) "
                    f"SELECT ?::DATE, * FROM ({f.checked.select_sql})",
                    [tanggal],
                )
            elif f.tabel in warehouse.UNREADABLE_TABLES:
                con.execute(
                    f"INSERT INTO {f.tabel} (tanggal_ekspor, {names}, nilai_tidak_valid) "
                    f"SELECT ?::DATE, * EXCLUDE (baris) FROM ({f.checked.select_sql})",
                    [tanggal],
                )
            else:
                con.execute(
                    f"INSERT INTO {f.tabel} (tanggal_ekspor, {names}) "
                    f"SELECT ?::DATE, * EXCLUDE (baris, nilai_tidak_valid) "
                    f"FROM ({f.checked.select_sql})",
                    [tanggal],
                )
        con.execute(
            AGREGAT_SQL,
            {"tanggal": tanggal, "tps_loaded": "tps" in used_tables, "provinces": provinces},
        )
        dropped = warehouse.prune_snapshots(con, tanggal)
        con.execute("COMMIT")
    except BaseException as exc:
        _rollback(con, exc)
        raise
    finally:
        con.execute("SET preserve_insertion_order = true")  # ingest_night restores the caller's
    return dropped
