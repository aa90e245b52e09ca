"""The GANDA_ORANG linkage model, declared in one place.

Input columns are prepared by ``coklit_dq.link.prepare`` (one row per record that
is not TMS), so every comparison below is plain SQL that DuckDB and Spark run
alike:

  unique_id       id_pemilih
  nik             a 16-digit nik that is not junk (one digit repeated), else NULL
  nik_a/b/c/d     blocking keys cut from the nik: 1-12, 7-16, 1-6 + 13-16, 13-16
  nama_norm       the name upper-cased, punctuation dropped, Indonesian spelling
                  variants folded (MUHAMMAD/MUHAMAD/MOH./M. -> MUHAMMAD, ST. -> SITI,
                  OE -> U, DJ -> J, TJ -> C)
  nama_depan      the first token of nama_norm (plus the second after MUHAMMAD/SITI)
  nama_inti       nama_norm without a leading MUHAMMAD / SITI / NUR / ABDUL
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
# Measured on a 1 M simulated night (seed 7; model.json trained label-free on
# another 1 M night, seed 3), pairs: 0.98 precision 0.977 recall 1.000 |
# 0.99 0.982 / 1.000 | 0.995 0.9975 / 1.000 | 0.998 0.9988 / 1.000.
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

# Candidate pairs: the union of these blocks (Splink dedupes pairs across rules).
# Each leaves one kind of keying error free; the serial 0001 is so common that
# the nik's date + serial alone makes blocks of hundreds (16 M pairs per 1 M
# records), so it is tightened with the birthplace.
BLOCKING_RULES_PREDICT = (
    ("nik_a",),  # kecamatan + birth date of the nik: a slip in the serial
    ("nik_b", "tempat_lahir"),  # the nik's date + serial, birthplace: a slip in the region
    ("nik_c", "tgl"),  # region + serial, birth date: a slip in the nik's date part
    ("nama_norm", "tgl"),  # name + birth date, whatever the nik
)

# Expectation maximisation, one session per rule; a comparison whose columns a
# rule blocks on is not trained in that session. Name + birth date + birthplace
# trains nik, sex and region. Name, birth date and birthplace keep the
# m-probabilities of M_PRIORS: measured on the simulator's data, every block
# that leaves them free (name + date alone, the nik's kecamatan + date, its
# date + serial, region + serial + first name) holds far
# more namesakes, siblings or people sharing a placeholder date than duplicates,
# and EM settles on one of those classes instead of "same person".
# Measured on a 1 M simulated night: adding a second session on the nik's
# kecamatan + date + birthplace (to train name and date) dropped precision at
# 0.99 from 0.92 to 0.65: EM took siblings born the same day for the match class.
BLOCKING_RULES_EM = (("nama_norm", "tgl", "tempat_lahir"),)


# Starting m-probabilities for expectation maximisation (what a duplicate looks
# like: the second record of a person who moved, keyed again by hand). EM starts
# here and re-estimates them; without a sensible start it settles on another
# latent class (people sharing a placeholder birth date, families).
M_PRIORS: dict[str, tuple[float, ...]] = {
    "nik": (0.2, 0.1, 0.5, 0.1, 0.1),
    "nama": (0.66, 0.1, 0.12, 0.09, 0.01, 0.02),
    "tgl_lahir": (0.76, 0.08, 0.05, 0.08, 0.03),
    "jenis_kelamin": (0.98, 0.02),
    "tempat_lahir": (0.85, 0.05, 0.10),
    "asal": (0.85, 0.05, 0.10),
    "wilayah": (0.1, 0.1, 0.3, 0.2, 0.3),
}


def _null(col: str) -> dict[str, Any]:
    return {
        "sql_condition": f"{col}_l IS NULL OR {col}_r IS NULL",
        "label_for_charts": f"{col} kosong",
        "is_null_level": True,
    }


def _level(sql: str, label: str, m: float, **extra: Any) -> dict[str, Any]:
    return {"sql_condition": sql, "label_for_charts": label, "m_probability": m, **extra}


def comparisons() -> list[Any]:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    m = M_PRIORS
    u = NIK_U_PROBABILITIES
    # The nik's date part repeats the birth date, which is compared on its own;
    # comparing the full nik as well would count one agreement twice (people of
    # one kecamatan born the same day have niks one keystroke apart). So past
    # "the same nik" the nik is compared without its date part (nik_c: region
    # + serial), whose u random sampling does observe.
    nik = cl.CustomComparison(
        output_column_name="nik",
        comparison_levels=[
            _null("nik"),
            _level(
                "nik_l = nik_r",
                "sama",
                m["nik"][0],
                u_probability=u["exact"],
                fix_u_probability=True,
            ),
            _level("nik_c_l = nik_c_r", "sama kecuali bagian tanggal", m["nik"][1]),
            cll.DamerauLevenshteinLevel("nik_c", 1).configure(m_probability=m["nik"][2]),
            cll.DamerauLevenshteinLevel("nik_c", 2).configure(m_probability=m["nik"][3]),
            _level("ELSE", "berbeda", m["nik"][4]),
        ],
        comparison_description="nik (Damerau-Levenshtein tanpa bagian tanggal)",
    )
    prefix = (
        "(substr(nama_norm_l || ' ', 1, length(nama_norm_r) + 1) = nama_norm_r || ' '"
        " OR substr(nama_norm_r || ' ', 1, length(nama_norm_l) + 1) = nama_norm_l || ' ')"
    )
    nama = cl.CustomComparison(
        output_column_name="nama",
        comparison_levels=[
            _null("nama_norm"),
            # Term-frequency adjusted: "FITRI" = "FITRI" says less than a rare name.
            _level(
                "nama_norm_l = nama_norm_r",
                "sama",
                m["nama"][0],
                tf_adjustment_column="nama_norm",
                tf_adjustment_weight=1.0,
                tf_minimum_u_value=1e-6,
            ),
            cll.DamerauLevenshteinLevel("nama_norm", 1).configure(m_probability=m["nama"][1]),
            # Adjusted by the first name's frequency: UJANG is a prefix of many names.
            _level(
                prefix,
                "nama belakang hilang",
                m["nama"][2],
                tf_adjustment_column="nama_depan",
                tf_adjustment_weight=1.0,
                tf_minimum_u_value=1e-6,
            ),
            # Without a leading MUHAMMAD/SITI, which alone makes two names "similar".
            cll.JaroWinklerLevel("nama_inti", 0.9).configure(m_probability=m["nama"][3]),
            # Also the exact level Splink needs to adjust "surname dropped" by the
            # first name's frequency.
            _level("nama_depan_l = nama_depan_r", "nama depan sama", m["nama"][4]),
            _level("ELSE", "berbeda", m["nama"][5]),
        ],
        comparison_description="nama (dinormalkan)",
    )
    t = m["tgl_lahir"]
    tgl = cl.CustomComparison(
        output_column_name="tgl_lahir",
        comparison_levels=[
            _null("tgl"),
            _level("tgl_l = tgl_r AND NOT tgl_samar_l", "sama", t[0]),
            _level(
                "tgl_l = tgl_r AND tgl_samar_l", "sama (tanggal pengganti 1/1, 1/7, 31/12)", t[1]
            ),
            _level("tgl_l = tgl_tukar_r OR tgl_r = tgl_tukar_l", "hari dan bulan tertukar", t[2]),
            _level("abs(tgl_hari_l - tgl_hari_r) <= 1", "selisih satu hari", t[3]),
            _level("ELSE", "berbeda", t[4]),
        ],
        comparison_description="tanggal lahir",
    )
    jk = cl.CustomComparison(
        output_column_name="jenis_kelamin",
        comparison_levels=[
            _null("jenis_kelamin"),
            # Fixed: a duplicate keeps its sex but for a keying slip, and EM on a
            # block of namesakes drives "berbeda" to m = 0 (Splink rejects it).
            _level(
                "jenis_kelamin_l = jenis_kelamin_r",
                "sama",
                m["jenis_kelamin"][0],
                fix_m_probability=True,
            ),
            _level("ELSE", "berbeda", m["jenis_kelamin"][1], fix_m_probability=True),
        ],
        comparison_description="jenis kelamin",
    )
    tl = m["tempat_lahir"]
    tempat = cl.CustomComparison(
        output_column_name="tempat_lahir",
        comparison_levels=[
            _null("tempat_lahir"),
            _level("tempat_lahir_l = tempat_lahir_r", "sama", tl[0]),
            cll.JaroWinklerLevel("tempat_lahir", 0.9).configure(m_probability=tl[1]),
            _level("ELSE", "berbeda", tl[2]),
        ],
        comparison_description="tempat lahir",
    )
    # Where a record came from: a person who moved is added BARU where they live
    # now and not struck where they lived before, so a duplicate is mostly one
    # BARU record and one handed down (domain.md); namesakes are mostly both
    # handed down.
    a = m["asal"]
    asal = cl.CustomComparison(
        output_column_name="asal",
        comparison_levels=[
            _null("baru"),
            _level("baru_l <> baru_r", "satu BARU, satu dari data yang diturunkan", a[0]),
            _level("baru_l AND baru_r", "keduanya BARU", a[1]),
            _level("ELSE", "keduanya dari data yang diturunkan", a[2]),
        ],
        comparison_description="asal rekaman",
    )
    w = m["wilayah"]
    wilayah = cl.CustomComparison(
        output_column_name="wilayah",
        comparison_levels=[
            _null("kode_desa"),
            _level("kode_desa_l = kode_desa_r", "desa sama", w[0]),
            _level("kode_kec_l = kode_kec_r", "kecamatan sama", w[1]),
            _level("kode_kab_l = kode_kab_r", "kab/kota sama", w[2]),
            _level("kode_prov_l = kode_prov_r", "provinsi sama", w[3]),
            _level("ELSE", "berbeda", w[4]),
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
