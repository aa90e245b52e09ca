"""SQL shared by the linkage (and offered to the rules): DuckDB macros and the input prep.

``nik_valid(x)``: a well-formed nik, the negation of reports-v1 NIK_TIDAK_VALID,
built on contract.NIK_POLA like the rules' check, so the two stages cannot
disagree on which nik is valid. ``nama_norm(x)`` folds the Indonesian spelling variants the linkage
must see through.
"""

from __future__ import annotations

import hashlib

import duckdb

from coklit_dq.contract import NIK_POLA

NIK_VALID_MACRO = f"""
CREATE OR REPLACE MACRO nik_valid(x) AS
  coalesce(regexp_full_match(x, '{NIK_POLA}') AND replace(x, substr(x, 1, 1), '') <> '', false)
"""

# What the linkage compares: any 16-digit nik that is not junk. A typo can make a
# nik invalid (month 13), and the typo'd nik is still the best evidence there is.
NIK_BANDING_MACRO = """
CREATE OR REPLACE MACRO nik_banding(x) AS
  CASE WHEN regexp_full_match(x, '[0-9]{16}') AND replace(x, substr(x, 1, 1), '') <> ''
       THEN x END
"""

# Tokens folded to one spelling before names are compared.
MUHAMMAD = (
    "M", "MH", "MUH", "MOH", "MOCH", "MOHD", "MUHD", "MHD", "MUHAMAD", "MUHAMMAD", "MUHAMMED",
    "MOHAMAD", "MOHAMMAD", "MOHAMMED", "MOCHAMAD", "MOCHAMMAD", "MUCHAMAD", "MUCHAMMAD",
    "MUKHAMAD", "MUKHAMMAD", "MOKHAMAD", "MOKHAMMAD",
)  # fmt: skip
SITI = ("ST", "SITI", "SITTI", "SITIE")
# Titles and honorifics written in front of a name on one record and not the other.
GELAR = ("H", "HJ", "HJH", "HAJI", "HAJJAH", "DRS", "DRA", "DR", "IR", "PROF", "KH")
_MUH = ", ".join(f"'{t}'" for t in MUHAMMAD)
_SITI = ", ".join(f"'{t}'" for t in SITI)
_GELAR = ", ".join(f"'{t}'" for t in GELAR)

# Academic degrees are written after a comma ("BUDI SANTOSO, S.PD., M.SI") on one record
# and not the other: what follows the first comma after a letter is not compared.
NAMA_NORM_MACRO = f"""
CREATE OR REPLACE MACRO nama_norm(x) AS nullif(
  replace(replace(replace(replace(replace(array_to_string(list_transform(list_filter(
    string_split(trim(regexp_replace(regexp_replace(upper(x), '([A-Z][^,]*),.*$', '\\1', 's'),
                                     '[^A-Z]+', ' ', 'g')), ' '),
    lambda s: s NOT IN ({_GELAR})),
    lambda s: CASE WHEN s IN ({_MUH}) THEN 'MUHAMMAD'
                   WHEN s IN ({_SITI}) THEN 'SITI' ELSE s END), ' '),
    'OE', 'U'), 'DJ', 'J'), 'TJ', 'C'), 'SJ', 'SY'), 'CH', 'KH'),
  '')
"""

# First token, or the first two when the first is a common prefix (MUHAMMAD, SITI).
NAMA_DEPAN_MACRO = """
CREATE OR REPLACE MACRO nama_depan(n) AS
  CASE WHEN split_part(n, ' ', 1) IN ('MUHAMMAD', 'SITI', 'NUR', 'ABDUL')
            AND split_part(n, ' ', 2) <> ''
       THEN split_part(n, ' ', 1) || ' ' || split_part(n, ' ', 2)
       ELSE split_part(n, ' ', 1) END
"""

# A list's letters with every run of one letter kept once, joined. The previous letter is
# read from a shifted copy made once per value (a lambda that indexes the list itself
# rebuilds it per letter: quadratic, hours on one hostile 40,000-letter name).
RUNS_ONCE_MACRO = """
CREATE OR REPLACE MACRO runs_once(l) AS array_to_string(list_transform(list_filter(
  list_zip(l, list_prepend(NULL, l)[:len(l)]), lambda p: p[2] IS NULL OR p[1] <> p[2]),
  lambda p: p[1]), '')
"""

