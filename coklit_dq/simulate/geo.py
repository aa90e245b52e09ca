"""Synthetic regions (wilayah) with Kemendagri-shaped codes.

Each province gets kabupaten (codes 01-69) and kota (71-99), each with
kecamatan and desa/kelurahan (7th digit 1 kelurahan, 2 desa), and a size
weight per desa so voters split unevenly, as they do.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from coklit_dq.contract import PROVINCE_CODES

DEFAULT_PROVINCES = ("31", "32", "35", "73")

PROVINCE_NAMES = {
    "11": "ACEH", "12": "SUMATERA UTARA", "13": "SUMATERA BARAT", "14": "RIAU",
    "15": "JAMBI", "16": "SUMATERA SELATAN", "17": "BENGKULU", "18": "LAMPUNG",
    "19": "KEPULAUAN BANGKA BELITUNG", "21": "KEPULAUAN RIAU", "31": "DKI JAKARTA",
    "32": "JAWA BARAT", "33": "JAWA TENGAH", "34": "DI YOGYAKARTA", "35": "JAWA TIMUR",
    "36": "BANTEN", "51": "BALI", "52": "NUSA TENGGARA BARAT", "53": "NUSA TENGGARA TIMUR",
    "61": "KALIMANTAN BARAT", "62": "KALIMANTAN TENGAH", "63": "KALIMANTAN SELATAN",
    "64": "KALIMANTAN TIMUR", "65": "KALIMANTAN UTARA", "71": "SULAWESI UTARA",
    "72": "SULAWESI TENGAH", "73": "SULAWESI SELATAN", "74": "SULAWESI TENGGARA",
    "75": "GORONTALO", "76": "SULAWESI BARAT", "81": "MALUKU", "82": "MALUKU UTARA",
    "91": "PAPUA", "92": "PAPUA BARAT", "93": "PAPUA SELATAN", "94": "PAPUA TENGAH",
    "95": "PAPUA PEGUNUNGAN", "96": "PAPUA BARAT DAYA",
}  # fmt: skip

# Relative population (for splitting voters between provinces).
PROVINCE_WEIGHT = {"31": 8.3, "32": 35.9, "33": 28.3, "34": 2.9, "35": 31.3, "36": 8.9,
                   "12": 10.8, "73": 6.7}  # fmt: skip

KAB_NAMES = {
    "31": (["KEPULAUAN SERIBU"], ["JAKARTA SELATAN", "JAKARTA TIMUR", "JAKARTA PUSAT",
                                  "JAKARTA BARAT", "JAKARTA UTARA"]),
    "32": (["BOGOR", "SUKABUMI", "CIANJUR", "BANDUNG", "GARUT", "TASIKMALAYA", "CIAMIS",
            "KUNINGAN", "CIREBON", "MAJALENGKA", "SUMEDANG", "INDRAMAYU", "SUBANG"],
           ["BOGOR", "SUKABUMI", "BANDUNG", "CIREBON", "BEKASI", "DEPOK", "CIMAHI"]),
    "35": (["PACITAN", "PONOROGO", "TRENGGALEK", "TULUNGAGUNG", "BLITAR", "KEDIRI", "MALANG",
            "LUMAJANG", "JEMBER", "BANYUWANGI", "BONDOWOSO", "SITUBONDO", "PROBOLINGGO"],
           ["KEDIRI", "BLITAR", "MALANG", "PROBOLINGGO", "PASURUAN", "MOJOKERTO", "MADIUN",
            "SURABAYA", "BATU"]),
    "73": (["KEPULAUAN SELAYAR", "BULUKUMBA", "BANTAENG", "JENEPONTO", "TAKALAR", "GOWA",
            "SINJAI", "MAROS", "PANGKAJENE DAN KEPULAUAN", "BARRU", "BONE", "SOPPENG", "WAJO"],
           ["MAKASSAR", "PAREPARE", "PALOPO"]),
}  # fmt: skip

_PRE = [
    "SUKA",
    "CI",
    "KARANG",
    "TANJUNG",
    "SUMBER",
    "MEKAR",
    "WONO",
    "BATU",
    "PASIR",
    "SIDO",
    "GUNUNG",
    "BANJAR",
    "TELUK",
    "RAWA",
    "SINDANG",
    "JATI",
    "MARGA",
    "TAMAN",
    "CANDI",
    "PANCA",
    "KEBON",
    "BOJONG",
]
_SUF = [
    "MAJU",
    "JAYA",
    "MULYA",
    "ASIH",
    "SARI",
    "REJO",
    "MAKMUR",
    "HARJO",
    "LAKSANA",
    "RAHAYU",
    "WANGI",
    "ASRI",
    "BARU",
    "INDAH",
    "TENGAH",
    "KULON",
    "WETAN",
    "LOR",
    "KIDUL",
    "AGUNG",
    "MUKTI",
    "RAJA",
]


def _place_names(rng: np.random.Generator, n: int) -> pl.Series:
    a = rng.integers(0, len(_PRE), n)
    b = rng.integers(0, len(_SUF), n)
    return pl.DataFrame(
        {"a": pl.Series(_PRE).gather(pl.Series(a)), "b": pl.Series(_SUF).gather(pl.Series(b))}
    ).select(pl.concat_str("a", "b").alias("x"))["x"]


def make_wilayah(
    rng: np.random.Generator, provinces: list[str], voters: int, voters_per_desa: int = 1100
) -> pl.DataFrame:
    """One row per desa: the wilayah columns plus `bobot` (relative voter count)."""
    bad = [p for p in provinces if p not in PROVINCE_CODES]
    if bad:
        raise ValueError(f"not a province code: {', '.join(bad)}")
    w = np.array([PROVINCE_WEIGHT.get(p, 4.0) for p in provinces])
    w = w / w.sum()
    n_desa_total = max(6 * len(provinces), voters // voters_per_desa)
    frames = []
    for prov, share in zip(provinces, w, strict=True):
        dp = max(6, round(n_desa_total * share))
        n_kab = int(np.clip(round(dp / 30), 3, 20))
        n_kota = max(1, n_kab // 3)
        n_kabupaten = n_kab - n_kota
        i = np.arange(dp)
        kab = i * n_kab // dp
        first_of_kab = np.searchsorted(kab, np.arange(n_kab))
        local = i - first_of_kab[kab]
        per_kab = np.bincount(kab, minlength=n_kab)
        n_kec = np.clip(np.round(per_kab / 5), 1, 40).astype(np.int64)
        kec = local * n_kec[kab] // per_kab[kab]
        kec_key = kab * 100 + kec
        first_of_kec = np.r_[0, np.flatnonzero(np.diff(kec_key)) + 1]
        kec_start = np.repeat(first_of_kec, np.diff(np.r_[first_of_kec, dp]))
        desa_local = i - kec_start
        is_kota = kab >= n_kabupaten
        kab_num = np.where(is_kota, 71 + kab - n_kabupaten, 1 + kab)
        kelurahan = is_kota | (desa_local == 0)
        names_kab, names_kota = KAB_NAMES.get(prov, ([], []))
        kab_name = [
            (
                "KOTA "
                + (
                    names_kota[k - n_kabupaten]
                    if k - n_kabupaten < len(names_kota)
                    else f"{prov}{71 + k - n_kabupaten:02d}"
                )
                if k >= n_kabupaten
                else (names_kab[k] if k < len(names_kab) else f"KABUPATEN {prov}{k + 1:02d}")
            )
            for k in range(n_kab)
        ]  # per kabupaten/kota, not per row
        kec_names = _place_names(rng, dp)
        df = pl.DataFrame(
            {
                "kab_num": kab_num,
                "kec_num": kec + 1,
                "desa_num": desa_local + 1,
                "kelurahan": kelurahan,
                "nama_kab": np.array(kab_name, dtype=object)[kab].tolist(),
                "nama_desa": _place_names(rng, dp),
                "nama_kec0": kec_names,
                "bobot": rng.gamma(3.0, 1.0, dp).clip(1.2, None),
            }
        ).with_columns(kode_prov=pl.lit(prov), nama_prov=pl.lit(PROVINCE_NAMES.get(prov, prov)))
        df = df.with_columns(
            kode_kab=pl.lit(prov) + pl.col("kab_num").cast(pl.String).str.zfill(2),
        ).with_columns(
            kode_kec=pl.col("kode_kab") + pl.col("kec_num").cast(pl.String).str.zfill(2),
        )
        df = df.with_columns(
            kode_desa=pl.col("kode_kec")
            + pl.when(pl.col("kelurahan")).then(pl.lit("1")).otherwise(pl.lit("2"))
            + pl.col("desa_num").cast(pl.String).str.zfill(3),
            nama_kec=pl.col("nama_kec0").first().over("kode_kec"),
        )
        frames.append(df)
    return pl.concat(frames).select(
        "kode_desa", "nama_desa", "kode_kec", "nama_kec", "kode_kab", "nama_kab",
        "kode_prov", "nama_prov", "bobot",
    )  # fmt: skip
