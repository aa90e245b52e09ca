"""One night of the simulated export, derived from the timeline columns.

`snapshot` gives the pemilih records of night k (plus hidden columns);
`tps_table` and `pantarlih_table` derive the TPS and officer tables from it so
that, unless a problem is planted, jumlah_diturunkan covers the handed-down
records and the officers' app counters sum to the TPS's non-BELUM records.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import polars as pl

from coklit_dq.contract import schema

WIB = timezone(timedelta(hours=7))
TWO_OFFICERS_FROM = 380  # handed-down records from which a TPS has two officers
# pemilih columns computed per night, and the timeline columns they come from.
DERIVED = ("id_pemilih", "status_coklit", "kode_tms", "dokumen_tms", "waktu_coklit")
TIMELINE = (
    "id_rid", "turun", "masuk", "c", "hasil", "kode", "dok", "t2", "kode2", "dok2", "hapus",
    "ev", "ev_kind", "kode_extra", "tod", "d0", "rt_ubah",
)  # fmt: skip


def night_date(start: date, k: int) -> date:
    return start + timedelta(days=k)


def dibuat(start: date, k: int, seed: int) -> datetime:
    minutes = 30 + (seed * 7 + k * 13) % 25
    return datetime.combine(night_date(start, k), time(23, minutes, 7), tzinfo=WIB)


def _at(start: date, day: pl.Expr, frac: pl.Expr, hours: tuple[float, float]) -> pl.Expr:
    """A UTC timestamp on day `start + day` at a WIB time between hours[0] and hours[1]."""
    base = datetime.combine(start, time(0, 0), tzinfo=WIB)
    secs = (pl.lit(hours[0] * 3600) + frac * (hours[1] - hours[0]) * 3600).cast(pl.Int64)
    return (pl.lit(base) + pl.duration(days=day, seconds=secs)).dt.convert_time_zone("UTC")


def snapshot(
    rec: pl.DataFrame | pl.LazyFrame, k: int, start: date, columns: Sequence[str] | None = None
) -> pl.DataFrame:
    """The records present on night k with their status, kode_tms, dokumen_tms, waktu_coklit.

    `columns`: only these (computed lazily, so what is not asked for is not built).
    """
    ev_status = (
        pl.when(pl.col("ev_kind") == "kembali_belum")
        .then(pl.lit("BELUM"))
        .when(pl.col("ev_kind") == "jadi_baru")
        .then(pl.lit("BARU"))
        .otherwise(pl.lit("MS"))
    )
    status = (
        pl.when(pl.col("ev") <= k)
        .then(ev_status)
        .when(pl.col("t2") <= k)
        .then(pl.lit("TMS"))
        .when(~pl.col("turun"))
        .then(pl.lit("BARU"))
        .when(pl.col("c") > k)
        .then(pl.lit("BELUM"))
        .otherwise(pl.col("hasil"))
    )
    action = pl.max_horizontal(
        pl.when(~pl.col("turun")).then(pl.col("masuk")),
        pl.when(pl.col("turun") & (pl.col("c") <= k)).then(pl.col("c")),
        pl.when(pl.col("t2") <= k).then(pl.col("t2")),
        pl.when(pl.col("ev") <= k).then(pl.col("ev")),
    )
    day = pl.when(action == 0).then(-pl.col("d0")).otherwise(action)
    out = (
        rec.lazy()
        .filter((pl.col("masuk") <= k) & (pl.col("hapus") > k))
        .with_columns(status_coklit=status)
    )
    tms = pl.col("status_coklit") == "TMS"
    late = pl.col("t2") <= k
    out = out.with_columns(
        # UBAH: the visit corrected the address (the RT), from the night of the visit on
        rt=pl.when(pl.col("turun") & (pl.col("hasil") == "UBAH") & (pl.col("c") <= k))
        .then(pl.col("rt_ubah"))
        .otherwise(pl.col("rt")),
        kode_tms=pl.when(tms)
        .then(pl.when(late).then(pl.col("kode2")).otherwise(pl.col("kode")))
        .otherwise(pl.col("kode_extra"))
        .cast(pl.Int16),
        dokumen_tms=pl.when(tms)
        .then(pl.when(late).then(pl.col("dok2")).otherwise(pl.col("dok")))
        .otherwise(pl.lit(None, pl.String)),
        waktu_coklit=pl.when(pl.col("status_coklit") != "BELUM").then(
            _at(start, day, pl.col("tod"), (7.0, 20.0))
        ),
        id_pemilih=pl.col("kode_prov_id") + pl.col("id_rid").cast(pl.String).str.zfill(10),
    )
    return (out.select(columns) if columns is not None else out).collect()


class ProvinceSnapshots(Mapping[str, pl.DataFrame]):
    """Night k's pemilih per province, built when asked for (one province in memory at a time)."""

    def __init__(self, rec: pl.DataFrame, k: int, start: date, provinces: list[str]) -> None:
        self.rec, self.k, self.start, self.provinces = rec, k, start, provinces

    def __getitem__(self, prov: str) -> pl.DataFrame:
        if prov not in self.provinces:
            raise KeyError(prov)
        part = self.rec.lazy().filter(pl.col("kode_prov_id") == prov)
        return snapshot(part, self.k, self.start, columns=list(schema("pemilih")))

    def __iter__(self) -> Iterator[str]:
        return iter(self.provinces)

    def __len__(self) -> int:
        return len(self.provinces)