# A blocking key that survives a doubled, dropped or changed vowel: the consonants of
# the first name with repeats collapsed (ERLANGGA, ERLANNGGA -> RLNG; KOKO, KOOKO -> K).
NAMA_KUNCI_MACRO = """
CREATE OR REPLACE MACRO nama_kunci(n) AS
  nullif(runs_once(string_split(regexp_replace(n, '[AEIOU ]', '', 'g'), '')), '')
"""

# A name with every run of one letter kept once, spaces dropped: a doubled letter keyed
# again (MAARDIANA, WAHHYUNI) or a spelling that doubles one (ANNISA) meets its name.
HURUF_TUNGGAL_MACRO = """
CREATE OR REPLACE MACRO huruf_tunggal(n) AS
  nullif(runs_once(string_split(replace(n, ' ', ''), '')), '')
"""

# The linkage reads the first TEKS_MAKS characters of a name and of a birthplace: no real
# one is longer, and every comparison of a hostile megabyte-long one would cost seconds.
TEKS_MAKS = 200

# The kecamatan of the night's region reference (the newest wilayah held on or before the
# night, as the rules read it): PREP_SELECT's nik_wil_dikenal reads this temp table.
KECAMATAN_SQL = """
CREATE OR REPLACE TEMP TABLE _link_kec AS
SELECT DISTINCT substr(kode_desa, 1, 6) AS kode_kec FROM wilayah
WHERE tanggal_ekspor = (SELECT max(tanggal_ekspor) FROM wilayah WHERE tanggal_ekspor <= $tanggal)
  AND regexp_full_match(kode_desa, '[0-9]{10}')
"""


def known_kecamatan(con: duckdb.DuckDBPyConnection, tanggal: object) -> str:
    """Create _link_kec for the night `tanggal`; its fingerprint (sorted codes, hashed):
    an incremental night whose reference differs re-links in full."""
    con.execute(KECAMATAN_SQL, {"tanggal": tanggal})
    row = con.execute("SELECT md5(string_agg(kode_kec, ',' ORDER BY kode_kec)) FROM _link_kec")
    return str(row.fetchall()[0][0] or "")


PLACEHOLDER_DATES = ((1, 1), (7, 1), (12, 31))  # (month, day): 1 Jan, 1 Jul, 31 Dec


