"""The warehouse tables of the responses (tanggapan-v1), created if missing.

tanggapan_berkas   every response file that arrived: where, when, its sha256
                   (which decides "already read"), its bytes (nothing a region
                   sent is lost), used or set aside whole, and why
tanggapan_dipakai  every row applied: the finding it names (kode_temuan, kunci,
                   taken from the warehouse, never from the file), the answer,
                   and for BUKAN_MASALAH the fingerprint of the unit's data
tanggapan_ditolak  every row set aside: file, row, column, reason, and the
                   row's values as text
tanggapan_label    clerical decisions on GANDA_ORANG pairs (id_l < id_r):
                   cocok false = "not the same person" (BUKAN_MASALAH),
                   true = fixed as a duplicate (SUDAH_DIPERBAIKI)
"""

from __future__ import annotations

import duckdb

# the values of a row as sent (contract columns), kept as text
ROW_COLUMNS = (
    "kode_temuan",
    "id_pemilih",
    "id_pantarlih",
    "kode_desa",
    "no_tps",
    "id_kelompok",
    "tanggapan",
    "alasan",
    "petugas",
)
_ROW_DDL = ",\n  ".join(f"{c} VARCHAR" for c in ROW_COLUMNS)

# "The latest answer counts" (tanggapan-v1), one ordering for every reader: about the
# latest list; then the one that arrived last: read by a later night, or of one night's
# files the one the inbox says was written last (its modification time), then read last.
# Over rows of `with_arrival`.
LATEST_FIRST = (
    "ORDER BY tanggal_daftar DESC, dibaca_malam DESC, coalesce(waktu_berkas, diterima) DESC, "
    "diterima DESC, lokasi DESC"
)


def with_arrival(table: str) -> str:
    """Rows of tanggapan_dipakai or tanggapan_label with their file's night of reading
    (dibaca_malam), the night held before it then (malam_sebelum) and modification time
    (waktu_berkas), for LATEST_FIRST and COUNTS_FOR_NIGHT."""
    return (
        f"(SELECT r.*, b.tanggal_proses AS dibaca_malam, b.malam_sebelum, b.waktu_berkas "
        f"FROM {table} r JOIN tanggapan_berkas b USING (sha256))"
    )


# The answers night $tanggal counts (over rows of `with_arrival`): about an earlier list,
# read when $tanggal had not run yet, i.e. the night held before the reading night was
# earlier than $tanggal. So a rerun of a night sees what its first run saw (a file read
# by a later night arrived after it ran), and a night run late, behind later nights (a
# backfill), sees the answers that arrived before any night after their list ran, as a
# night run in order would have. Files read before malam_sebelum was kept: read by
# $tanggal's run or before.
COUNTS_FOR_NIGHT = (
    "tanggal_daftar < $tanggal AND coalesce(malam_sebelum < $tanggal, dibaca_malam <= $tanggal)"
)


SCHEMA = [
    """CREATE TABLE IF NOT EXISTS tanggapan_berkas (
  sha256 VARCHAR PRIMARY KEY,
  path VARCHAR NOT NULL,      -- relative to the inbox root
  tanggal_daftar DATE,        -- the night of the list answered (from the path)
  kode_prov VARCHAR,          -- from the path, only when a valid code
  kode_kab VARCHAR,
  diterima TIMESTAMPTZ NOT NULL,  -- when this pipeline first read it
  waktu_berkas TIMESTAMPTZ,       -- the file's modification time in the inbox, if known
  tanggal_proses DATE NOT NULL,   -- the night whose run read it
  ukuran BIGINT NOT NULL,
  isi BLOB,                   -- the bytes as sent (NULL when over the size cap)
  state VARCHAR NOT NULL,     -- used | set_aside
  reason VARCHAR,             -- why set aside whole
  n_baris BIGINT,             -- rows with an answer
  n_dipakai BIGINT,
  n_ditolak BIGINT
)""",
    f"""CREATE TABLE IF NOT EXISTS tanggapan_dipakai (
  sha256 VARCHAR NOT NULL,
  lokasi VARCHAR NOT NULL,    -- sheet and row (xlsx) or row (csv)
  baris BIGINT NOT NULL,
  tanggal_daftar DATE NOT NULL,
  diterima TIMESTAMPTZ NOT NULL,
  tanggal_proses DATE NOT NULL,
  kode_prov VARCHAR NOT NULL,
  kode_kab VARCHAR NOT NULL,
  kunci VARCHAR NOT NULL,     -- the finding's unit (as in temuan)
  sidik VARCHAR,              -- fingerprint of the unit's data when applied
  {_ROW_DDL},
  PRIMARY KEY (sha256, lokasi)
)""",
    f"""CREATE TABLE IF NOT EXISTS tanggapan_ditolak (
  sha256 VARCHAR NOT NULL,
  lokasi VARCHAR NOT NULL,
  baris BIGINT NOT NULL,
  tanggal_daftar DATE,
  diterima TIMESTAMPTZ NOT NULL,
  tanggal_proses DATE NOT NULL,
  kode_prov VARCHAR,
  kode_kab VARCHAR,
  kolom VARCHAR NOT NULL,     -- the column at fault
  alasan_tolak VARCHAR NOT NULL,
  {_ROW_DDL},
  PRIMARY KEY (sha256, lokasi, kolom)
)""",
    """CREATE TABLE IF NOT EXISTS tanggapan_label (
  id_l VARCHAR NOT NULL,
  id_r VARCHAR NOT NULL,
  cocok BOOLEAN NOT NULL,
  tanggal_daftar DATE NOT NULL,
  diterima TIMESTAMPTZ NOT NULL,
  kode_kab VARCHAR NOT NULL,
  sha256 VARCHAR NOT NULL,
  lokasi VARCHAR NOT NULL,
  PRIMARY KEY (id_l, id_r, sha256, lokasi)
)""",
]

TABLES = ("tanggapan_berkas", "tanggapan_dipakai", "tanggapan_ditolak", "tanggapan_label")


# Columns added after the tables existed: (table, column, type)
ADDED = (
    # the latest night the warehouse held before the night that read the file, at reading
    # (COUNTS_FOR_NIGHT); NULL for files read before it was kept
    ("tanggapan_berkas", "malam_sebelum", "DATE"),
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the response tables (and ADDED columns) if the warehouse does not have them
    yet (a warehouse that has them is not written to, so a read-only connection works)."""
    names = ", ".join(f"'{t}'" for t in TABLES)
    n = con.execute(
        f"SELECT count(*) FROM information_schema.tables WHERE table_name IN ({names})"
    ).fetchall()[0][0]
    if n != len(TABLES):
        for ddl in SCHEMA:
            con.execute(ddl)
    for table, column, sql_type in ADDED:
        have = con.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name = ? "
            "AND column_name = ? AND table_catalog = current_database()",
            [table, column],
        ).fetchall()[0][0]
        if not have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}")


def has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the warehouse holds the response tables (a read-only reader may not)."""
    n = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'tanggapan_dipakai'"
    ).fetchall()[0][0]
    return bool(n)
