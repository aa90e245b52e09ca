"""The GANDA_ORANG linkage model, declared in one place.

Input columns are prepared by ``coklit_dq.link.prepare`` (one row per record that
is not TMS), so every comparison below is plain SQL that DuckDB and Spark run
alike:

  unique_id       id_pemilih
  nik             a 16-digit nik that is not junk (one digit repeated), else NULL
  nik_a/b/c/d     blocking keys cut from the nik: 1-12, 7-16, 1-6 + 13-16, 13-16
  nik_wil         the nik's region digits (1-6), nik_kab its kabupaten (1-4);
                  nik_wil_dikenal whether they name a kecamatan of the night's region
                  reference (NULL without one)
  nama_norm       the name upper-cased, punctuation dropped, Indonesian spelling
                  variants folded (MUHAMMAD/MUHAMAD/MOH./M. -> MUHAMMAD, ST. -> SITI,
                  OE -> U, DJ -> J, TJ -> C)
  nama_depan      the first token of nama_norm (plus the second after MUHAMMAD/SITI)
  nama_inti       nama_norm without a leading MUHAMMAD / SITI / NUR / ABDUL
  nama_rapat      nama_norm without spaces; nama_tunggal the same with every run of one
                  letter kept once (MAARDIANA -> MARDIANA)
  tf_nama_norm    the share of records carrying that nama_norm (term frequency);
  tf_nama_depan   the same for nama_depan (registered as lookups, not input columns)
  tgl             birth date 'YYYY-MM-DD'; tgl_tukar the same with day and month
                  swapped (NULL when impossible); tgl_hari days since 1970-01-01
  tgl_samar       the civil registry's placeholder dates (1 Jan, 1 Jul, 31 Dec)
  tempat_lahir    upper-cased, punctuation dropped
  baru            the record was added during coklit (status BARU)
  jenis_kelamin, kode_desa, kode_kec, kode_kab, kode_prov

The trained parameters live in ``model.json`` beside this file; nightly runs
predict from it and never retrain (``coklit-dq linkage train`` rewrites it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MODEL_PATH = Path(__file__).resolve().parent / "model.json"

# A pair at or above this match probability is an edge of a GANDA_ORANG cluster.
# The probability is computed with the prior of the night's size (DUPLICATE_PAIRS_PER_RECORD),
# so one threshold means the same at 100 k and at 205 M records (precision and recall at
# each threshold and size: docs/stages.md, measured on simulated nights not trained on).
# A wrongly struck voter loses the vote: each finding also asks the PPS to confirm.
THRESHOLD_MATCH_PROBABILITY = 0.995
# After training no level of a match may be deemed (nearly) impossible: EM drives
# a level it never sees among the block's matches towards 0 (two BARU records of
# one person, a typo in the nik's date part), and one such level would veto a
# pair whatever else agrees.
M_FLOOR = 1e-3
# Pairs scored below this are dropped before clustering (keeps the edge table small).
PREDICT_FLOOR = 0.5

# nik: random sampling never sees two records of different people agreeing on the
# whole nik, so that level's u-probability is set here and fixed, not estimated:
# about one pair in 10^9 of different people shares a nik (a reused card).
NIK_U_PROBABILITIES = {"exact": 1e-9}

# Levels whose u is measured among the pairs that agree on a column (comparison ->
# that column): a level whose condition begins with that agreement is "gated", and
# train.py measures its u among sampled pairs of records sharing the column (u of a
# level = P(level | the gate agrees)), since random pairs almost never share it.
GATES = {"nik": "tgl", "wilayah": "nik_kab", "tempat_lahir": "kode_kab"}
# Comparisons whose u is the night's own, counted exactly on its records each night
# (model.measure_night_u), not the training night's: comparison -> its nested columns,
# finest first. How likely two different people are to share a desa depends on how many
# desa the night holds: u trained on a 1 M night overstated the evidence of a shared desa
# tenfold on a 100 k night and understated it fivefold on a 5 M night, against a prior that
# follows the night's size (docs/stages.md has the figures).
NIGHT_U = {"wilayah": ("kode_desa", "kode_kec", "kode_kab", "kode_prov")}
# Comparisons whose exact-agreement level's u is the night's own, in each branch of its
# gate (comparison -> the column agreeing): the share of the night's record pairs agreeing
# on it, among those sharing the gate and among the rest, counted exactly. The branch's
# other levels share the rest in their trained proportions. How often two people of one
# kabupaten share a birthplace is a fact of the roll, not of the simulated country.
NIGHT_EXACT = {"tempat_lahir": "tempat_lahir"}
# Gated levels whose u scale, night by night, with the share of record pairs agreeing on a
# column (comparison -> that column): the chance that two people born the same day have
# niks one digit apart, or equal but for the date part, is the chance that their niks name
# one kecamatan (or a neighbouring one) times what the serials do there, and the first
# factor falls as a night holds more kecamatan. train.py stores the training night's share
# in model.json (TRAINING_KEY); model.measure_night_u multiplies these levels' u by tonight's
# share over it. Without it a model trained on 1 M records would understate this evidence
# fivefold on a 5 M night and some eighty-fold on the country's 7,277 kecamatan.
NIGHT_SCALE = {"nik": "nik_wil"}
TRAINING_KEY = "coklit_dq_training"
# Comparisons whose m is measured, not trained by EM, among the pairs that share a
# whole valid nik (comparison -> that column): GANDA_NIK pairs are duplicates made the
# same way as GANDA_ORANG ones (a person who moved, added BARU where they live now and
# not struck where they lived before), and two records sharing a nik are one person but
# for one in 10^9, so where such pairs lie is where a moved copy lands (label-free, and as
# true of a real roll as of a simulated one). EM on the name + date + birthplace block,
# which holds namesakes of one region as well, put "provinsi berbeda" at m 0.08 and
# "kab/kota sama, kecamatan berbeda" at 0.12 where the nik-sharing pairs of a 1 M night
# say 0.20 and 0.37.
ANCHORS = {"wilayah": "nik"}
# Where the records came from (asal) is NOT anchored: pairs sharing a whole nik are by
# construction the duplicates whose nik was not mistyped, and a mistyped nik is the first
# cause of duplicates domain.md names (two records of the DP4, both handed down, mostly in
# one place). Measured on them, "keduanya dari data yang diturunkan" fell to m 0.02 (-5.6
# bits) on a 1 M night and cost every such duplicate its link; its declared m stays below.
# No anchored m below this: a level the nik-sharing pairs of one night never reach is
# rare among duplicates, not absent. A voter entered again at the right TPS of the same
# desa and never struck at the wrong one (TMS 8, often the largest TMS class) is a
# duplicate inside one desa, and a roll's duplicates include such records whichever
# night the model was trained on.
ANCHOR_M_FLOOR = 0.02
# The nik's levels for one digit slipped in its region part (the niks agree on digits
# 7-16, settings' nik_b, and are one keystroke apart) come in two kinds: the slip made a
# code that names no kecamatan of the night's region reference (nik_wil_dikenal), or one
# that does. Real niks carry real codes (but for codes retired when a region was split,
# which Dukcapil does not re-issue), so among different people born the same day whose
# niks share their last ten digits an unknown code is as rare as unknown codes are on
# the night, while most slips of a real code make an unknown one. Both shares are the
# night's own, counted each night (model.region_slip), and the levels' m and u are shared
# out between the two kinds by them, branch by branch (birth dates agree or not):
# m(unknown) = m(all) * q, q the share of one-keystroke variants of the night's niks'
# codes that name no kecamatan; u(unknown) = u(all) * (1 - (1 - p)^2), p the share of
# the night's niks whose code names none. Neither is trained on a simulated country.
REGION_SLIP = {
    "nik": (
        ('"nik_b_l" = "nik_b_r"', 'damerau_levenshtein("nik_l", "nik_r") <= 1'),
        "nik_wil_dikenal",
    )
}
# Labels are read in a comma-separated list of what differs: no comma inside one.
KODE_WILAYAH_TIDAK_TERDAFTAR = (
    "NIK berbeda 1 digit pada kode wilayah (kode wilayah salah satu NIK tidak ada di "
    "daftar wilayah)"
)
# Pairs sampled per gate when measuring the gated u.
GATE_PAIRS = 2_000_000
# No u below this (a level that the sampled different people never reached is rare,
# not impossible: a nik whose date part disagrees with the birth date exists).
U_FLOOR = 1e-6

# The prior, per night: the chance that two random records of the night are one
# person, from how many duplicate pairs a record has. Bawaslu found 1,013,067
# duplicates among 91 M voters (domain.md): about 0.011 duplicate records, so
# 0.0056 duplicate pairs per record. Between N records there are N(N-1)/2 pairs,
# so the prior is 2 * 0.0056 / (N - 1): the number of pairs of different people
# that look alike grows with N^2 while duplicates grow with N, and a fixed prior
# would lose precision as the country grows. model.py applies it at predict time.
DUPLICATE_PAIRS_PER_RECORD = 0.0056

# Candidate pairs: the union of these blocks (Splink dedupes pairs across rules),
# each a tuple of prepared columns that must be equal (orang._candidates reads the
# same tuples to find the standing records a night's changes must meet). Each
# leaves one kind of keying slip free. The serial 0001 is so common that the nik's
# date + serial alone makes blocks of hundreds, so it is tightened with a first
# name or the birthplace.
BLOCKING_RULES_PREDICT: tuple[tuple[str, ...], ...] = (
    ("nik_a",),  # region + birth date of the nik: a slip in the serial
    ("nik_b", "nama_kunci"),  # the nik's date + serial, first name: a slip in the region
    ("nik_b", "tempat_lahir"),  # ... or with the birthplace when the name slipped
    ("nik_c", "tgl"),  # region + serial, birth date: a slip in the nik's date part
    ("nik_c", "tgl_tahun", "nama_kunci"),  # ... and a slip in the birth date as well
    ("nik_c", "tgl_bh", "nama_kunci"),  # ... or a slip in its year (31 Dec / 1 Jan too)
    ("nama_kunci", "tgl"),  # first name's consonants + birth date, whatever the nik
    ("nama_urut", "tgl"),  # the name's words in any order + birth date
    # The whole name and the birthplace with the birth year or day-and-month: a slip in
    # the birth date on a copy whose nik slipped twice (region and date part), which no
    # rule above reaches (a fifth of the misses at 1 M). Blocks stay small because the
    # full name, a birthplace and a year must all agree (at most tens at 1 M).
    ("nama_norm", "tgl_tahun", "tempat_lahir"),
    ("nama_norm", "tgl_bh", "tempat_lahir"),
    # The name's words joined (DENI SAEPUL / DENISAEPUL) + birth date, whatever the nik:
    # nama_kunci reads the first word only.
    ("nama_rapat", "tgl"),
    # The name with doubled letters kept once (MAARDIANA, KOOKO) + birth year + the
    # kabupaten the nik names: a copy whose birth date, birthplace and nik all slipped,
    # which no rule above reaches (at 100 k voters, seed 11, 4 of the 7 true pairs no
    # block reached). A kabupaten's namesakes of one year, so blocks do not grow with
    # the country (at most 24 records at 1 M).
    ("nama_tunggal", "tgl_tahun", "nik_kab"),
)
# Comparisons a GANDA_ORANG finding names as context (where the records are, where
# they came from) rather than as a field that agrees or differs.
KETERANGAN_KONTEKS = ("wilayah", "asal")
# Columns whose value frequencies (over the whole night) adjust an exact match.
TF_COLUMNS = ("nama_norm", "nama_depan", "tgl", "nik_d")

# Expectation maximisation, one session per rule; a comparison whose columns a
# rule blocks on is not trained in that session. Name + birth date + birthplace
# trains the region, whose m ANCHORS then replaces with what the nik-sharing pairs say
# (nik and sex are fixed below, origin anchored too), so today EM sets no m that is kept;
# the session stays for a comparison added without an anchor. Name, birth date and
# birthplace keep the m-probabilities of M_PRIORS: measured on the simulator's data, every block
# that leaves them free (name + date alone, the nik's kecamatan + date, its
# date + serial, region + serial + first name) holds far
# more namesakes, siblings or people sharing a placeholder date than duplicates,
# and EM settles on one of those classes instead of "same person".
# Measured on a 1 M simulated night: adding a second session on the nik's
# kecamatan + date + birthplace (to train name and date) dropped precision at
# 0.99 from 0.92 to 0.65: EM took siblings born the same day for the match class.
BLOCKING_RULES_EM = (("nama_norm", "tgl", "tempat_lahir"),)


# Each level below declares its label (what a PPS reads in a GANDA_ORANG finding:
# coklit_dq/link/findings.py prints the label of the level a pair reached, read from
# model.json) and its starting m-probability for expectation maximisation (what a
# duplicate looks like: the second record of a person who moved, keyed again by
# hand). EM starts there; name, birth date and birthplace keep them (see above).


# The nik's date part says the record's birth date (day + 40 for women): SQL on a
# pair's _l or _r columns, the same in DuckDB and Spark.
_NIK_SESUAI = (
    "(substr(nik_{s}, 9, 2) = substr(tgl_{s}, 6, 2)"
    " AND substr(nik_{s}, 11, 2) = substr(tgl_{s}, 3, 2)"
    " AND CAST(substr(nik_{s}, 7, 2) AS INT) % 40 = CAST(substr(tgl_{s}, 9, 2) AS INT))"
)


# The two niks' date parts differ only by the 40 a woman's day carries.
_TANDA_PEREMPUAN = (
    "substr(nik_l, 9, 4) = substr(nik_r, 9, 4)"
    " AND abs(CAST(substr(nik_l, 7, 2) AS INT) - CAST(substr(nik_r, 7, 2) AS INT)) = 40"
)


# The two niks' serials are consecutive numbers.
_BERURUTAN = "abs(CAST(nik_d_l AS INT) - CAST(nik_d_r AS INT)) = 1"
# The two serials end in one digit: a slip hit one of the serial's three leading digits.
_DEPAN_NOMOR_URUT = "right(nik_l, 1) = right(nik_r, 1)"


def _null(col: str, label: str) -> Any:
    import splink.comparison_level_library as cll

    return cll.NullLevel(col).configure(label_for_charts=label)


def _custom(sql: str, label: str, m: float, **extra: Any) -> Any:
    import splink.comparison_level_library as cll

    return cll.CustomLevel(sql, label_for_charts=label).configure(m_probability=m, **extra)


def _else(label: str, m: float, **extra: Any) -> Any:
    import splink.comparison_level_library as cll

    return cll.ElseLevel().configure(label_for_charts=label, m_probability=m, **extra)


def comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    def lv(level: Any, label: str, m: float, **extra: Any) -> Any:
        return level.configure(label_for_charts=label, m_probability=m, **extra)

    # m fixed, not trained: at a real country's density of namesakes the EM block
    # (name + birth date + birthplace) holds as many namesakes with unrelated niks as
    # duplicates, and EM then learns "NIK berbeda" as a trait of duplicates (measured on
    # a simulated 1 M night: m of "NIK berbeda" 0.42, precision 0.97).
    # The nik repeats the birth date (compared on its own) and its serial starts at
    # 0001 in every kecamatan and birth date, so how much a near-equal nik says depends
    # on whether the birth dates agree. Two branches (GATES):
    # - birth dates agree: two people born the same day in one kecamatan always have
    #   different serials, mostly 0001/0002, and people of neighbouring kecamatan share
    #   the last ten digits; these levels' u are measured among pairs that share a birth
    #   date (train.py), so that agreement counts for what it is worth there and the
    #   shared date is not counted twice;
    # - birth dates differ: the copy's nik still carries the date its owner was
    #   registered with, so a nik one keystroke from the other is strong evidence that
    #   the birth date was keyed wrong; the nik agreeing only outside its date part
    #   (region + serial, both 0001 in many kecamatan) is weak.
    # m: a slip hits any of the sixteen digits alike (6 region, 6 date, 4 serial).
    same_tgl = cll.ExactMatchLevel("tgl")
    dl1 = cll.DamerauLevenshteinLevel("nik", 1)
    dl2 = cll.DamerauLevenshteinLevel("nik", 2)
    # the two niks carry one date (whatever the birth dates say)
    same_nik_date = cll.CustomLevel("substr(nik_l, 7, 6) = substr(nik_r, 7, 6)")
    # one of the two niks names no kecamatan of the night's region reference
    wil_tak_dikenal = cll.CustomLevel("NOT nik_wil_dikenal_l OR NOT nik_wil_dikenal_r")
    # one of the two records lives outside the kecamatan its nik names
    di_luar_kec_nik = cll.Not(cll.CustomLevel("nik_wil_l = kode_kec_l AND nik_wil_r = kode_kec_r"))

    def gated(level: Any, label: str, m: float, **extra: Any) -> Any:
        return lv(cll.And(same_tgl, level), label, m, fix_m_probability=True, **extra)

    def fixed(level: Any, label: str, m: float, **extra: Any) -> Any:
        return lv(level, label, m, fix_m_probability=True, **extra)

    # Levels on which the two niks carry one serial: agreeing on 0001 (two thirds of the
    # niks) says less than agreeing on 0005; adjusted by how often tonight's niks carry it
    # (term frequency of nik_d, against the "kecuali nomor urutnya" level's u).
    serial = {"tf_adjustment_column": "nik_d", "tf_adjustment_weight": 1.0,
              "tf_minimum_u_value": 1e-6}  # fmt: skip

    nik = cl.CustomComparison(
        output_column_name="nik",
        comparison_levels=[
            _null("nik", "NIK kosong"),
            lv(
                cll.ExactMatchLevel("nik"),
                "NIK sama",
                0.2,
                u_probability=NIK_U_PROBABILITIES["exact"],
                fix_u_probability=True,
                fix_m_probability=True,
            ),
            # birth dates agree
            # a man and a woman born the same day in one kecamatan, both serial 0001: their
            # niks differ only by the 40 added to a woman's day (the sex comparison says the
            # rest); any other difference in the date part of two niks of one birth date is
            # a slip, and rare between two people
            gated(cll.And(cll.ExactMatchLevel("nik_c"), cll.CustomLevel(_TANDA_PEREMPUAN)),
                  "NIK berbeda hanya pada tanda perempuan (tanggal lahir + 40)", 0.02),
            gated(cll.ExactMatchLevel("nik_c"),
                  "NIK berbeda hanya pada bagian tanggal lahir", 0.23, **serial),
            # people of one kecamatan born the same day carry consecutive serials (0001,
            # 0002, ...); a slip of one of the four serial digits rarely lands one number
            # away (2 of the 36 single-digit slips)
            gated(cll.And(cll.ExactMatchLevel("nik_a"), dl1, cll.CustomLevel(_BERURUTAN)),
                  "NIK berbeda 1 digit pada nomor urut (nomor berurutan)", 0.01),
            # ... and different people's serials mostly differ in their last digit, since few
            # kecamatan register ten people on one day (placeholder dates aside, which the
            # measured u counts): a slip in one of the three leading digits makes a number
            # no neighbour carries (m: 3 of the 4 serial digits)
            gated(cll.And(cll.ExactMatchLevel("nik_a"), dl1, cll.CustomLevel(_DEPAN_NOMOR_URUT)),
                  "NIK berbeda 1 digit pada nomor urut (bukan digit terakhir)", 0.12),
            # ... and another last digit: two people of one kecamatan mostly both live in it,
            # while a copy was added where its owner moved to
            gated(cll.And(cll.ExactMatchLevel("nik_a"), dl1, di_luar_kec_nik),
                  "NIK berbeda 1 digit pada nomor urut (satu data tinggal di luar kecamatan "
                  "NIK-nya)", 0.025),
            gated(cll.And(cll.ExactMatchLevel("nik_a"), dl1),
                  "NIK berbeda 1 digit pada nomor urut", 0.005),
            # a region digit slipped (REGION_SLIP: m and u shared out each night): into a
            # code no kecamatan has, which a real nik never carries but for retired codes
            gated(cll.And(cll.ExactMatchLevel("nik_b"), dl1, wil_tak_dikenal),
                  KODE_WILAYAH_TIDAK_TERDAFTAR, 0.2, **serial),
            # ... or the slipped nik names a kecamatan its record is not in
            # (people of neighbouring kecamatan born the same day mostly live in theirs)
            gated(cll.And(cll.ExactMatchLevel("nik_b"), dl1, di_luar_kec_nik),
                "NIK berbeda 1 digit pada kode wilayah", 0.046, **serial),
            gated(cll.And(cll.ExactMatchLevel("nik_b"), dl1),
                  "NIK berbeda 1 digit pada kode wilayah", 0.004, **serial),
            gated(dl1, "NIK berbeda 1 digit", 0.05),
            # two region digits apart: any two kecamatan of one kabupaten are, so two people
            # born the same day there with serial 0001 are too
            # (m: both slips of a copy's two in the six region digits, 0.08 * (6/16)^2)
            gated(cll.And(cll.ExactMatchLevel("nik_b"), dl2),
                  "NIK berbeda 2 digit pada kode wilayah", 0.012, **serial),
            # ... or one region digit and a woman's +40 apart: a man and a woman born the
            # same day in neighbouring kecamatan (the sex comparison says the rest)
            gated(cll.And(dl2, cll.CustomLevel(_TANDA_PEREMPUAN)),
                  "NIK berbeda 2 digit termasuk tanda perempuan (tanggal lahir + 40)", 0.003),
            gated(dl2, "NIK berbeda 2 digit", 0.065),
            # birth dates differ: the niks still carry one date (a slip in the birth date)
            fixed(cll.And(cll.ExactMatchLevel("nik_a"), dl1),
                  "NIK berbeda 1 digit pada nomor urut", 0.17),
            fixed(cll.And(cll.ExactMatchLevel("nik_b"), dl1, wil_tak_dikenal),
                  KODE_WILAYAH_TIDAK_TERDAFTAR, 0.2, **serial),
            fixed(cll.And(cll.ExactMatchLevel("nik_b"), dl1),
                  "NIK berbeda 1 digit pada kode wilayah", 0.05, **serial),
            fixed(cll.And(same_nik_date, dl2), "NIK berbeda 2 digit", 0.08),
            # ... or two digits apart anywhere, when a nik does not say its own record's birth
            # date: two slips in the nik (region and date part) and one in the birth date.
            # Two people born on two days in one kecamatan (serial 0001) have niks that both
            # say their dates, so they never reach this level.
            fixed(cll.And(dl2, cll.Not(cll.CustomLevel(
                f"{_NIK_SESUAI.format(s='l')} AND {_NIK_SESUAI.format(s='r')}"))),
                "NIK berbeda 2 digit (salah satu tidak sesuai tanggal lahir pemiliknya)", 0.04),
            # ... or region and serial agree and the date parts differ: strong when a nik
            # does not say its own record's birth date (a slip), weak when both do (two
            # people born on two days in one kecamatan, serial 0001)
            fixed(cll.And(cll.ExactMatchLevel("nik_c"), cll.Not(cll.CustomLevel(
                f"{_NIK_SESUAI.format(s='l')} AND {_NIK_SESUAI.format(s='r')}"))),
                "NIK berbeda pada bagian tanggal lahir (salah satu tidak sesuai tanggal lahir "
                "pemiliknya)", 0.25, **serial),
            fixed(cll.ExactMatchLevel("nik_c"),
                  "NIK berbeda hanya pada bagian tanggal lahir", 0.05, **serial),
            # the exact level the serial's adjustment needs (its u: two random niks share
            # a serial), and a level of its own: a copy whose nik slipped twice keeps it
            fixed(cll.ExactMatchLevel("nik_d"), "NIK berbeda kecuali nomor urutnya", 0.06),
            _else("NIK berbeda", 0.04, fix_m_probability=True),
        ],
        comparison_description="NIK",
    )  # fmt: skip
    prefix = (
        "(substr(nama_norm_l || ' ', 1, length(nama_norm_r) + 1) = nama_norm_r || ' '"
        " OR substr(nama_norm_r || ' ', 1, length(nama_norm_l) + 1) = nama_norm_l || ' ')"
    )
    nama = cl.CustomComparison(
        output_column_name="nama",
        comparison_levels=[
            _null("nama_norm", "nama kosong"),
            # Term-frequency adjusted: "SLAMET" = "SLAMET" says less than a rare name.
            lv(
                cll.ExactMatchLevel("nama_norm", term_frequency_adjustments=True),
                "nama sama",
                0.55,
                tf_minimum_u_value=1e-6,
            ),
            lv(
                cll.Or(cll.ExactMatchLevel("nama_urut"), cll.ExactMatchLevel("nama_rapat")),
                "urutan kata atau spasi nama berbeda",
                0.07,
            ),
            # A letter doubled or undoubled (MAARDIANA / MARDIANA, ANNISA / ANISA): the
            # commonest keying slip of a name, and rare between two people's names, which
            # one changed letter (RINA / VINA, BELLA / DELLA) is not.
            lv(cll.ExactMatchLevel("nama_tunggal"), "nama berbeda hanya pada huruf ganda", 0.06),
            lv(cll.DamerauLevenshteinLevel("nama_rapat", 1), "nama berbeda 1 huruf", 0.08),
            # Adjusted by the first word's frequency: UJANG begins many names.
            _custom(
                prefix,
                "nama disingkat (kata pertama sama)",
                0.12,
                tf_adjustment_column="nama_depan",
                tf_adjustment_weight=1.0,
                tf_minimum_u_value=1e-6,
            ),
            # Without a leading MUHAMMAD/SITI, which alone makes two names "similar".
            lv(cll.JaroWinklerLevel("nama_inti", 0.9), "ejaan nama mirip", 0.07),
            # Also the exact level Splink needs to adjust the prefix level by nama_depan.
            lv(cll.ExactMatchLevel("nama_depan"), "hanya nama depan sama", 0.03),
            # The guard: two entirely different names are two people, whatever else agrees
            # (every way a name is keyed again has its level above). At 0.002 (-9 bits) a
            # renamed copy still linked on a small night: a nik one digit off, the same birth
            # date, birthplace and sex outweighed it. At 1e-4 (-13 bits) only a shared nik does.
            _else("nama berbeda", 0.0001, fix_m_probability=True),
        ],
        comparison_description="nama (dinormalkan)",
    )
    tgl = cl.CustomComparison(
        output_column_name="tgl_lahir",
        comparison_levels=[
            _null("tgl", "tanggal lahir kosong"),
            # Term-frequency adjusted: 1 Jul / 31 Dec / 1 Jan (the registry's placeholders
            # for an unknown date) are shared by many and say less than another date.
            # Half weight: on a small night every date looks frequent (1 in a few
            # thousand), and a full adjustment would then discount every date.
            lv(
                cll.ExactMatchLevel("tgl", term_frequency_adjustments=True),
                "tanggal lahir sama",
                0.8,
                tf_adjustment_weight=0.5,
                tf_minimum_u_value=1e-6,
            ),
            _custom(
                "tgl_l = tgl_tukar_r OR tgl_r = tgl_tukar_l",
                "tanggal lahir: hari dan bulan tertukar",
                0.05,
            ),
            # Also 31 Dec / 1 Jan of the next year.
            lv(
                cll.AbsoluteDifferenceLevel("tgl_hari", 1),
                "tanggal lahir berselisih 1 hari",
                0.05,
            ),
            _custom(
                "tgl_bh_l = tgl_bh_r AND abs(tgl_tahun_l - tgl_tahun_r) = 1"
                " AND NOT tgl_samar_l AND NOT tgl_samar_r",
                "tanggal lahir: tahun berselisih 1",
                0.03,
            ),
            _else("tanggal lahir berbeda", 0.07),
        ],
        comparison_description="tanggal lahir",
    )
    jk = cl.CustomComparison(
        output_column_name="jenis_kelamin",
        comparison_levels=[
            _null("jenis_kelamin", "jenis kelamin kosong"),
            # Fixed: a duplicate keeps its sex but for a keying slip, and EM on a
            # block of namesakes drives "berbeda" to m = 0 (Splink rejects it).
            lv(cll.ExactMatchLevel("jenis_kelamin"), "jenis kelamin sama", 0.99,
               fix_m_probability=True),
            _else("jenis kelamin berbeda", 0.01, fix_m_probability=True),
        ],
        comparison_description="jenis kelamin",
    )  # fmt: skip
    # Most people live where they were born, so two people of one kab/kota share a
    # birthplace far more often than two random people, whoever they are. Where the
    # records' kab/kota agree the levels' u is measured among pairs sharing it (GATES), and
    # the u of "tempat lahir sama" in each branch is the night's own (NIGHT_EXACT): a roll
    # whose people are born at home gives a shared birthplace of one kabupaten little
    # weight, one whose people are not gives it much. m does not depend on the gate.
    same_kab = cll.ExactMatchLevel("kode_kab")
    place = (
        (cll.ExactMatchLevel("tempat_lahir"), "tempat lahir sama", 0.75),
        (cll.JaroWinklerLevel("tempat_lahir", 0.9), "tempat lahir mirip", 0.03),
    )
    tempat = cl.CustomComparison(
        output_column_name="tempat_lahir",
        comparison_levels=[
            _null("tempat_lahir", "tempat lahir kosong"),
            *(lv(cll.And(same_kab, c), t, m) for c, t, m in place),
            # A second record often names the place of registration instead.
            lv(same_kab, "tempat lahir berbeda", 0.22),
            *(lv(c, t, m) for c, t, m in place),
            _else("tempat lahir berbeda", 0.22),
        ],
        comparison_description="tempat lahir",
    )
    # Where a record came from: a person who moved is added BARU where they live
    # now and not struck where they lived before, so a duplicate is mostly one
    # BARU record and one handed down (domain.md); namesakes are mostly both
    # handed down.
    asal = cl.CustomComparison(
        output_column_name="asal",
        comparison_levels=[
            _null("baru", "asal data pemilih tidak diketahui"),
            # Fixed, not trained: duplicates inside the list handed down (two records of
            # the DP4) exist too, and a model that learnt "every duplicate has one BARU
            # record" from one source would never see them.
            _custom(
                "baru_l <> baru_r",
                "satu data pemilih BARU dan satu dari data yang diturunkan",
                0.55,
                fix_m_probability=True,
            ),
            _custom(
                "baru_l AND baru_r", "keduanya data pemilih BARU", 0.005, fix_m_probability=True
            ),
            _else("keduanya dari data yang diturunkan", 0.445, fix_m_probability=True),
        ],
        comparison_description="asal data pemilih",
    )
    # Where the records are. A person's nik names the kecamatan of first registration,
    # which is mostly where they live: two records whose niks name one kabupaten are
    # expected to be near each other whoever they are, so when the niks' kabupaten agree
    # the proximity levels' u are measured among pairs sharing it (GATES, train.py) and
    # the region is not counted twice. The gate is the kabupaten, not the kecamatan: two
    # people born the same day in two kecamatan of one kabupaten have niks one or two
    # digits apart and mostly live in that kabupaten, and gated on the kecamatan their
    # "kab/kota sama" counted as if it were chance (u 0.01 where such pairs say 0.65):
    # two thirds of the false pairs of a 5 M night. m is trained on the
    # ungated levels and copied to the gated ones (where a moved copy lands does not
    # depend on which digit of its nik slipped).
    prox = (
        ("kode_desa", "desa sama", 0.1),
        ("kode_kec", "kecamatan sama, desa berbeda", 0.1),
        ("kode_kab", "kab/kota sama, kecamatan berbeda", 0.3),
        ("kode_prov", "provinsi sama, kab/kota berbeda", 0.2),
    )
    same_wil = cll.ExactMatchLevel("nik_kab")
    wilayah = cl.CustomComparison(
        output_column_name="wilayah",
        comparison_levels=[
            _null("kode_desa", "desa tidak diketahui"),
            *(lv(cll.And(same_wil, cll.ExactMatchLevel(c)), t, m) for c, t, m in prox),
            lv(same_wil, "provinsi berbeda", 0.3),
            *(lv(cll.ExactMatchLevel(c), t, m) for c, t, m in prox),
            _else("provinsi berbeda", 0.3),
        ],
        comparison_description="kedekatan wilayah",
    )
    return [nik, nama, tgl, jk, tempat, asal, wilayah]


def settings_creator() -> Any:
    """A fresh, untrained model (``splink.SettingsCreator``)."""
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=[block_on(*r) for r in BLOCKING_RULES_PREDICT],
        probability_two_random_records_match=1e-6,
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
    )


def em_blocking_rules() -> list[Any]:
    from splink import block_on

    return [block_on(*r) for r in BLOCKING_RULES_EM]


# --- FEBRL4 (the benchmark `coklit-dq linkage evaluate` also prints) ----------------
# The same kinds of comparison on FEBRL's columns: names with Damerau-Levenshtein
# and Jaro-Winkler, the birth date with a day/month-swap level, the id number with
# Damerau-Levenshtein, address parts exact.

FEBRL_BLOCKING_RULES = (
    ("given_name", "surname"),
    ("date_of_birth",),
    ("soc_sec_id",),
    ("postcode", "surname"),
    ("suburb", "given_name"),
)


def febrl_settings_creator() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    def name(col: str) -> Any:
        return cl.CustomComparison(
            output_column_name=col,
            comparison_levels=[
                cll.NullLevel(col),
                cll.ExactMatchLevel(col),
                cll.DamerauLevenshteinLevel(col, 1),
                cll.JaroWinklerLevel(col, 0.9),
                cll.ElseLevel(),
            ],
        )

    dob = cl.CustomComparison(
        output_column_name="date_of_birth",
        comparison_levels=[
            cll.NullLevel("date_of_birth"),
            cll.ExactMatchLevel("date_of_birth"),
            {
                "sql_condition": "date_of_birth_l = dob_tukar_r",
                "label_for_charts": "day and month swapped",
            },
            cll.DamerauLevenshteinLevel("date_of_birth", 1),
            cll.ElseLevel(),
        ],
    )
    ssid = cl.CustomComparison(
        output_column_name="soc_sec_id",
        comparison_levels=[
            cll.NullLevel("soc_sec_id"),
            cll.ExactMatchLevel("soc_sec_id"),
            cll.DamerauLevenshteinLevel("soc_sec_id", 1),
            cll.DamerauLevenshteinLevel("soc_sec_id", 2),
            cll.ElseLevel(),
        ],
    )
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="unique_id",
        comparisons=[
            name("given_name"),
            name("surname"),
            dob,
            ssid,
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.9]),
            cl.ExactMatch("suburb"),
            cl.ExactMatch("postcode"),
            cl.ExactMatch("state"),
        ],
        blocking_rules_to_generate_predictions=[block_on(*r) for r in FEBRL_BLOCKING_RULES],
        retain_matching_columns=False,
    )
