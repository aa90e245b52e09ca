"""The truth of a night: every finding as (kode_temuan, kunci, jenis).

Record-level findings come from what was planted (`plants.RECORD_CODES`,
`plants.PAIR_CODES`, the night-over-night events); TPS-, desa- and officer-level
ones, and DATA_HILANG, are computed from the written tables by the contract's
definitions. tests/test_simulate.py checks the whole against independent SQL.
"""

from __future__ import annotations

import polars as pl

from coklit_dq.simulate.people import PoolParams
from coklit_dq.simulate.plants import EMPTY_TRUTH, PAIR_CODES, RECORD_CODES


def truth(
    snap: pl.DataFrame,
    *,
    prev: pl.DataFrame | None,
    tps_out: pl.DataFrame,
    pan: pl.DataFrame,
    k: int,
    prm: PoolParams,
    dibuat_utc: pl.Expr,
    planned: pl.DataFrame,
) -> pl.DataFrame:
    """Every finding of night k as (kode_temuan, kunci, jenis).

    `planned` (kode_temuan, kunci) lists the units planted at TPS, desa and officer level
    and the deleted records; a finding computed from the tables that is not among them
    gets jenis UNPLANNED (the tests require there is none).
    """
    parts = []
    rc = pl.DataFrame({"plant": list(RECORD_CODES), "kode_temuan": list(RECORD_CODES.values())})
    rec_plants = snap.join(rc, on="plant").select("kode_temuan", kunci="id_pemilih", jenis="plant")
    parts.append(rec_plants)
    # split families: every member not TMS, when the family is in 2+ TPS tonight.
    kk = snap.filter((pl.col("plant") == "kk_terpisah") & (pl.col("status_coklit") != "TMS"))
    kk = kk.filter(pl.col("no_tps").n_unique().over("nkk", "kode_desa") > 1)
    parts.append(
        kk.select(pl.lit("KK_TERPISAH").alias("kode_temuan"), kunci="id_pemilih", jenis="plant")
    )
    # duplicate pairs present tonight (both records).
    pc = pl.DataFrame({"plant": list(PAIR_CODES), "kode_temuan": list(PAIR_CODES.values())})
    pairs = snap.join(pc, on="plant").filter(pl.len().over("grp") == 2)
    pairs = pairs.with_columns(other=pl.col("id_pemilih").reverse().over("grp"))
    parts.append(
        pairs.select(
            "kode_temuan", kunci=pl.col("id_pemilih") + "|" + pl.col("other"), jenis="plant"
        )
    )
    # a copy whose nik's date part no longer says its birth date (a slip in either)
    d = pl.col("tanggal_lahir")
    female = (pl.col("jenis_kelamin") == "P").cast(pl.Int32)
    date_part = (d.dt.day() + 40 * female).cast(pl.String).str.zfill(2) + d.dt.strftime("%m%y")
    parts.append(
        pairs.filter(~pl.col("turun") & (pl.col("nik").str.slice(6, 6) != date_part)).select(
            pl.lit("NIK_TIDAK_SESUAI").alias("kode_temuan"), kunci="id_pemilih", jenis="plant"
        )
    )
    # night over night
    parts.append(
        snap.filter(pl.col("ev") == k).select(
            pl.lit("STATUS_TIDAK_WAJAR").alias("kode_temuan"), kunci="id_pemilih", jenis="ev_kind"
        )
    )
    if prev is not None:
        gone = prev.join(
            snap.select("id_pemilih"), on="id_pemilih", how="anti", maintain_order="left"
        )
        hilang = gone.select(
            pl.lit("DATA_HILANG").alias("kode_temuan"), kunci="id_pemilih", jenis=pl.lit("hapus")
        ).unique()
        parts.append(_mark(hilang, planned))
        parts.append(_mark(_sharp_falls(prev, snap), planned))
    parts.append(_mark(_tps_findings(snap, tps_out, pan, prm), planned))
    parts.append(_mark(_officer_findings(pan, dibuat_utc), planned))
    return (
        pl.concat([p.select(EMPTY_TRUTH.columns) for p in parts])
        .unique(subset=["kode_temuan", "kunci"], keep="first")
        .sort("kode_temuan", "kunci")
    )


