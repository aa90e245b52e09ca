"""Simulated answers of regions to a night's lists (tanggapan-v1), for the demo and tests.

    simulate_responses(outbox, tanggal, inbox, seed=1) -> counts per answer

Reads every `<outbox>/<date>/<prov>/<kab>/temuan.csv` and writes, for most
regions (some never answer), `<inbox>/<date>/<prov>/<kab>/tanggapan.csv` with a
seeded share of the findings answered: some reported fixed (SUDAH_DIPERBAIKI),
some checked and not a problem (BUKAN_MASALAH, with a reason; duplicates and
over-full TPS first, as in the field), some asking for help (PERLU_BANTUAN).
"""

from __future__ import annotations

import hashlib
import io
from datetime import date

import fsspec
import numpy as np
import polars as pl

COLUMNS = (
    "kode_temuan", "id_pemilih", "id_pantarlih", "kode_desa", "no_tps", "id_kelompok",
    "tanggapan", "alasan", "petugas",
)  # fmt: skip
SHARE_REGIONS = 0.75  # regions that answer at all
SHARE = {"SUDAH_DIPERBAIKI": 0.10, "BUKAN_MASALAH": 0.05, "PERLU_BANTUAN": 0.04}
NOT_A_PROBLEM = {
    "GANDA_ORANG": "Sudah dicek ke rumah: dua orang berbeda (kembar), bukan orang yang sama.",
    "GANDA_NIK": "Dua orang berbeda memakai NIK yang sama; perlu perbaikan di Dukcapil.",
    "TPS_MELEBIHI_KAPASITAS": "Jumlah pemilih TPS ini disetujui KPU Kabupaten/Kota.",
}
OTHER_REASON = "Sudah diperiksa PPS, data sesuai dengan keadaan di lapangan."
HELP = "Mohon bantuan Pusdatin: data di Sidalih tidak bisa diubah dari akun kami."


def _rng(seed: int, kab: str, tanggal: date) -> np.random.Generator:
    h = hashlib.sha256(f"{seed}|{kab}|{tanggal}".encode()).digest()
    return np.random.default_rng(int.from_bytes(h[:8], "little"))


def answer_frame(rows: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """A region's answers to its list `rows` (temuan.csv columns, as strings)."""
    n = rows.height
    if n == 0:
        return pl.DataFrame(schema={c: pl.String for c in COLUMNS})
    u = rng.random(n)
    favoured = rows["kode_temuan"].is_in(list(NOT_A_PROBLEM)).to_numpy()
    b_cut = np.where(favoured, 4 * SHARE["BUKAN_MASALAH"], SHARE["BUKAN_MASALAH"])
    f_cut = b_cut + SHARE["SUDAH_DIPERBAIKI"]
    h_cut = f_cut + SHARE["PERLU_BANTUAN"]
    answer = np.select(
        [u < b_cut, u < f_cut, u < h_cut],
        ["BUKAN_MASALAH", "SUDAH_DIPERBAIKI", "PERLU_BANTUAN"],
        default="",
    )
    out = rows.with_columns(tanggapan=pl.Series(answer)).filter(pl.col("tanggapan") != "")
    return out.with_columns(
        alasan=pl.when(pl.col("tanggapan") == "BUKAN_MASALAH")
        .then(pl.col("kode_temuan").replace_strict(NOT_A_PROBLEM, default=OTHER_REASON))
        .when(pl.col("tanggapan") == "PERLU_BANTUAN")
        .then(pl.lit(HELP))
        .otherwise(pl.lit("")),
        petugas=pl.lit("Operator KPU Kab/Kota"),
    ).select(COLUMNS)


def simulate_responses(
    outbox: str, tanggal: date, inbox: str, *, seed: int = 1, storage_options: dict | None = None
) -> dict[str, int]:
    """Write the simulated answers to the lists of `tanggal`; returns counts per answer."""
    opts = storage_options or {}
    fs, root = fsspec.core.url_to_fs(outbox, **opts)
    ifs, iroot = fsspec.core.url_to_fs(inbox, **opts)
    night = f"{root.rstrip('/')}/{tanggal.isoformat()}"
    counts = {k: 0 for k in SHARE} | {"wilayah": 0}
    for path in sorted(fs.glob(f"{night}/[0-9][0-9]/[0-9][0-9][0-9][0-9]/temuan.csv")):
        prov, kab = path.split("/")[-3:-1]
        rng = _rng(seed, kab, tanggal)
        if rng.random() >= SHARE_REGIONS:
            continue
        with fs.open(path, "rb") as f:
            rows = pl.read_csv(f.read(), infer_schema=False)
        answers = answer_frame(rows, rng)
        if answers.is_empty():
            continue
        buf = io.BytesIO()
        answers.write_csv(buf)
        target = f"{iroot.rstrip('/')}/{tanggal.isoformat()}/{prov}/{kab}"
        ifs.makedirs(target, exist_ok=True)
        with ifs.open(f"{target}/tanggapan.csv", "wb") as f:
            f.write(buf.getvalue())
        counts["wilayah"] += 1
        for k, n in answers.group_by("tanggapan").len().iter_rows():
            counts[k] += int(n)
    return counts
