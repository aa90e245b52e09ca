"""Indonesian names, places and spelling variants, sampled vectorised.

Five naming traditions (Javanese, Sundanese, Malay, Bugis, Batak) with their
usual shapes: one or two given names, an Islamic prefix (MUHAMMAD, SITI), a
Bugis ANDI, a Batak marga. Spelling variants (MUHAMMAD/MUHAMAD/MOH.,
SITI/ST., SOEPARMAN/SUPARMAN, a dropped last name) serve the planted duplicates.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from coklit_dq.simulate.geo import KAB_NAMES

ETHNICITIES = ("jawa", "sunda", "melayu", "bugis", "batak")

# Ethnic mix per province (default mix for any other province).
ETHNIC_MIX: dict[str, tuple[float, float, float, float, float]] = {
    "31": (0.40, 0.25, 0.20, 0.05, 0.10),
    "32": (0.15, 0.75, 0.06, 0.01, 0.03),
    "33": (0.92, 0.03, 0.03, 0.01, 0.01),
    "34": (0.94, 0.02, 0.02, 0.01, 0.01),
    "35": (0.88, 0.02, 0.06, 0.02, 0.02),
    "36": (0.20, 0.65, 0.10, 0.02, 0.03),
    "12": (0.25, 0.02, 0.25, 0.03, 0.45),
    "73": (0.08, 0.02, 0.10, 0.78, 0.02),
}
DEFAULT_MIX = (0.35, 0.10, 0.35, 0.10, 0.10)

_GIVEN_L = {
    "jawa": "BAMBANG BUDI AGUS JOKO SLAMET HERU SUTRISNO WAHYU PURNOMO SUHARTO SUDARSONO "
    "EKO ARIF HADI SUSILO RUDI PRASETYO NUGROHO SANTOSO WIBOWO KURNIAWAN HIDAYAT SUPRIYADI "
    "MULYONO SUKIMAN WARSITO SUPARMAN SUGIANTO SUPARJO SUMARNO SUNARTO TRIYONO DARMADI "
    "GUNAWAN SETIAWAN HARYANTO KUSNADI SUPRAPTO TEGUH SUWARNO WIDODO YUDHI ANTON DIDIK",
    "sunda": "ASEP UJANG DEDE CECEP DADANG AAN YAYAT JAJANG KOKO ADE DENI IWAN HENDRA "
    "SUHENDAR SUPRIATNA SOBANDI RUSTANDI MULYANA KURNIA DODI ENDANG AGUS ACENG OMAN "
    "UDIN ENCEP DEDI YUDI ROHMAT SUTISNA KOSASIH AHMAD SAEPUL HERMAN WAWAN ENDIN",
    "melayu": "AHMAD RAHMAT FAUZI HASAN HUSEIN RIDWAN ZULKIFLI SYAFRIZAL IRWAN FIRMAN "
    "RIZKI HAFIZ ISMAIL YUSUF HAMZAH ARIFIN SAFRUDIN JUNAIDI AZHAR HERMANSYAH "
    "SYAHRIL ROSLAN FADLI AMIRUL KHAIRUL NASRUL HENDRI YULIZAR AIDIL FIKRI",
    "bugis": "ABDUL BASO MAPPA AMIRUDDIN SYAMSUDDIN HASANUDDIN NURDIN ARIFUDDIN JUFRI "
    "SUDIRMAN BAHTIAR SYAHRIR RUSLAN HAMKA ASWAR MUSLIMIN AKBAR IRFAN MARZUKI "
    "SAHABUDDIN JAMALUDDIN RAHMAN KAHAR TAJUDDIN SAIFUL ILHAM FADLI",
    "batak": "JONI ROBERT HOTMAN PARULIAN MARTUA TUMPAL BINSAR SAHAT LAMHOT DAVID "
    "RICHARD JANSEN RIKARDO BONAR GOMGOM MANGATAS HOTLAN POLTAK SARDOTUA TIGOR "
    "ANDREAS BENNY DANIEL EDWARD FERDINAN",
}
_GIVEN_P = {
    "jawa": "SRI WAHYUNI SUMARNI SUPARMI ENDANG RATNA DEWI LESTARI RAHAYU PUJI ASTUTI "
    "NINGSIH SULASTRI TUTIK WULANDARI YULIANTI KARTINI SUNARSIH WIDYA SUMIATI "
    "SUPARTINI TRI SUSANTI EKO WINARTI MARYATI SUWARNI KASMINI SITI PARTINI",
    "sunda": "NENG EUIS IIS ENENG NINING YATI IMAS TITIN NUNUNG ENTIN CUCU LILIS YANTI "
    "NURHAYATI ROSITA AI ENUNG OOM TATI ELIS NENDEN RINA YENI SRI DEDEH ITA",
    "melayu": "AISYAH FATIMAH ZAINAB RAHMA SALMAH HALIMAH NURHALIZA DEWI PUTRI "
    "NURAINI ROSMALA YUSNIDAR ZURAIDA HASNAH MAIMUNAH SYARIFAH RAHMAWATI "
    "ERNAWATI JULIANA SUSANTI FITRI YENNI MARLINA",
    "bugis": "NURHAEDAH HASNAH MARDIANA HASNIATI RAHMAWATI NURLAELA MUSDALIFAH "
    "SUHARTINI SITTI HAJRAH NURHAYATI SUKMAWATI HASMAWATI RAHMATIA KASMAWATI "
    "NURJANNAH ASMA HAMSIAH BUNGA ROSDIANA",
    "batak": "RUGUN TIUR MARIA ROSMA LAMRIA DUMA ELIZABETH NURMALA ROSLINA "
    "MERRY HOTMAIDA TIOMINAR ROSMAWATI SARMA MASTIUR LINDA RENTA DORIS",
}
# Names common everywhere, mostly among younger voters.
_MODERN_L = (
    "RIZKY FAJAR DIMAS BAYU ADITYA ANDIKA REZA ILHAM FIRMANSYAH ARDIANSYAH SAPUTRA PRATAMA "
    "RAMADHAN HERMAWAN SEPTIAN KURNIA WAHYUDI ALFIAN GALIH YOGA DANANG FERDI IQBAL HABIBI "
    "RAFI NAUFAL FAUZAN AKBAR ARYA BIMA CANDRA DENNY ERLANGGA FEBRIAN GILANG HARIS INDRA "
    "JULIANTO KEVIN LUTFI MAULANA NANDA OKTAVIAN PUTRA RANGGA SATRIA TAUFIK UTAMA VIKRI "
    "WISNU YOGI ZAKI ARIEF BAGUS DWI FIRDAUS HARDI IRWANSYAH JAMAL KHOIRUL LUKMAN MUKHLIS"
)
_MODERN_P = (
    "AYU DIAN FITRI INDAH PUTRI NOVITA SARI WULAN YULIA ANISA NABILA SALSABILA AULIA NURUL "
    "DESI WIDYA ANGGRAINI KURNIASIH MAYANG OKTAVIANI PERMATA RAHMADANI SEPTIANI TIARA "
    "VERONIKA WINDA YUNITA ZAHRA AMELIA BELLA CITRA DELLA ELVIRA FEBRIANTI GITA HANA "
    "INTAN JESSICA KARTIKA LESTARI MELATI NADIA OLIVIA PRATIWI RIZKA SELVI TRIANA UMI "
    "VINA WAHYUNINGSIH YOLANDA ZULAIKHA ASTRI DEVI EVI FARAH HESTI IRMA LIA MEGA NOVI RENI"
)
for _e in ETHNICITIES:
    _GIVEN_L[_e] += " " + _MODERN_L
    _GIVEN_P[_e] += " " + _MODERN_P
_PREFIX_L = {
    "jawa": ("MUHAMMAD", 0.12),
    "sunda": ("MUHAMMAD", 0.10),
    "melayu": ("MUHAMMAD", 0.40),
    "bugis": ("ANDI", 0.18),
    "batak": (None, 0.0),
}
_PREFIX_P = {
    "jawa": ("SITI", 0.15),
    "sunda": ("SITI", 0.12),
    "melayu": ("SITI", 0.35),
    "bugis": ("ANDI", 0.15),
    "batak": (None, 0.0),
}
# Share of persons with a second given name. Many Indonesians carry one name only
# (SLAMET, DEWI): with the prefixes above about 45 % of voters get a one-word name
# (domain.md; no national statistic is published, this is a stated assumption).
_SECOND_P = {"jawa": 0.4, "sunda": 0.45, "melayu": 0.55, "bugis": 0.5, "batak": 0.0}
# Names repeat heavily: the k-th name of a list (lists start with the most common) is
# drawn with weight 1 / k**ZIPF_S, so the commonest name of a list of ~100 carries about
# 7 % of its group and namesakes grow with the size of the area compared, as in a
# real country (Zipf's law of given names; the exponent is an assumption).
ZIPF_S = 0.6
MARGA = [
    "SIREGAR",
    "NASUTION",
    "SIMANJUNTAK",
    "HUTAGALUNG",
    "SITUMORANG",
    "SIAHAAN",
    "PANJAITAN",
    "SINAGA",
    "MANURUNG",
    "LUBIS",
    "HARAHAP",
    "SIMATUPANG",
    "TAMBUNAN",
    "SIHOMBING",
    "SIRAIT",
    "PARDEDE",
    "MARPAUNG",
    "SILALAHI",
    "TOBING",
    "SARAGIH",
    "PASARIBU",
    "SIMBOLON",
    "GULTOM",
    "NAPITUPULU",
]

BIRTH_PLACES: dict[str, list[str]] = {
    "31": [
        "JAKARTA",
        "JAKARTA",
        "JAKARTA",
        "BOGOR",
        "BEKASI",
        "TANGERANG",
        "DEPOK",
        "MEDAN",
        "PADANG",
    ],
    "32": [
        "BANDUNG",
        "BOGOR",
        "GARUT",
        "TASIKMALAYA",
        "CIANJUR",
        "SUKABUMI",
        "CIREBON",
        "KUNINGAN",
        "SUMEDANG",
        "KARAWANG",
        "BEKASI",
        "CIAMIS",
        "MAJALENGKA",
        "INDRAMAYU",
        "SUBANG",
        "PURWAKARTA",
    ],
    "35": [
        "SURABAYA",
        "MALANG",
        "KEDIRI",
        "BLITAR",
        "JEMBER",
        "BANYUWANGI",
        "MADIUN",
        "PONOROGO",
        "TULUNGAGUNG",
        "LAMONGAN",
        "GRESIK",
        "SIDOARJO",
        "MOJOKERTO",
        "PASURUAN",
        "PROBOLINGGO",
        "BOJONEGORO",
    ],
    "73": [
        "MAKASSAR",
        "BONE",
        "GOWA",
        "WAJO",
        "SOPPENG",
        "MAROS",
        "PANGKEP",
        "BARRU",
        "SIDRAP",
        "PINRANG",
        "PAREPARE",
        "BULUKUMBA",
        "SINJAI",
        "TAKALAR",
        "JENEPONTO",
    ],
}
DEFAULT_PLACES_BASE = [
    "JAKARTA",
    "SURABAYA",
    "BANDUNG",
    "MEDAN",
    "SEMARANG",
    "MAKASSAR",
    "PALEMBANG",
    "PADANG",
]
DEFAULT_PLACES = [
    *DEFAULT_PLACES_BASE,
    *[
        "PEKANBARU",
        "PONTIANAK",
        "BANJARMASIN",
        "MANADO",
        "DENPASAR",
        "KUPANG",
        "MATARAM",
        "AMBON",
        "JAYAPURA",
        "BALIKPAPAN",
        "SAMARINDA",
        "JAMBI",
        "BENGKULU",
        "LAMPUNG",
        "SOLO",
        "YOGYAKARTA",
        "CILACAP",
        "TEGAL",
        "PEKALONGAN",
        "MAGELANG",
    ],
]


STREETS = [
    "MERDEKA",
    "SUDIRMAN",
    "DIPONEGORO",
    "GATOT",
    "SUBROTO",
    "AHMAD",
    "YANI",
    "PAHLAWAN",
    "MELATI",
    "MAWAR",
    "KENANGA",
    "ANGGREK",
    "CEMPAKA",
    "FLAMBOYAN",
    "MANGGA",
    "RAMBUTAN",
    "KELAPA",
    "SAWO",
    "PERINTIS",
    "KEMERDEKAAN",
    "PEMUDA",
    "VETERAN",
    "RAYA",
    "SILIWANGI",
    "HASANUDDIN",
    "KARTINI",
    "IMAM",
    "BONJOL",
]


def _flat(table: dict[str, str], eth: tuple[str, ...]) -> tuple[list[str], np.ndarray, np.ndarray]:
    values: list[str] = []
    offsets, lengths = [], []
    for e in eth:
        words = table[e].split()
        offsets.append(len(values))
        lengths.append(len(words))
        values += words
    return values, np.array(offsets), np.array(lengths)


def pick(values: list[str] | pl.Series, idx: np.ndarray) -> pl.Series:
    """values[idx] as a polars String Series (vectorised gather)."""
    s = values if isinstance(values, pl.Series) else pl.Series(values, dtype=pl.String)
    return s.gather(pl.Series(idx.astype(np.int64)))


def ethnicity(rng: np.random.Generator, provinces: np.ndarray, prov_i: np.ndarray) -> np.ndarray:
    """An ethnicity index (into ETHNICITIES) per row, by its province's mix.

    `provinces` holds the distinct province codes, `prov_i` each row's index into them.
    """
    cum = np.array([np.cumsum(ETHNIC_MIX.get(str(p), DEFAULT_MIX)) for p in provinces])
    cum = cum / cum[:, -1:]
    u = rng.random(len(prov_i))
    out = (u[:, None] >= cum[prov_i]).sum(axis=1)
    return np.minimum(out, len(ETHNICITIES) - 1)


# The share of people whose birthplace is the kab/kota they live in (docs/stages.md says
# how it was chosen). Most people live where they were born, so namesakes of one
# kabupaten share a birthplace far more often than two random people do.
BORN_AT_HOME = 0.5


def birth_places(
    rng: np.random.Generator,
    provinces: np.ndarray,
    prov_i: np.ndarray,
    homes: list[str],
    home_i: np.ndarray,
) -> pl.Series:
    """A birth place per row: the kab/kota it lives in (homes[home_i], the name as a
    birthplace is written; "" when it has none), else a town of its province, sometimes
    a big city elsewhere. Home or not is decided by the draw that picks the town, so
    every other draw of the simulation stays as it was."""
    values: list[str] = []
    offsets, lengths = [], []
    for p in provinces:
        kab, kota = KAB_NAMES.get(str(p), ([], []))
        places = sorted({*BIRTH_PLACES.get(str(p), DEFAULT_PLACES), *kab, *kota})
        offsets.append(len(values))
        lengths.append(len(places))
        values += places
    far_off = len(values)
    values += DEFAULT_PLACES
    off = np.array(offsets)[prov_i]
    ln = np.array(lengths)[prov_i]
    has_home = (np.array(homes, dtype=object) != "")[home_i]
    u = rng.random(len(prov_i))
    at_home = has_home & (u < BORN_AT_HOME)
    town = np.clip((u - BORN_AT_HOME) / (1 - BORN_AT_HOME), 0.0, 1 - 1e-12)
    idx = off + (np.where(has_home, town, u) * ln).astype(np.int64)
    far = rng.random(len(prov_i)) < 0.08
    idx[far] = far_off + rng.integers(0, len(DEFAULT_PLACES), int(far.sum()))
    home = pick(homes, home_i)
    return (
        pl.select(pl.when(pl.Series(at_home & ~far)).then(home).otherwise(pick(values, idx)))
        .to_series()
        .alias("tempat_lahir")
    )


def _zipf(rng: np.random.Generator, lengths: np.ndarray) -> np.ndarray:
    """An index in [0, length) per row, weight 1 / (k + 1) ** ZIPF_S (inverse CDF)."""
    out = np.zeros(len(lengths), dtype=np.int64)
    u = rng.random(len(lengths))
    for ln in np.unique(lengths):
        w = 1.0 / np.arange(1, ln + 1) ** ZIPF_S
        cum = np.cumsum(w) / w.sum()
        sel = lengths == ln
        out[sel] = np.minimum(np.searchsorted(cum, u[sel], side="right"), ln - 1)
    return out


def names(rng: np.random.Generator, eth: np.ndarray, female: np.ndarray) -> pl.Series:
    """A full name per row: [prefix] given [second given | marga]."""
    n = len(eth)
    given_l, off_l, len_l = _flat(_GIVEN_L, ETHNICITIES)
    given_p, off_p, len_p = _flat(_GIVEN_P, ETHNICITIES)
    values = given_l + given_p
    off = np.where(female, off_p[eth] + len(given_l), off_l[eth])
    ln = np.where(female, len_p[eth], len_l[eth])
    first = off + _zipf(rng, ln)
    second = off + _zipf(rng, ln)
    second = np.where(second == first, off + (second - off + 1) % ln, second)
    p_second = np.array([_SECOND_P[e] for e in ETHNICITIES])[eth]
    has_second = rng.random(n) < p_second
    batak = eth == ETHNICITIES.index("batak")
    marga = rng.integers(0, len(MARGA), n)

    pre_vals = ["", "MUHAMMAD", "SITI", "ANDI"]
    pre_l = np.array([pre_vals.index(_PREFIX_L[e][0] or "") for e in ETHNICITIES])[eth]
    pre_p = np.array([pre_vals.index(_PREFIX_P[e][0] or "") for e in ETHNICITIES])[eth]
    p_pre = np.where(
        female,
        np.array([_PREFIX_P[e][1] for e in ETHNICITIES])[eth],
        np.array([_PREFIX_L[e][1] for e in ETHNICITIES])[eth],
    )
    pre = np.where(rng.random(n) < p_pre, np.where(female, pre_p, pre_l), 0)
    df = pl.DataFrame(
        {
            "a": pick(pre_vals, pre),
            "b": pick(values, first),
            "c": pick(values, second),
            "m": pick(MARGA, marga),
            "has2": has_second,
            "batak": batak,
        }
    )
    return df.select(
        pl.concat_str(
            [
                pl.when(pl.col("a") != "").then(pl.col("a")),
                pl.col("b"),
                pl.when(pl.col("batak")).then(pl.col("m")).when(pl.col("has2")).then(pl.col("c")),
            ],
            separator=" ",
            ignore_nulls=True,
        ).alias("nama")
    ).to_series()


def variant(nama: pl.Expr, u: pl.Expr) -> pl.Expr:
    """A spelling variant of a name, as a clerk would type it (u uniform in [0, 1))."""
    muh = (
        pl.when(u < 0.35)
        .then(nama.str.replace("MUHAMMAD", "MUHAMAD", literal=True))
        .when(u < 0.7)
        .then(nama.str.replace("MUHAMMAD", "MOH.", literal=True))
        .otherwise(nama.str.replace("MUHAMMAD", "MOCH.", literal=True))
    )
    tokens = nama.str.split(" ")
    return (
        pl.when(nama.str.contains("MUHAMMAD", literal=True))
        .then(muh)
        .when(nama.str.starts_with("SITI "))
        .then(nama.str.replace("SITI ", "ST. ", literal=True))
        .when(nama.str.contains("OE", literal=True))
        .then(nama.str.replace_all("OE", "U", literal=True))
        .when(nama.str.contains(r"^SU|\sSU"))
        .then(nama.str.replace(r"(^|\s)SU", "${1}SOE"))
        .when(tokens.list.len() >= 2)
        .then(tokens.list.slice(0, tokens.list.len() - 1).list.join(" "))
        .otherwise(nama.str.replace(r"([AEIOU])", "${1}${1}"))
    )


# How a name is keyed again on a second record (shares of the name slips of a planted
# duplicate; domain.md lists the kinds, the shares are assumptions stated in
# docs/stages.md): a regional spelling, shortened to the first word, a letter doubled
# or dropped, words joined or in another order, a title in front.
NAME_SLIPS = (
    ("ejaan", 0.30),
    ("kata_pertama", 0.15),
    ("huruf_ganda", 0.12),
    ("huruf_hilang", 0.12),
    ("digabung", 0.08),
    ("urutan", 0.08),
    ("gelar", 0.15),
)
_PREFIXES = ("MUHAMMAD", "SITI", "ANDI")


def slip(nama: pl.Expr, female: pl.Expr, u: pl.Expr, v: pl.Expr) -> pl.Expr:
    """The name as a clerk keyed it on another record (u, v uniform in [0, 1)); always
    different from `nama` (a slip that does not apply falls back to a spelling variant)."""
    tokens = nama.str.split(" ")
    n_tok = tokens.list.len()
    first = tokens.list.first()
    l0 = first.str.len_chars()
    k = (v * l0).floor().cast(pl.Int64).clip(0, l0 - 1)
    kd = (v * (l0 - 1)).floor().cast(pl.Int64).clip(0, l0 - 2) + 1
    short = (
        pl.when(first.is_in(_PREFIXES) & (n_tok >= 3))
        .then(tokens.list.slice(0, 2).list.join(" "))
        .otherwise(first)
    )
    kinds = {
        "ejaan": variant(nama, v),
        "kata_pertama": pl.when(short != nama).then(short),
        "huruf_ganda": nama.str.slice(0, k + 1) + nama.str.slice(k),
        "huruf_hilang": pl.when(l0 >= 4).then(nama.str.slice(0, kd) + nama.str.slice(kd + 1)),
        "digabung": pl.when(n_tok >= 2).then(nama.str.replace(" ", "", literal=True)),
        "urutan": pl.when(n_tok >= 2).then(tokens.list.reverse().list.join(" ")),
        "gelar": pl.when(female).then(pl.lit("HJ. ")).otherwise(pl.lit("H. ")) + nama,
    }
    out: Any = None  # a when/then chain
    edge = 0.0
    for name, share in NAME_SLIPS:
        edge += share
        cond = u < edge if name != NAME_SLIPS[-1][0] else pl.lit(True)
        out = pl.when(cond).then(kinds[name]) if out is None else out.when(cond).then(kinds[name])
    assert out is not None
    return pl.coalesce(out.otherwise(None), variant(nama, v))
