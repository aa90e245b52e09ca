"""The clean course of coklit over the nights, as per-record event nights.

Each record carries when things happen to it (night indexes, NEVER = not in
the simulated span): `masuk` (appears; 0 for handed-down records), `c` (a
handed-down record is coklit'd, with result `hasil` MS/UBAH/TMS and its
`kode`/`dok`), `t2` (a later TMS), `hapus` (deleted), `ev`/`ev_kind` (a planted
status change). A night's snapshot is a pure function of these columns
(`nights.snapshot`), so night k+1 evolves from night k consistently.

Clean relations add records: a TMS 8 is entered again at another TPS of the
same desa on the same night; some TMS 4 are entered as BARU where they moved.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from coklit_dq.simulate.names import pick
from coklit_dq.simulate.people import NEVER

# Result of coklit for a handed-down record, and the TMS code mix (8 the largest class).
P_MS, P_UBAH = 0.82, 0.10
TMS_CODES = np.array([8, 1, 4, 5, 2, 6, 7])
TMS_P = np.array([0.35, 0.25, 0.20, 0.08, 0.04, 0.04, 0.04])


def document(kode: pl.Expr, u: pl.Expr) -> pl.Expr:
    """A supporting-document reference for a TMS code (null where none is needed)."""
    num = (u * 1e9).cast(pl.Int64).cast(pl.String).str.zfill(9)
    return (
        pl.when(kode == 1)
        .then(
            pl.when(u < 0.7)
            .then(pl.lit("AKTA-KEMATIAN/") + num)
            .otherwise(pl.lit("SKK-DESA/") + num.str.slice(0, 5))
        )
        .when(kode == 6)
        .then(pl.lit("KTA-TNI/") + num.str.slice(0, 8))
        .when(kode == 7)
        .then(pl.lit("KTA-POLRI/") + num.str.slice(0, 8))
        .when((kode == 4) & (u < 0.5))
        .then(pl.lit("SKPWNI/") + num)
        .otherwise(pl.lit(None, pl.String))
    )


def next_rid(rec: pl.DataFrame) -> int:
    return int(rec["rid"].max()) + 1  # type: ignore[arg-type]


def other_tps(tps: pl.DataFrame) -> pl.DataFrame:
    """For each TPS, another started TPS of the same desa (if any): tps_i -> tps_alt."""
    started = tps.filter(~pl.col("zero")).select("tps_i", "desa_i", "no_tps")
    pairs = (
        started.join(started, on="desa_i", suffix="_b")
        .filter(pl.col("tps_i") != pl.col("tps_i_b"))
        .sort("tps_i", "no_tps_b")
        .group_by("tps_i", maintain_order=True)
        .first()
    )
    return pairs.select("tps_i", tps_alt="tps_i_b", no_tps_alt="no_tps_b")


def random_started_tps(
    rng: np.random.Generator, tps: pl.DataFrame, n: int, exclude_over: bool = True
) -> pl.DataFrame:
    """n random TPS that have started coklit (and are not over capacity): rows of tps."""
    pool = tps.filter(~pl.col("zero") & (~pl.col("over") if exclude_over else pl.lit(True)))
    idx = rng.integers(0, pool.height, n)
    return pool[pl.Series(idx)]


def assign(
    rng: np.random.Generator, rec: pl.DataFrame, tps: pl.DataFrame, nights: int
) -> pl.DataFrame:
    """Add the clean timeline columns and the relation records (TMS 8 re-entry, TMS 4 moves)."""
    n = rec.height
    rec = rec.join(
        tps.select("tps_i", "zero", "p0", "rate", "n_tps_desa"),
        on="tps_i",
        how="left",
        maintain_order="left",
    )
    u = rng.random(n)
    p0 = rec["p0"].to_numpy()
    rate = rec["rate"].to_numpy()
    rec = rec.drop("p0", "rate")
    with np.errstate(divide="ignore", invalid="ignore"):
        later = np.ceil((u - p0) / np.where(rate > 0, rate, 1.0))
    c = np.where(u < p0, 0, np.where(rate > 0, later, NEVER)).clip(0, NEVER).astype(np.int64)
    zero = rec["zero"].to_numpy()
    m = rec["m"].to_numpy()
    fam = rec["fam"].to_numpy()
    n_fam = int(fam.max()) + 1
    # BARU: members added during coklit, and whole families that moved in.
    fam_new = rng.random(n_fam) < 0.012
    fam_masuk = np.where(rng.random(n_fam) < 0.5, 0, rng.integers(1, max(nights, 2), n_fam))
    baru = ((m > 0) & (rng.random(n) < 0.02)) | fam_new[fam]
    baru &= ~zero & (rec["kelas"] == "").to_numpy()
    masuk = np.where(
        baru,
        np.where(fam_new[fam], fam_masuk[fam],
                 np.where(rng.random(n) < 0.5, 0, rng.integers(1, max(nights, 2), n))),
        0,
    )  # fmt: skip
    masuk = np.minimum(masuk, nights - 1) if nights > 1 else np.zeros(n, dtype=np.int64)
    r = rng.random(n)
    hasil = np.where(r < P_MS, 0, np.where(r < P_MS + P_UBAH, 1, 2))  # MS, UBAH, TMS
    kode = np.where(hasil == 2, rng.choice(TMS_CODES, n, p=TMS_P), 0)
    tms3 = (rec["kelas"] == "tms3").to_numpy()
    hasil = np.where(tms3, 2, hasil)
    kode = np.where(tms3, 3, kode)
    c = np.where(tms3, 0, c)
    rec = rec.with_columns(
        turun=pl.Series(~baru),
        masuk=pl.Series(masuk.astype(np.int64)),
        c=pl.Series(c),
        hasil=pick(["MS", "UBAH", "TMS"], hasil),
        kode=pl.Series(kode.astype(np.int64)),
        t2=pl.lit(NEVER, pl.Int64),
        kode2=pl.lit(None, pl.Int64),
        dok2=pl.lit(None, pl.String),
        hapus=pl.lit(NEVER, pl.Int64),
        ev=pl.lit(NEVER, pl.Int64),
        ev_kind=pl.lit("", pl.String),
        kode_extra=pl.lit(None, pl.Int64),
        u_doc=pl.Series(rng.random(n)),
        tod=pl.Series(rng.random(n)),
        d0=pl.Series(rng.integers(0, 7, n)),
        rel=pl.lit(False),
        jenis=pl.lit("none"),
        plant=pl.lit(""),
        grp=pl.lit(None, pl.String),
        id_rid=pl.col("rid"),
    )
    # TMS 8 needs a single-member family and another started TPS in the desa.
    alt = other_tps(tps)
    rec = rec.join(alt, on="tps_i", how="left", maintain_order="left")
    ok8 = (pl.col("size") == 1) & pl.col("tps_alt").is_not_null()
    rec = rec.with_columns(
        kode=pl.when((pl.col("kode") == 8) & ~ok8).then(4).otherwise(pl.col("kode")),
    )
    rec = rec.with_columns(
        kode=pl.when(pl.col("hasil") == "TMS").then(pl.col("kode")).otherwise(None),
        dok=document(pl.col("kode"), pl.col("u_doc")),
    )
    # Later TMS of records already confirmed (a death, a move reported after the visit).
    u_late = pl.Series(rng.random(rec.height))
    gap = pl.Series(rng.integers(1, 4, rec.height))
    late = (
        pl.col("turun")
        & pl.col("hasil").is_in(["MS", "UBAH"])
        & (pl.col("c") + gap < nights)
        & (u_late < 0.004)
        & ~pl.col("zero")
    )
    rec = rec.with_columns(
        t2=pl.when(late).then(pl.col("c") + gap).otherwise(pl.col("t2")),
        kode2=pl.when(late)
        .then(pl.when(u_late < 0.002).then(1).when(u_late < 0.003).then(4).otherwise(5))
        .otherwise(pl.col("kode2")),
    ).with_columns(
        dok2=document(pl.col("kode2"), pl.col("u_doc")),
        rt_ubah=(pl.col("rt").cast(pl.Int32) % 15 + 1).cast(pl.String).str.zfill(3),
    )
    rec = _cap_falls(rec, rng)
    in_span = pl.col("turun") & (pl.col("c") < nights) & (pl.col("hasil") == "TMS")
    # Re-entry of TMS 8 at the right TPS, same night.
    a8 = rec.filter(in_span & (pl.col("kode") == 8))
    start = next_rid(rec)
    b8 = a8.with_columns(
        rid=pl.int_range(start, start + a8.height, dtype=pl.Int64),
        tps_i=pl.col("tps_alt"),
        no_tps=pl.col("no_tps_alt"),
        turun=pl.lit(False),
        masuk=pl.col("c"),
        hasil=pl.lit("BARU"),
        kode=pl.lit(None, pl.Int64),
        dok=pl.lit(None, pl.String),
        jenis=pl.lit("tms8_masuk_ulang"),
        rel=pl.lit(True),
    ).with_columns(id_rid=pl.col("rid"))
    # Some TMS 4 are entered where they live now (BARU in another desa).
    a4 = rec.filter(in_span & (pl.col("kode") == 4) & (pl.col("u_doc") < 0.3))
    start += a8.height
    dest = random_started_tps(rng, tps, a4.height)
    b4 = a4.with_columns(
        rid=pl.int_range(start, start + a4.height, dtype=pl.Int64),
        tps_i=dest["tps_i"],
        desa_i=dest["desa_i"],
        kode_desa=dest["kode_desa"],
        no_tps=dest["no_tps"],
        turun=pl.lit(False),
        masuk=pl.col("c"),
        hasil=pl.lit("BARU"),
        kode=pl.lit(None, pl.Int64),
        dok=pl.lit(None, pl.String),
        jenis=pl.lit("pindah_tms4"),
        rel=pl.lit(True),
        size=pl.lit(1, pl.Int64),
    ).with_columns(id_rid=pl.col("rid"), nkk=pl.lit(None, pl.String))
    a_ids = pl.concat([a8["rid"], a4["rid"]])
    rec = rec.with_columns(
        rel=pl.col("rid").is_in(a_ids.implode()),
        jenis=pl.when(pl.col("rid").is_in(a8["rid"].implode()))
        .then(pl.lit("tms8_masuk_ulang"))
        .when(pl.col("rid").is_in(a4["rid"].implode()))
        .then(pl.lit("pindah_tms4"))
        .otherwise(pl.col("jenis")),
    )
    b4 = b4.with_columns(fam=pl.col("rid") + 10_000_000)
    return pl.concat([rec, b8, b4], how="vertical_relaxed")


MAX_FALL = 0.025  # clean TMS per desa and night, of the desa's records (PENURUNAN_TAJAM is 5 %)


def _cap_falls(rec: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    """Keep each desa's clean TMS of a night (not TMS 8, which is entered again in the desa)
    under MAX_FALL of its records, so only a planted sharp fall passes 5 %: the excess
    visits confirm the voter (MS) instead, the excess later TMS do not happen."""
    size = pl.len().over("desa_i")
    at_visit = (
        pl.col("turun") & (pl.col("hasil") == "TMS") & (pl.col("kode") != 8) & (pl.col("c") >= 1)
    )
    later = pl.col("t2") < NEVER
    ev = (
        rec.lazy()
        .with_columns(size=size, u=pl.Series(rng.random(rec.height)))
        .filter(at_visit | later)
        .with_columns(r=pl.when(at_visit).then(pl.col("c")).otherwise(pl.col("t2")))
        .with_columns(rank=pl.col("u").rank("ordinal").over("desa_i", "r"))
        .filter(pl.col("rank") > (pl.col("size") * MAX_FALL).floor())
        .select("rid", visit=at_visit)
        .collect()
    )
    no_visit = pl.col("rid").is_in(ev.filter("visit")["rid"].implode())
    no_later = pl.col("rid").is_in(ev.filter(~pl.col("visit"))["rid"].implode())
    return rec.with_columns(
        hasil=pl.when(no_visit).then(pl.lit("MS")).otherwise(pl.col("hasil")),
        kode=pl.when(no_visit).then(None).otherwise(pl.col("kode")),
        dok=pl.when(no_visit).then(None).otherwise(pl.col("dok")),
        t2=pl.when(no_later).then(pl.lit(NEVER, pl.Int64)).otherwise(pl.col("t2")),
        kode2=pl.when(no_later).then(None).otherwise(pl.col("kode2")),
        dok2=pl.when(no_later).then(None).otherwise(pl.col("dok2")),
    )


def fill_new_nkk(rec: pl.DataFrame) -> pl.DataFrame:
    """Give records whose nkk is null (moved, new family) a fresh family card.

    Kecamatan + an issue date in July 2024 + a serial from 9000 up: the families
    built in people.py have issue dates up to 2023, so they never meet.
    """
    kec = pl.col("kode_desa").str.slice(0, 6)
    rank = pl.col("nkk").is_null().cast(pl.Int64).cum_sum().over(kec, order_by="rid") - 1
    fresh = (
        kec
        + pl.lit("0")
        + (rank // 1000 + 1).cast(pl.String)
        + pl.lit("0724")
        + (pl.lit(9000) + rank % 1000).cast(pl.String)
    )
    return rec.with_columns(nkk=pl.coalesce("nkk", fresh))