def officers(rec: pl.DataFrame, tps: pl.DataFrame) -> pl.DataFrame:
    """One or two officers per TPS (two where the handed-down list is large)."""
    n = rec.filter(pl.col("turun")).group_by("tps_i").agg(n=pl.len())
    t = tps.join(n, on="tps_i", how="left", maintain_order="left").with_columns(
        pl.col("n").fill_null(0)
    )
    t = t.with_columns(n_off=pl.when(pl.col("n") >= TWO_OFFICERS_FROM).then(2).otherwise(1))
    return t


def officer_id(kode_desa: pl.Expr, no_tps: pl.Expr, k: pl.Expr) -> pl.Expr:
    return (
        pl.lit("PL")
        + kode_desa
        + no_tps.cast(pl.String).str.zfill(3)
        + pl.lit("-")
        + k.cast(pl.String)
    )


def jumlah_diturunkan(
    rec: pl.DataFrame, tps: pl.DataFrame, plan_tps: pl.DataFrame, rng: np.random.Generator
) -> pl.DataFrame:
    """tps_i -> jumlah_diturunkan: handed-down records at the TPS on the first night + slack.

    Planted PROGRES_MELEBIHI_DATA: progres_minus below the records instead.
    """
    n = (
        rec.filter(pl.col("turun") & (pl.col("masuk") == 0))
        .group_by("kode_desa", "no_tps")
        .agg(n=pl.len())
    )
    t = tps.join(n, on=["kode_desa", "no_tps"], how="left", maintain_order="left").with_columns(
        pl.col("n").fill_null(0)
    )
    slack = rng.integers(0, 3, t.height)
    t = t.join(
        plan_tps.select("tps_i", "progres_minus"), on="tps_i", how="left", maintain_order="left"
    )
    return t.with_columns(
        jumlah_diturunkan=pl.when(pl.col("progres_minus").is_not_null())
        .then(pl.col("n") - pl.col("progres_minus"))
        .otherwise(pl.col("n") + pl.Series(slack))
    ).select("tps_i", "jumlah_diturunkan")


def pantarlih_table(
    snap: pl.DataFrame, off: pl.DataFrame, start: date, k: int, made: datetime
) -> pl.DataFrame:
    """Officer accounts on night k; counters equal the TPS's non-BELUM records (+ planted delta)."""
    done = snap.filter(pl.col("status_coklit") != "BELUM")
    per_tps = done.group_by("kode_desa", "no_tps").agg(n_done=pl.len())
    per_off = done.group_by("id_pantarlih", "kode_desa", "no_tps").agg(n_mine=pl.len())
    rows = off.with_columns(k_off=pl.int_ranges(1, pl.col("n_off") + 1)).explode("k_off")
    rows = rows.with_columns(
        id_pantarlih=officer_id(pl.col("kode_desa"), pl.col("no_tps"), pl.col("k_off")),
        u_sync=pl.when(pl.col("k_off") == 1)
        .then(pl.col("u_sync"))
        .otherwise((pl.col("u_sync") * 7.77) % 1.0),
    )
    rows = rows.join(per_tps, on=["kode_desa", "no_tps"], how="left", maintain_order="left").join(
        per_off, on=["id_pantarlih", "kode_desa", "no_tps"], how="left", maintain_order="left"
    )
    rows = rows.with_columns(pl.col("n_done").fill_null(0), pl.col("n_mine").fill_null(0))
    counter = (
        pl.when(pl.col("n_off") == 1)
        .then(pl.col("n_done"))
        .when(pl.col("k_off") == 1)
        .then(pl.col("n_mine").clip(0, pl.col("n_done")))
        .otherwise(
            pl.col("n_done") - pl.col("n_mine").clip(0, pl.col("n_done")).first().over("tps_i")
        )
    )
    rows = rows.with_columns(jumlah_tercoklit_app=counter)
    # Planted JUMLAH_TIDAK_SESUAI: the first officer's app is off by delta (never below 0).
    delta = pl.when(pl.col("k_off") == 1).then(pl.col("delta_app")).otherwise(0)
    app = pl.col("jumlah_tercoklit_app")
    rows = rows.with_columns(
        jumlah_tercoklit_app=pl.when(app + delta < 0).then(app - delta).otherwise(app + delta),
    )
    u1 = pl.col("u_sync")
    made_l = pl.lit(made).dt.convert_time_zone("UTC")
    sync = _at(start, pl.lit(k), u1, (20.25, 22.75))
    sync_old = made_l - pl.duration(seconds=(pl.lit(50 * 3600) + u1 * 150 * 3600).cast(pl.Int64))
    login_gap = pl.duration(seconds=(pl.col("u_login") * 6 * 3600).cast(pl.Int64))
    kind = pl.when(pl.col("k_off") == 1).then(pl.col("plant_off"))
    sinkron = (
        pl.when(kind.is_in(["belum_login", "sinkron_null"]))
        .then(pl.lit(None, pl.Datetime("us", "UTC")))
        .when(kind == "sinkron_lama")
        .then(sync_old)
        .otherwise(sync)
    )
    rows = rows.with_columns(terakhir_sinkron=sinkron)
    login = (
        pl.when(kind == "belum_login")
        .then(pl.lit(None, pl.Datetime("us", "UTC")))
        .when(kind == "sinkron_null")
        .then(made_l - pl.duration(seconds=(pl.lit(3600) + u1 * 90 * 3600).cast(pl.Int64)))
        .otherwise(pl.col("terakhir_sinkron") - login_gap)
    )
    return rows.with_columns(terakhir_login=login)
