"""Planted duplicates: a person who moved, entered as BARU where they live now and
never struck where they lived before, with the copy keyed again by hand
(GANDA_NIK when the nik is the same, GANDA_ORANG otherwise).

Each pair has a main kind (`KINDS`, the truth's `jenis`) and, on top, the other
slips seen in real rolls at the rates of `SLIPS` (domain.md "How the data really
looks"; the rates are assumptions, explained in docs/stages.md): a nik digit
typed wrong or two swapped anywhere in the sixteen, a name keyed differently
(names.slip), a birth date a day off, day and month swapped or across the year
boundary, another birthplace (any of the night: domain.md names the place of
registration), the sex.

The copy lands in another desa: of the same kabupaten/kota, of another
kabupaten/kota of the province, or of another province.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from coklit_dq.contract import NIK_POLA
from coklit_dq.simulate.names import STREETS, slip
from coklit_dq.simulate.people import NEVER

KINDS = ("pindah_nik_sama", "pindah_nik_typo", "nik_transposisi", "nama_varian", "tanggal_tukar")
# A slip may hit any of the sixteen digits (a slip that makes the nik invalid is
# redrawn: that record would be NIK_TIDAK_VALID, another finding).
TYPO_POS = np.arange(16)
SWAP_POS = np.arange(15)
# Probability of each extra slip on a copy, whatever its main kind.
SLIPS = {
    "nama": 0.15,  # the name keyed differently (on top of kind nama_varian)
    "tanggal": 0.05,  # the birth date (on top of kind tanggal_tukar)
    "tempat_lahir": 0.15,  # another birthplace (of registration, not of birth): any of the night
    "nik_kedua": 0.08,  # a second nik slip (kinds with a nik slip)
    "jenis_kelamin": 0.005,  # the sex
}
# How a birth date slips (kind tanggal_tukar and the extra date slip).
DATE_SLIPS = (("tukar", 0.4), ("sehari", 0.4), ("tahun", 0.2))


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


def _date_slip(dob: pl.Expr, u: pl.Expr) -> pl.Expr:
    """The birth date (days since 1970) keyed wrongly: day and month swapped (when that is
    another date), a day off, or across the year boundary (31 Dec <-> 1 Jan of the next
    year; another date gets the year one off)."""
    d = dob.cast(pl.Date)
    dd, mm, yy = d.dt.day(), d.dt.month(), d.dt.year()
    swapped = pl.date(yy, dd, mm).cast(pl.Int32)
    a, b = DATE_SLIPS[0][1], DATE_SLIPS[0][1] + DATE_SLIPS[1][1]
    day_off = dob + pl.when(u < (a + b) / 2).then(1).otherwise(-1)
    year = (
        pl.when((mm == 12) & (dd == 31))
        .then(dob + 1)
        .when((mm == 1) & (dd == 1))
        .then(dob - 1)
        .when((mm == 2) & (dd == 29))
        .then(dob + 365)
        .otherwise(pl.date(yy + pl.when(u < (b + 1) / 2).then(1).otherwise(-1), mm, dd))
        .cast(pl.Int32)
    )
    return (
        pl.when((u < a) & (dd <= 12) & (dd != mm))
        .then(swapped)
        .when(u < b)
        .then(day_off)
        .otherwise(year)
        .cast(pl.Int32)
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
    n_c = cand.height
    cand = cand.with_columns(
        pos2=pl.Series(TYPO_POS[rng.integers(0, len(TYPO_POS), n_c)]),
        step2=pl.Series(rng.integers(1, 10, n_c)),
        u_nama=pl.Series(rng.random(n_c)),
        v_nama=pl.Series(rng.random(n_c)),
        u_tgl=pl.Series(rng.random(n_c)),
        u_tgl_jenis=pl.Series(rng.random(n_c)),
        u_tempat=pl.Series(rng.random(n_c)),
        u_nik2=pl.Series(rng.random(n_c)),
        u_jk=pl.Series(rng.random(n_c)),
        tempat_lain=pl.Series(rng.integers(0, 2**31, n_c)),
    )
    kind = pl.col("kind")
    typo = _typo(pl.col("nik"), pl.col("pos"), pl.col("step"))
    nik_b = (
        pl.when(kind == "pindah_nik_sama")
        .then(pl.col("nik"))
        .when(kind == "nik_transposisi")
        .then(_swap(pl.col("nik"), pl.col("spos")))
        .otherwise(typo)
    )
    second = (kind != "pindah_nik_sama") & (pl.col("u_nik2") < SLIPS["nik_kedua"])
    name_slip = (kind == "nama_varian") | (pl.col("u_nama") < SLIPS["nama"])
    date_slip = (kind == "tanggal_tukar") | (pl.col("u_tgl") < SLIPS["tanggal"])
    places = rec["tempat_lahir"].unique().sort()
    b = cand.with_columns(nik_b=nik_b).with_columns(
        nik_b=pl.when(second)
        .then(_typo(pl.col("nik_b"), pl.col("pos2"), pl.col("step2")))
        .otherwise(pl.col("nik_b")),
        nama_b=pl.when(name_slip)
        .then(slip(pl.col("nama"), pl.col("female"), pl.col("u_nama"), pl.col("v_nama")))
        .otherwise(pl.col("nama")),
        dob_b=pl.when(date_slip)
        .then(_date_slip(pl.col("dob"), pl.col("u_tgl_jenis")))
        .otherwise(pl.col("dob")),
        tempat_b=pl.when(pl.col("u_tempat") < SLIPS["tempat_lahir"])
        .then(
            pl.col("tempat_lain")
            .mod(len(places))
            .replace_strict(dict(enumerate(places)), return_dtype=pl.String)
        )
        .otherwise(pl.col("tempat_lahir")),
        female_b=pl.col("female") ^ (pl.col("u_jk") < SLIPS["jenis_kelamin"]),
    )
    existing = rec.select(nik_b="nik")
    valid = pl.col("nik_b").str.contains(f"^{NIK_POLA}$")
    ok = ((kind == "pindah_nik_sama") | ((pl.col("nik_b") != pl.col("nik")) & valid)) & (
        pl.col("nama_b") != ""
    )
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
        tempat_lahir=pl.col("tempat_b"),
        female=pl.col("female_b"),
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
