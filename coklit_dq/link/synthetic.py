"""A seeded, vectorised generator of pemilih records with planted duplicates.

For the linkage's own tests, training and benchmarks (the project's simulator,
``coklit_dq.simulate``, is the end-to-end one). What it plants, in the shape the
issue describes:

- duplicates: a person added as BARU in another desa (same kab or not) and not
  struck where they lived before; the second record's nik exact (a GANDA_NIK),
  one digit wrong or two adjacent digits swapped; the name written with a
  variant (MUHAMMAD -> MOH./M./MUHAMAD, SITI -> ST., U -> OE), a surname dropped
  or a letter wrong; the birth date with day and month swapped or a day off;
- traps: ~9 % placeholder birth dates (1 Jul, 31 Dec, 1 Jan) and twins (same
  nkk, same birth date, different first names, consecutive nik serials);
- some TMS records, which the linkage must ignore.

``truth`` maps id_pemilih -> id_orang (records of one person share it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import polars as pl

from coklit_dq.contract import schema

FIRST_L = [
    "AGUS",
    "BUDI",
    "JOKO",
    "SLAMET",
    "BAMBANG",
    "HENDRA",
    "RUDI",
    "ANDI",
    "DEDI",
    "EKO",
    "ARIF",
    "RIZKI",
    "FAJAR",
    "DIMAS",
    "YUDI",
    "SUPARMAN",
    "SUPRIYADI",
    "SUGENG",
    "WAHYU",
    "HERU",
    "IRFAN",
    "RAHMAT",
    "HIDAYAT",
    "SAIFUL",
    "ROHMAN",
    "ANTON",
    "YOGI",
    "DANI",
    "FIKRI",
    "HADI",
    "IWAN",
    "KURNIAWAN",
    "LUKMAN",
    "MULYADI",
    "NANANG",
    "OKI",
    "PRASETYO",
    "RAHMAN",
    "SETIAWAN",
    "TAUFIK",
    "UMAR",
    "YUSUF",
    "ZAINAL",
    "ABDUL",
    "ACHMAD",
    "BAYU",
    "CAHYO",
    "DWI",
    "GILANG",
    "IMAM",
    "JAYA",
    "KOMAR",
]
FIRST_P = [
    "SRI",
    "DEWI",
    "SITI",
    "NUR",
    "RINA",
    "YULI",
    "ENDANG",
    "WATI",
    "LESTARI",
    "AMINAH",
    "FATIMAH",
    "RATNA",
    "INDAH",
    "PUTRI",
    "AYU",
    "DIAN",
    "EKA",
    "FITRI",
    "HANI",
    "IKA",
    "KARTIKA",
    "LINA",
    "MAYA",
    "NINGSIH",
    "PURWANTI",
    "RAHAYU",
    "SUSANTI",
    "TUTI",
    "UMI",
    "WULAN",
    "YANTI",
    "ZAHRA",
    "ANISA",
    "BUNGA",
    "CITRA",
    "DINA",
    "ELSA",
    "FARIDA",
    "GITA",
    "HASANAH",
    "IRMA",
    "JUMIATI",
    "KURNIASIH",
    "LATIFAH",
    "MARYAM",
    "NOVI",
    "OKTAVIA",
    "PARTINI",
]
SURNAMES = [
    "SANTOSO",
    "WIJAYA",
    "SAPUTRA",
    "HIDAYAT",
    "KURNIAWAN",
    "SETIADI",
    "PRATAMA",
    "NUGROHO",
    "SUSANTO",
    "GUNAWAN",
    "HASIBUAN",
    "NASUTION",
    "SIREGAR",
    "LUBIS",
    "HARAHAP",
    "SIMANJUNTAK",
    "SINAGA",
    "PANJAITAN",
    "TAMBUNAN",
    "SULISTYO",
    "WIBOWO",
    "PURNOMO",
    "HARTONO",
    "SUHARTO",
    "SUKARNO",
    "SUDIRMAN",
    "SUTRISNO",
    "HANDOKO",
    "RAHARJO",
    "MAULANA",
    "RAMADHAN",
    "FIRMANSYAH",
    "SYAHPUTRA",
    "ANWAR",
    "BUDIMAN",
    "HALIM",
    "IBRAHIM",
    "ISKANDAR",
]
PROVINCES = ("32", "33", "35", "73")


@dataclass
class Synthetic:
    pemilih: pl.DataFrame  # export-v1 pemilih columns
    wilayah: pl.DataFrame
    truth: pl.DataFrame  # id_pemilih, id_orang


def _wilayah(n: int, provinces: tuple[str, ...]) -> pl.DataFrame:
    n_kec = max(8, n // 4_000)
    per_prov = -(-n_kec // len(provinces))
    rows = []
    for p in provinces:
        for k in range(per_prov):
            kab = f"{p}{k // 6 + 1:02d}"
            kec = f"{kab}{k % 6 + 1:02d}"
            for d in range(8):
                rows.append((f"{kec}2{d + 1:03d}", kec, kab, p))
    w = pl.DataFrame(rows, schema=["kode_desa", "kode_kec", "kode_kab", "kode_prov"], orient="row")
    return w.select(
        "kode_desa",
        nama_desa=pl.lit("Desa ") + pl.col("kode_desa").str.slice(7),
        kode_kec="kode_kec",
        nama_kec=pl.lit("Kecamatan ") + pl.col("kode_kec"),
        kode_kab="kode_kab",
        nama_kab=pl.lit("Kabupaten ") + pl.col("kode_kab"),
        kode_prov="kode_prov",
        nama_prov=pl.lit("Provinsi ") + pl.col("kode_prov"),
    )


def _pick(rng: np.random.Generator, words: list[str], n: int) -> pl.Series:
    return pl.Series(
        np.asarray(words, dtype=object)[rng.integers(0, len(words), n)], dtype=pl.String
    )


def generate(
    n: int,
    *,
    seed: int = 1,
    dup_rate: float = 0.02,
    twin_rate: float = 0.01,
    tms_rate: float = 0.03,
    provinces: tuple[str, ...] = PROVINCES,
) -> Synthetic:
    """About `n` records (persons plus planted duplicates and twins)."""
    rng = np.random.default_rng(seed)
    wil = _wilayah(n, provinces)
    desa = wil["kode_desa"].to_numpy()
    n_p = int(n / (1 + dup_rate + twin_rate))
    female = rng.random(n_p) < 0.5
    # Birth dates: uniform 1940-2006, ~9 % placeholders (1 Jul, 31 Dec, 1 Jan).
    days = rng.integers(
        (date(1940, 1, 1) - date(1970, 1, 1)).days,
        (date(2006, 12, 31) - date(1970, 1, 1)).days,
        n_p,
    )
    born = pl.Series(days, dtype=pl.Int32).cast(pl.Date)
    u = rng.random(n_p)
    year = born.dt.year()
    md = np.select([u < 0.05, u < 0.076, u < 0.09], [701, 1231, 101], 0)
    born = (
        pl.DataFrame({"b": born, "y": year, "md": md})
        .select(
            pl.when(pl.col("md") > 0)
            .then(pl.date(pl.col("y"), pl.col("md") // 100, pl.col("md") % 100))
            .otherwise(pl.col("b"))
        )
        .to_series()
    )
    first = pl.Series(
        np.where(female, _pick(rng, FIRST_P, n_p).to_numpy(), _pick(rng, FIRST_L, n_p).to_numpy()),
        dtype=pl.String,
    )
    prefix = np.where(rng.random(n_p) < 0.15, np.where(female, "SITI ", "MUHAMMAD "), "")
    second = np.where(
        rng.random(n_p) < 0.5,
        " "
        + np.where(
            female, _pick(rng, FIRST_P, n_p).to_numpy(), _pick(rng, FIRST_L, n_p).to_numpy()
        ),
        "",
    )
    sur = second + np.where(rng.random(n_p) < 0.6, " " + _pick(rng, SURNAMES, n_p).to_numpy(), "")
    home = rng.integers(0, len(desa), n_p)
    p = pl.DataFrame(
        {
            "id_orang": np.arange(n_p, dtype=np.int64),
            "female": female,
            "tanggal_lahir": born,
            "first": first,
            "prefix": prefix,
            "sur": sur,
            "kode_desa": desa[home],
            "fam": np.arange(n_p) // 3,
            "twin_of": np.full(n_p, -1, dtype=np.int64),
        }
    )
    # Families live together: every member in the first member's desa.
    p = p.with_columns(pl.col("kode_desa").first().over("fam"))
    # Twins: same family, desa and birth date; another first name.
    n_tw = int(n_p * twin_rate)
    src = rng.choice(n_p, n_tw, replace=False)
    tw = (
        p[src]
        .with_columns(
            id_orang=pl.int_range(n_p, n_p + n_tw, dtype=pl.Int64),
            twin_of=pl.Series(src, dtype=pl.Int64),
            first=pl.when(pl.col("female"))
            .then(_pick(rng, FIRST_P, n_tw))
            .otherwise(_pick(rng, FIRST_L, n_tw)),
        )
        .filter(pl.col("first") != p["first"].gather(src))
    )
    p = pl.concat([p, tw])
    # nik: kecamatan of first registration (mostly home) + DDMMYY (+40) + serial.
    kec_lahir = np.where(
        rng.random(p.height) < 0.85,
        p["kode_desa"].str.slice(0, 6).to_numpy(),
        desa[rng.integers(0, len(desa), p.height)].astype("U6"),
    )
    p = p.with_columns(kec_lahir=pl.Series(kec_lahir, dtype=pl.String)).with_columns(
        dd=(pl.col("tanggal_lahir").dt.day() + pl.when("female").then(40).otherwise(0))
        .cast(pl.String)
        .str.zfill(2),
    )
    p = p.with_columns(
        serial=pl.int_range(1, pl.len() + 1).over("kec_lahir", "dd", "tanggal_lahir"),
    ).with_columns(
        nik=pl.col("kec_lahir")
        + pl.col("dd")
        + pl.col("tanggal_lahir").dt.strftime("%m%y")
        + pl.col("serial").cast(pl.String).str.zfill(4),
        nkk=pl.col("kode_desa").str.slice(0, 6)
        + pl.lit("01")
        + (pl.col("fam") % 100_000_000).cast(pl.String).str.zfill(8),
        nama=pl.col("prefix") + pl.col("first") + pl.col("sur"),
        status_coklit=pl.lit("MS"),
        waktu_coklit=pl.lit(datetime(2024, 6, 25, 9, tzinfo=UTC)),
    )
    dups = _duplicates(p, rng, int(n_p * dup_rate), desa)
    recs = pl.concat([p, dups], how="diagonal_relaxed")
    recs = recs.with_columns(
        id_pemilih=pl.lit("S") + pl.int_range(0, pl.len()).cast(pl.String).str.zfill(8),
    )
    tms = rng.random(recs.height) < tms_rate
    recs = recs.with_columns(
        status_coklit=pl.when(pl.Series(tms)).then(pl.lit("TMS")).otherwise("status_coklit"),
        kode_tms=pl.when(pl.Series(tms)).then(pl.lit(4, pl.Int16)),
    )
    pem = recs.select(
        "id_pemilih",
        "nik",
        "nkk",
        "nama",
        tempat_lahir=pl.lit("BANDUNG"),
        tanggal_lahir="tanggal_lahir",
        jenis_kelamin=pl.when("female").then(pl.lit("P")).otherwise(pl.lit("L")),
        status_kawin=pl.lit("K"),
        alamat=pl.lit("JL. MERDEKA"),
        rt=pl.lit("001"),
        rw=pl.lit("001"),
        disabilitas=pl.lit(0, pl.Int8),
        kode_desa="kode_desa",
        no_tps=pl.lit(1, pl.Int32),
        status_coklit="status_coklit",
        kode_tms="kode_tms",
        dokumen_tms=pl.lit(None, pl.String),
        id_pantarlih=pl.col("kode_desa") + pl.lit("-1"),
        waktu_coklit="waktu_coklit",
    ).cast(dict(schema("pemilih")))  # type: ignore[arg-type]
    truth = recs.select("id_pemilih", id_orang=pl.col("id_orang").cast(pl.String))
    return Synthetic(pemilih=pem, wilayah=wil, truth=truth)


def _duplicates(
    p: pl.DataFrame, rng: np.random.Generator, k: int, desa: np.ndarray
) -> pl.DataFrame:
    """Second records of `k` persons: BARU elsewhere, with the typical errors."""
    src = p[rng.choice(p.height, k, replace=False)]
    r = rng.random((6, k))
    pos = rng.integers(0, 15, k)  # digit to change / first of two to swap
    bump = rng.integers(1, 10, k)
    nik = pl.col("nik")
    new_digit = ((nik.str.slice(pl.col("pos"), 1).cast(pl.Int32) + pl.col("bump")) % 10).cast(
        pl.String
    )
    typo = nik.str.slice(0, pl.col("pos")) + new_digit + nik.str.slice(pl.col("pos") + 1)
    swap = (
        nik.str.slice(0, pl.col("pos"))
        + nik.str.slice(pl.col("pos") + 1, 1)
        + nik.str.slice(pl.col("pos"), 1)
        + nik.str.slice(pl.col("pos") + 2)
    )
    # Other desa: 60 % elsewhere in the country, else in the same kabupaten.
    other = desa[rng.integers(0, len(desa), k)]
    d = src.with_columns(
        pos=pl.Series(pos, dtype=pl.Int64),
        bump=pl.Series(bump, dtype=pl.Int32),
        r0=r[0],
        r1=r[1],
        r2=r[2],
        other=pl.Series(other, dtype=pl.String),
    )
    prefix_var = (
        pl.when(pl.col("prefix") == "MUHAMMAD ")
        .then(
            pl.Series(
                np.asarray(["MOH. ", "M. ", "MUHAMAD ", "MOCH. "], dtype=object)[
                    rng.integers(0, 4, k)
                ],
                dtype=pl.String,
            )
        )
        .when(pl.col("prefix") == "SITI ")
        .then(pl.lit("ST. "))
        .otherwise(pl.col("prefix"))
    )
    name = (
        pl.when(pl.col("r1") < 0.5)
        .then(pl.col("prefix") + pl.col("first") + pl.col("sur"))
        .when(pl.col("r1") < 0.65)
        .then(prefix_var + pl.col("first") + pl.col("sur"))
        .when(pl.col("r1") < 0.75)
        .then(pl.col("prefix") + pl.col("first") + pl.col("sur").str.replace("U", "OE"))
        .when((pl.col("r1") < 0.87) & (pl.col("sur") != ""))
        .then(pl.col("prefix") + pl.col("first"))
        .otherwise((pl.col("prefix") + pl.col("first") + pl.col("sur")).str.replace(r"[AIUE]", "I"))
    )
    born = pl.col("tanggal_lahir")
    swapped = pl.date(born.dt.year(), born.dt.day(), born.dt.month())
    tgl = (
        pl.when((pl.col("r2") < 0.08) & (born.dt.day() <= 12))
        .then(swapped)
        .when(pl.col("r2") < 0.15)
        .then(born + pl.duration(days=1))
        .otherwise(born)
    )
    return d.with_columns(
        nik=pl.when(pl.col("r0") < 0.2)
        .then(nik)
        .when(pl.col("r0") < 0.65)
        .then(typo)
        .otherwise(swap),
        nama=name,
        tanggal_lahir=tgl,
        kode_desa=pl.when(pl.lit(True)).then(pl.col("other")),
        status_coklit=pl.lit("BARU"),
        waktu_coklit=pl.lit(datetime(2024, 7, 2, 10, tzinfo=UTC)),
        nkk=pl.col("other").str.slice(0, 6)
        + pl.lit("02")
        + pl.col("id_orang").cast(pl.String).str.zfill(8),
    ).drop("pos", "bump", "r0", "r1", "r2", "other")