UNPLANNED = "tidak_ditanam"


def _mark(found: pl.DataFrame, planned: pl.DataFrame) -> pl.DataFrame:
    """jenis UNPLANNED on findings that were not planted."""
    p = planned.select("kode_temuan", "kunci", _p=pl.lit(True))
    return (
        found.join(p, on=["kode_temuan", "kunci"], how="left", maintain_order="left")
        .with_columns(
            jenis=pl.when(pl.col("_p").fill_null(False))
            .then(pl.col("jenis"))
            .otherwise(pl.lit(UNPLANNED))
        )
        .drop("_p")
    )


def _not_tms_per_desa(s: pl.DataFrame) -> pl.DataFrame:
    return s.filter(pl.col("status_coklit") != "TMS").group_by("kode_desa").agg(n=pl.len())


def _sharp_falls(prev: pl.DataFrame, snap: pl.DataFrame) -> pl.DataFrame:
    a = _not_tms_per_desa(prev)
    b = _not_tms_per_desa(snap)
    j = a.join(b, on="kode_desa", how="left", suffix="_now").with_columns(
        pl.col("n_now").fill_null(0)
    )
    return j.filter(pl.col("n_now") < pl.col("n") * 0.95).select(
        pl.lit("PENURUNAN_TAJAM").alias("kode_temuan"), kunci="kode_desa", jenis=pl.lit("penurunan")
    )


def _tps_findings(
    snap: pl.DataFrame, tps_out: pl.DataFrame, pan: pl.DataFrame, prm: PoolParams
) -> pl.DataFrame:
    key = pl.col("kode_desa") + ":" + pl.col("no_tps").cast(pl.String)
    per = snap.group_by("kode_desa", "no_tps").agg(
        not_tms=(pl.col("status_coklit") != "TMS").sum(),
        turun=pl.col("status_coklit").is_in(["BELUM", "MS", "UBAH", "TMS"]).sum(),
        done=(pl.col("status_coklit") != "BELUM").sum(),
    )
    app = pan.group_by("kode_desa", "no_tps").agg(app=pl.col("jumlah_tercoklit_app").sum())
    t = (
        tps_out.join(per, on=["kode_desa", "no_tps"], how="left", maintain_order="left")
        .join(app, on=["kode_desa", "no_tps"], how="left", maintain_order="left")
        .with_columns(pl.col("not_tms", "turun", "done", "app").fill_null(0))
    )
    return pl.concat(
        [
            t.filter(pl.col("not_tms") > prm.maks_tps).select(
                pl.lit("TPS_MELEBIHI_KAPASITAS").alias("kode_temuan"), kunci=key,
                jenis=pl.lit("kapasitas"),
            ),
            t.filter(pl.col("turun") > pl.col("jumlah_diturunkan")).select(
                pl.lit("PROGRES_MELEBIHI_DATA").alias("kode_temuan"), kunci=key,
                jenis=pl.lit("progres"),
            ),
            t.filter(pl.col("app") != pl.col("done")).select(
                pl.lit("JUMLAH_TIDAK_SESUAI").alias("kode_temuan"), kunci=key,
                jenis=pl.lit("jumlah"),
            ),
        ]
    )  # fmt: skip


def _officer_findings(pan: pl.DataFrame, dibuat_utc: pl.Expr) -> pl.DataFrame:
    login = pl.col("terakhir_login")
    sync = pl.col("terakhir_sinkron")
    late = sync.is_null() | (sync < dibuat_utc - pl.duration(hours=48))
    return pl.concat(
        [
            pan.filter(login.is_null()).select(
                pl.lit("PANTARLIH_BELUM_LOGIN").alias("kode_temuan"), kunci="id_pantarlih",
                jenis=pl.lit("belum_login"),
            ),
            pan.filter(login.is_not_null() & late).select(
                pl.lit("PANTARLIH_BELUM_SINKRON").alias("kode_temuan"), kunci="id_pantarlih",
                jenis=pl.col("plant_off").fill_null("?"),
            ),
        ]
    )  # fmt: skip