def register_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Define nik_valid, nama_norm and nama_depan on a connection."""
    con.execute(NIK_VALID_MACRO)
    con.execute(NIK_BANDING_MACRO)
    con.execute(NAMA_NORM_MACRO)
    con.execute(NAMA_DEPAN_MACRO)
    con.execute(RUNS_ONCE_MACRO)
    con.execute(NAMA_KUNCI_MACRO)
    con.execute(HURUF_TUNGGAL_MACRO)


_SAMAR = " OR ".join(
    f"(month(tanggal_lahir) = {m} AND day(tanggal_lahir) = {d})" for m, d in PLACEHOLDER_DATES
)

# One night's records that are not TMS, as the linkage model reads them
# (linkage/settings.py documents the columns). Two steps so the name and nik are
# normalised once per record: PREP_BASE over the pemilih columns (add FROM/WHERE),
# then PREP_SELECT over its result (add FROM).
PREP_BASE = f"""
SELECT *, nama_norm(left(nama, {TEKS_MAKS})) AS _nn, nik_banding(nik) AS _nik
"""

PREP_SELECT = f"""
SELECT
  id_pemilih AS unique_id,
  _nik AS nik,
  substr(_nik, 1, 12) AS nik_a,
  substr(_nik, 7, 10) AS nik_b,
  substr(_nik, 1, 6) || substr(_nik, 13, 4) AS nik_c,
  substr(_nik, 13, 4) AS nik_d,
  substr(_nik, 1, 6) AS nik_wil,
  substr(_nik, 1, 4) AS nik_kab,
  -- the nik names a kecamatan of tonight's region reference (_link_kec, KECAMATAN_SQL);
  -- NULL without a nik or without a reference
  CASE WHEN _nik IS NOT NULL AND (SELECT count(*) FROM _link_kec) > 0
       THEN substr(_nik, 1, 6) IN (SELECT kode_kec FROM _link_kec) END AS nik_wil_dikenal,
  _nn AS nama_norm,
  nama_depan(_nn) AS nama_depan,
  coalesce(nullif(regexp_replace(_nn, '^(MUHAMMAD|SITI|NUR|ABDUL) ', ''), ''), _nn)
    AS nama_inti,
  replace(_nn, ' ', '') AS nama_rapat,
  huruf_tunggal(_nn) AS nama_tunggal,
  coalesce(nama_kunci(nama_depan(_nn)), nama_depan(_nn)) AS nama_kunci,  -- AI has no consonant
  array_to_string(list_sort(string_split(_nn, ' ')), ' ') AS nama_urut,
  strftime(tanggal_lahir, '%Y-%m-%d') AS tgl,
  CASE WHEN day(tanggal_lahir) <= 12 AND day(tanggal_lahir) <> month(tanggal_lahir)
       THEN strftime(make_date(year(tanggal_lahir), day(tanggal_lahir),
                               month(tanggal_lahir)), '%Y-%m-%d') END AS tgl_tukar,
  CAST(tanggal_lahir - DATE '1970-01-01' AS INTEGER) AS tgl_hari,
  strftime(tanggal_lahir, '%m-%d') AS tgl_bh,
  year(tanggal_lahir) AS tgl_tahun,
  coalesce({_SAMAR}, false) AS tgl_samar,
  CASE WHEN jenis_kelamin IN ('L', 'P') THEN jenis_kelamin END AS jenis_kelamin,
  nullif(trim(regexp_replace(upper(left(tempat_lahir, {TEKS_MAKS})), '[^A-Z]+', ' ', 'g')), '')
    AS tempat_lahir,
  coalesce(status_coklit = 'BARU', false) AS baru,
  kode_desa,
  substr(kode_desa, 1, 6) AS kode_kec,
  substr(kode_desa, 1, 4) AS kode_kab,
  substr(kode_desa, 1, 2) AS kode_prov
"""

# The columns a change in which makes a record "changed" for the incremental run.
# Only what the model reads: a record coklit'd from BELUM to MS is not "changed"
# (during coklit most records change status once; re-scoring them all would make
# the nightly cost follow the list, not the changes), but becoming BARU-or-not is;
# and the nkk, which decides whether a pair is the twin pattern (orang.edges): an
# incremental night keeps the standing records as they were prepared (link_rekaman).
HASH_COLUMNS = (
    "nik", "nama", "tanggal_lahir", "jenis_kelamin", "tempat_lahir", "kode_desa",
    "status_coklit = 'BARU'", "nkk",
)  # fmt: skip
# DuckDB's 64-bit hash of the typed values (five times cheaper than an md5 of their text
# over a night's records; two versions of one record colliding is a 1 in 2^64 chance). A
# DuckDB whose hash() differs makes every record "changed" once: slow, not wrong.
HASH_EXPR = "hash(" + ", ".join(HASH_COLUMNS) + ")"

# How a record is prepared, as one fingerprint: the standing records of an incremental
# night were prepared by the code of the night they changed, so a change here (a name
# folded another way) re-links in full once (orang.state_checksum), and a night's pairs
# never depend on which version prepared which record.
PREP_DIGEST = hashlib.sha256(
    "\n".join(
        (
            NIK_BANDING_MACRO, NAMA_NORM_MACRO, NAMA_DEPAN_MACRO, RUNS_ONCE_MACRO,
            NAMA_KUNCI_MACRO, HURUF_TUNGGAL_MACRO, KECAMATAN_SQL, PREP_BASE, PREP_SELECT,
            HASH_EXPR,
        )
    ).encode()
).hexdigest()  # fmt: skip
