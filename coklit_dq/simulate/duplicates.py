"""Planted duplicates: a person who moved, entered as BARU where they live now and
never struck where they lived before, with the copy's nik, name or birth date
typed differently (GANDA_NIK when the nik is the same, GANDA_ORANG otherwise).

The copy lands in another desa: of the same kabupaten/kota, of another
kabupaten/kota of the province, or of another province.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from coklit_dq.simulate.names import STREETS, variant
from coklit_dq.simulate.people import NEVER

KINDS = ("pindah_nik_sama", "pindah_nik_typo", "nik_transposisi", "nama_varian", "tanggal_tukar")
TYPO_POS = np.array([2, 3, 4, 5, 12, 13, 14, 15])
SWAP_POS = np.array([2, 3, 4, 12, 13, 14])


def _dest(rng: np.random.Generator, a: pl.DataFrame, tps: pl.DataFrame) -> pl.DataFrame:
    """A started TPS in another desa for each record of a: rid -> dest columns.

    Same kabupaten/kota (40 %), same province (30 %) or anywhere (30 %): a random TPS
    in the contiguous range of TPS sharing the code prefix (TPS sorted by kode_desa);
    up to four draws to land outside the record's own desa, else no destination.
    """
    t = (
        tps.filter(~pl.col("zero") & ~pl.col("over"))
        .select(d_tps_i="tps_i", d_desa_i="desa_i", d_kode_desa="kode_desa", d_no_tps="no_tps")
        .sort("d_kode_desa", "d_no_tps")
    )
    codes = t["d_kode_desa"].to_numpy().astype(str)
    own = a["kode_desa"].to_numpy().astype(str)
    width = np.array([4, 2, 0])[rng.choice(3, a.height, p=[0.4, 0.3, 0.3])]
    prefix = (
        a.select(pl.col("kode_desa").str.slice(0, pl.Series(width))).to_series().to_numpy()
    ).astype(str)
    lo = np.searchsorted(codes, prefix, side="left")
    hi = np.searchsorted(codes, np.char.add(prefix, "\uffff"), side="left")
    hi = np.where(width == 0, len(codes), hi)
    lo = np.where(width == 0, 0, lo)
    pick = np.full(a.height, -1)
    for _ in range(4):
        idx = lo + (rng.random(a.height) * np.maximum(hi - lo, 1)).astype(np.int64)
        idx = np.minimum(idx, len(codes) - 1)
        ok = (pick < 0) & (hi > lo) & (codes[idx] != own)
        pick = np.where(ok, idx, pick)
    found = pick >= 0
    dest = t[pl.Series(pick[found])]
    return pl.concat([a.select("rid").filter(pl.Series(found)), dest], how="horizontal")


def _typo(nik: pl.Expr, pos: pl.Expr, step: pl.Expr) -> pl.Expr:
    old = nik.str.slice(pos, 1).cast(pl.Int64)
    new = ((old + step) % 10).cast(pl.String)
    return nik.str.slice(0, pos) + new + nik.str.slice(pos + 1)


def _swap(nik: pl.Expr, pos: pl.Expr) -> pl.Expr:
    return (
        nik.str.slice(0, pos)
        + nik.str.slice(pos + 1, 1)
        + nik.str.slice(pos, 1)
        + nik.str.slice(pos + 2)
    )


def plant_pairs(
    rng: np.random.Generator,
    rec: pl.DataFrame,
    tps: pl.DataFrame,
    *,
    clean: pl.Expr,
    n: int,
    nights: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Plant n pairs of each kind: (patch of the originals, the copies to append)."""
    ids = rec.lazy().filter(clean).select("rid").collect()
    ids = ids.sample(n=min(ids.height, 3 * n * len(KINDS)), seed=int(rng.integers(2**31)))
    cand = rec.join(ids, on="rid", how="semi", maintain_order="left")
    cand = cand.sample(fraction=1.0, shuffle=True, seed=int(rng.integers(2**31)))
    cand = cand.with_columns(
        kind=pl.Series([KINDS[i % len(KINDS)] for i in range(cand.height)]),
        pos=pl.Series(TYPO_POS[rng.integers(0, len(TYPO_POS), cand.height)]),
        spos=pl.Series(SWAP_POS[rng.integers(0, len(SWAP_POS), cand.height)]),
        step=pl.Series(rng.integers(1, 10, cand.height)),
        u_var=pl.Series(rng.random(cand.height)),
        b_masuk=pl.Series(
            np.where(rng.random(cand.height) < 0.5, 0, rng.integers(1, max(nights, 2), cand.height))
        ).clip(0, nights - 1),
    )
    kind = pl.col("kind")
    d = pl.col("dob").cast(pl.Date)
    dd, mm = d.dt.day(), d.dt.month()
    swapped = pl.date(d.dt.year(), dd, mm).cast(pl.Int32)
    typo = _typo(pl.col("nik"), pl.col("pos"), pl.col("step"))
    b = cand.with_columns(
        nik_b=pl.when(kind == "pindah_nik_sama")
        .then(pl.col("nik"))
        .when(kind == "nik_transposisi")
        .then(_swap(pl.col("nik"), pl.col("spos")))
        .otherwise(typo),
        nama_b=pl.when(kind == "nama_varian")
        .then(variant(pl.col("nama"), pl.col("u_var")))
        .otherwise(pl.col("nama")),
        dob_b=pl.when(kind != "tanggal_tukar")
        .then(pl.col("dob"))
        .when((dd <= 12) & (dd != mm))
        .then(swapped)
        .otherwise(pl.col("dob") + 1),
    )
    existing = rec.select(nik_b="nik")
    ok = (
        (kind == "pindah_nik_sama")
        | ((pl.col("nik_b") != pl.col("nik")) & (pl.col("nik_b").str.slice(12, 4) != "0000"))
    ) & (pl.col("nama_b") != "")
    b = b.filter(ok)
    b = pl.concat(
        [
            b.filter(kind == "pindah_nik_sama"),
            b.filter(kind != "pindah_nik_sama")
            .join(existing, on="nik_b", how="anti", maintain_order="left")
            .unique("nik_b", keep="first", maintain_order=True),
        ]
    )
    b = b.with_columns(k=pl.int_range(pl.len()).over("kind")).filter(pl.col("k") < n)
    dest = _dest(rng, b, tps)
    b = b.join(dest, on="rid", maintain_order="left")
    start = int(rec["rid"].max()) + 1  # type: ignore[arg-type]
    grp = pl.lit("g") + pl.col("rid").cast(pl.String)
    copies = b.with_columns(
        grp=grp,
        plant=kind,
        jenis=kind,
        rid=pl.int_range(start, start + pl.len(), dtype=pl.Int64),
        nik=pl.col("nik_b"),
        nama=pl.col("nama_b"),
        dob=pl.col("dob_b").cast(pl.Int32),
        tps_i=pl.col("d_tps_i"),
        desa_i=pl.col("d_desa_i"),
        kode_desa=pl.col("d_kode_desa"),
        no_tps=pl.col("d_no_tps").cast(pl.Int32),
        turun=pl.lit(False),
        masuk=pl.col("b_masuk").cast(pl.Int64),
        hasil=pl.lit("BARU"),
        kode=pl.lit(None, pl.Int64),
        dok=pl.lit(None, pl.String),
        nkk=pl.lit(None, pl.String),
        alamat=pl.lit("JL. ")
        + pl.col("rid")
        .mod(len(STREETS))
        .replace_strict(dict(enumerate(STREETS)), return_dtype=pl.String)
        + pl.lit(" NO. ")
        + (pl.col("rid") % 150 + 1).cast(pl.String),
        rt=(pl.col("rid") % 12 + 1).cast(pl.String).str.zfill(3),
        rw=(pl.col("rid") % 9 + 1).cast(pl.String).str.zfill(3),
        size=pl.lit(1, pl.Int64),
        m=pl.lit(0, pl.Int64),
        tps_alt=pl.lit(None, pl.Int64),
        no_tps_alt=pl.lit(None, pl.Int32),
        t2=pl.lit(NEVER, pl.Int64),
        hapus=pl.lit(NEVER, pl.Int64),
        ev=pl.lit(NEVER, pl.Int64),
    ).with_columns(id_rid=pl.col("rid"), fam=pl.col("rid") + 10_000_000)
    copies = copies.select(rec.columns)
    originals = b.select(
        "rid",
        plant=kind,
        jenis=kind,
        grp=grp,
        hasil=pl.when(pl.col("hasil") == "TMS").then(pl.lit("MS")).otherwise(pl.col("hasil")),
    )
    return originals, copies
