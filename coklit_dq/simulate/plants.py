"""Planted problems: every code of reports-v1, at small rates, and the exact truth.

Each planted record gets `plant` (the variant) and is taken out of every other
plant and of the clean events, so problems never overlap by accident. Record
plants are set on the first night and persist; night-over-night plants happen
on one night r >= 1 (`ev`, `hapus`, `t2`). TPS- and officer-level truth is
computed from the written tables by the contract's definition (`truth`), and
the tests check that it equals what was planted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from coklit_dq.simulate import duplicates
from coklit_dq.simulate.people import NEVER, PoolParams, days
from coklit_dq.simulate.timeline import document

RATE = 0.0005  # per record-level variant, of the voters

# Record-level plant variant -> kode_temuan (persistent while the record is present).
RECORD_CODES = {
    "nik_pendek": "NIK_TIDAK_VALID",
    "nik_sampah": "NIK_TIDAK_VALID",
    "nik_serial0": "NIK_TIDAK_VALID",
    "nik_prov": "NIK_TIDAK_VALID",
    "nik_tanggal": "NIK_TIDAK_VALID",
    "nik_huruf": "NIK_TIDAK_VALID",
    "nkk_pendek": "NKK_TIDAK_VALID",
    "nkk_prov": "NKK_TIDAK_VALID",
    "nik_jk": "NIK_TIDAK_SESUAI",
    "nik_tgl": "NIK_TIDAK_SESUAI",
    "usia": "USIA_BELUM_CUKUP",
    "tms3_dewasa": "TMS_TIDAK_SESUAI",
    "tms3_kawin": "TMS_TIDAK_SESUAI",
    "tms_kode_salah": "TMS_TIDAK_SESUAI",
    "kode_tanpa_tms": "TMS_TIDAK_SESUAI",
    "tms1_tanpa_dok": "TMS_TANPA_DOKUMEN",
    "tms8_tanpa": "TMS_8_TANPA_PENGGANTI",
    "tps_tidak_dikenal": "TPS_TIDAK_DIKENAL",
    "ganda_id": "GANDA_ID",
}
PAIR_CODES = {
    "pindah_nik_sama": "GANDA_NIK",
    "pindah_nik_typo": "GANDA_ORANG",
    "nik_transposisi": "GANDA_ORANG",
    "nama_varian": "GANDA_ORANG",
    "tanggal_tukar": "GANDA_ORANG",
}
EVENT_KINDS = ("kembali_ms", "kembali_belum", "jadi_baru")
EMPTY_TRUTH = pl.DataFrame(
    schema={"kode_temuan": pl.String, "kunci": pl.String, "jenis": pl.String}
)


@dataclass
class Plan:
    tps: pl.DataFrame  # tps_i, progres_minus (int|null), delta_app (int), plant_off (str|null)
    desa: pl.DataFrame  # kode_desa, night: planted sharp falls


def _n(total: int, rate: float = RATE, least: int = 1) -> int:
    return max(least, round(total * rate))


def _sample(df: pl.DataFrame, n: int, rng: np.random.Generator) -> pl.DataFrame:
    return df.sample(n=min(n, df.height), seed=int(rng.integers(2**31)))


def _pick(rec: pl.DataFrame, where: pl.Expr, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """n random records matching `where` (rid and desa_i only: cheap on a wide frame)."""
    cand = rec.lazy().filter(where).select("rid", "desa_i").collect()
    return _sample(cand, n, rng)


def _set(rec: pl.DataFrame, rids: pl.Series, plant: str, **cols: pl.Expr) -> pl.DataFrame:
    hit = pl.col("rid").is_in(rids.implode())
    exprs = {name: pl.when(hit).then(e).otherwise(pl.col(name)) for name, e in cols.items()}
    exprs["plant"] = pl.when(hit).then(pl.lit(plant)).otherwise(pl.col("plant"))
    return rec.with_columns(**exprs)


def plant(
    rng: np.random.Generator, rec: pl.DataFrame, tps: pl.DataFrame, prm: PoolParams
) -> tuple[pl.DataFrame, Plan]:
    n_all = prm.voters
    cutoff = days(prm.lahir_paling_lambat)

    # --- TPS and officer plans -------------------------------------------------------
    turun0 = rec.filter(pl.col("turun")).group_by("tps_i").agg(n=pl.len())
    t = tps.join(turun0, on="tps_i", how="left", maintain_order="left").with_columns(
        pl.col("n").fill_null(0)
    )
    started = t.filter(~pl.col("zero") & ~pl.col("over") & (pl.col("n") >= 20))
    n_tps = _n(tps.height, 0.004)
    progres = _sample(started, n_tps, rng)["tps_i"]
    jumlah = _sample(started.filter(~pl.col("tps_i").is_in(progres.implode())), n_tps, rng)
    zero = _sample(t.filter(pl.col("zero")), max(3, _n(tps.height, 0.01)), rng)["tps_i"]
    kinds_off = ["belum_login", "sinkron_null", "sinkron_lama"]
    plan_tps = (
        tps.select("tps_i")
        .join(
            pl.DataFrame(
                {
                    "tps_i": progres,
                    "progres_minus": rng.integers(1, 6, progres.len()),
                }
            ),
            on="tps_i",
            how="left",
            maintain_order="left",
        )
        .join(
            pl.DataFrame(
                {
                    "tps_i": jumlah["tps_i"],
                    "delta_app": rng.integers(1, 13, jumlah.height)
                    * rng.choice([-1, 1], jumlah.height),
                }
            ),
            on="tps_i",
            how="left",
            maintain_order="left",
        )
        .join(
            pl.DataFrame(
                {"tps_i": zero, "plant_off": [kinds_off[i % 3] for i in range(zero.len())]}
            ),
            on="tps_i",
            how="left",
            maintain_order="left",
        )
        .with_columns(pl.col("delta_app").fill_null(0))
    )
    busy = progres.implode()
    rec = rec.with_columns(
        busy=pl.col("tps_i").is_in(busy)
        | pl.col("zero")
        | pl.col("tps_i").is_in(tps.filter(pl.col("over"))["tps_i"].implode())
    )

    def clean() -> pl.Expr:
        return (
            (pl.col("plant") == "")
            & ~pl.col("rel")
            & ~pl.col("busy")
            & (pl.col("kelas") == "")
            & pl.col("turun")
            & (pl.col("t2") == NEVER)
        )

    adult = pl.col("dob") < cutoff - 800
    one = _n(n_all)

    # --- identity ---------------------------------------------------------------
    for kind, nik in (
        ("nik_pendek", pl.col("nik").str.slice(0, 15)),
        (
            "nik_sampah",
            pl.when(pl.col("rid") % 4 == 0).then(pl.lit("1" * 16)).otherwise(pl.lit("2" * 16)),
        ),
        ("nik_serial0", pl.col("nik").str.slice(0, 12) + pl.lit("0000")),
        ("nik_prov", pl.lit("20") + pl.col("nik").str.slice(2)),
        ("nik_tanggal", pl.col("nik").str.slice(0, 8) + pl.lit("13") + pl.col("nik").str.slice(10)),
        ("nik_huruf", pl.col("nik").str.slice(0, 10) + pl.lit("O") + pl.col("nik").str.slice(11)),
    ):
        ids = _pick(rec, clean(), one, rng)["rid"]
        rec = _set(rec, ids, kind, nik=nik)
    for kind, nkk in (
        ("nkk_pendek", pl.col("nkk").str.slice(0, 15)),
        ("nkk_prov", pl.lit("20") + pl.col("nkk").str.slice(2)),
    ):
        ids = _pick(rec, clean(), one, rng)["rid"]
        rec = _set(rec, ids, kind, nkk=nkk)
    ids = _pick(rec, clean(), one, rng)["rid"]
    rec = _set(rec, ids, "nik_jk", female=~pl.col("female"))
    ids = _pick(rec, clean() & adult, one, rng)["rid"]
    shift = (pl.col("rid") % 700 + 1) * pl.when(pl.col("rid") % 2 == 0).then(1).otherwise(-1)
    rec = _set(
        rec, ids, "nik_tgl", dob=(pl.col("dob") + shift).cast(pl.Int32), hasil=pl.lit("UBAH")
    )

    # --- age and TMS codes ----------------------------------------------------------
    ids = _pick(rec, clean() & (pl.col("m") > 0), one, rng)["rid"]
    new_dob = pl.lit(cutoff) + 30 + pl.col("rid") % 300
    rec = _set(
        rec, ids, "usia", dob=new_dob.cast(pl.Int32), status_kawin=pl.lit("B"),
        hasil=pl.lit("MS"),
    )  # fmt: skip
    rec = _renik(rec, "usia")
    tms = {"hasil": pl.lit("TMS"), "c": pl.lit(0, pl.Int64), "dok": pl.lit(None, pl.String)}
    ids = _pick(rec, clean() & adult, one, rng)["rid"]
    rec = _set(rec, ids, "tms3_dewasa", kode=pl.lit(3, pl.Int64), **tms)
    cand = rec.filter((pl.col("plant") == "") & ~pl.col("busy") & (pl.col("kelas") == "kawin16"))
    ids = _sample(cand, max(1, one // 2), rng)["rid"]
    rec = _set(rec, ids, "tms3_kawin", kode=pl.lit(3, pl.Int64), **tms)
    ids = _pick(rec, clean(), one, rng)["rid"]
    bad = pl.when(pl.col("rid") % 3 == 0).then(None).otherwise(pl.col("rid") % 2 * 9)
    rec = _set(rec, ids, "tms_kode_salah", kode=bad.cast(pl.Int64), **tms)
    ids = _pick(rec, clean(), one, rng)["rid"]
    rec = _set(
        rec, ids, "kode_tanpa_tms", hasil=pl.lit("MS"),
        kode_extra=(pl.col("rid") % 2 + 4).cast(pl.Int64),
    )  # fmt: skip
    ids = _pick(rec, clean(), one, rng)["rid"]
    rec = _set(rec, ids, "tms1_tanpa_dok", kode=pl.lit(1, pl.Int64), **tms)
    ids = _pick(rec, clean() & (pl.col("size") == 1), one, rng)["rid"]
    rec = _set(rec, ids, "tms8_tanpa", kode=pl.lit(8, pl.Int64), **tms)

    # --- placement -----------------------------------------------------------------
    ids = _pick(rec, clean() & (pl.col("size") == 1), one, rng)["rid"]
    rec = _set(
        rec, ids, "tps_tidak_dikenal",
        no_tps=(pl.col("n_tps_desa") + 1 + pl.col("rid") % 2).cast(pl.Int32),
    )  # fmt: skip
    rec = _split_families(rec, clean(), one, rng)
    rec = _ganda_id(rec, clean(), one, rng)

    # --- duplicates across desa --------------------------------------------------------
    rec = duplicates.plant_pairs(
        rng, rec, tps, clean=clean() & adult, n=_n(n_all, 0.001, 2), nights=prm.nights
    )

    # --- night over night --------------------------------------------------------------
    desa_plan = []
    for r in range(1, prm.nights):
        before = clean() & (pl.col("c") <= r - 1) & (pl.col("masuk") == 0)
        ids = _pick(rec, before, one, rng)["rid"]
        rec = _set(
            rec, ids, "kembali_ms", hasil=pl.lit("TMS"), kode=pl.lit(1, pl.Int64),
            dok=document(pl.lit(1), pl.col("u_doc")), ev=pl.lit(r, pl.Int64),
            ev_kind=pl.lit("kembali_ms"),
        )  # fmt: skip
        for kind in ("kembali_belum", "jadi_baru"):
            ids = _pick(rec, before, one, rng)["rid"]
            rec = _set(
                rec, ids, kind, hasil=pl.lit("MS"), ev=pl.lit(r, pl.Int64), ev_kind=pl.lit(kind)
            )
        gone = (
            _pick(rec, before, 4 * one, rng)
            .unique("desa_i", keep="first", maintain_order=True)
            .head(one)
        )
        rec = _set(rec, gone["rid"], "hapus", hapus=pl.lit(r, pl.Int64))
        rec, desa_r = _sharp_fall(rec, clean(), r, rng)
        desa_plan.append(desa_r)
    plan_desa = (
        pl.concat(desa_plan)
        if desa_plan
        else pl.DataFrame(schema={"kode_desa": pl.String, "night": pl.Int64})
    )
    rec = rec.with_columns(
        jenis_kelamin=pl.when(pl.col("female")).then(pl.lit("P")).otherwise(pl.lit("L")),
        tanggal_lahir=pl.col("dob").cast(pl.Date),
    )
    return rec, Plan(tps=plan_tps, desa=plan_desa)


def _renik(rec: pl.DataFrame, kind: str) -> pl.DataFrame:
    """A valid nik matching the (new) birth date, serial from 9000 up (never used otherwise)."""
    d = pl.col("dob").cast(pl.Date)
    dd = d.dt.day() + pl.when(pl.col("female")).then(40).otherwise(0)
    part = (
        dd.cast(pl.String).str.zfill(2)
        + d.dt.month().cast(pl.String).str.zfill(2)
        + (d.dt.year() % 100).cast(pl.String).str.zfill(2)
    )
    sel = rec.lazy().filter(pl.col("plant") == kind).select("rid", "nik_kec", "dob", "female")
    sel = sel.with_columns(
        nik=pl.col("nik_kec")
        + part
        + (pl.lit(9000) + pl.int_range(pl.len()).over("nik_kec", part)).cast(pl.String)
    )
    return rec.update(sel.select("rid", "nik").collect(), on="rid")


def _split_families(
    rec: pl.DataFrame, clean: pl.Expr, n: int, rng: np.random.Generator
) -> pl.DataFrame:
    """KK_TERPISAH: one member of a family moved to another TPS of the same desa."""
    fams = (
        rec.group_by("fam")
        .agg(
            ok=(clean & pl.col("tps_alt").is_not_null() & (pl.col("masuk") == 0)).all(),
            k=pl.len(),
            last=pl.col("rid").max(),
        )
        .filter(pl.col("ok") & (pl.col("k") >= 2))
    )
    fams = _sample(fams.sort("fam"), n, rng)
    members = rec.filter(pl.col("fam").is_in(fams["fam"].implode()))["rid"]
    moved = fams["last"].implode()
    rec = _set(
        rec, members, "kk_terpisah",
        hasil=pl.when(pl.col("hasil") == "TMS").then(pl.lit("MS")).otherwise(pl.col("hasil")),
        grp=pl.col("nkk"),
    )  # fmt: skip
    hit = pl.col("rid").is_in(moved)
    return rec.with_columns(
        no_tps=pl.when(hit).then(pl.col("no_tps_alt")).otherwise(pl.col("no_tps")),
        tps_i=pl.when(hit).then(pl.col("tps_alt")).otherwise(pl.col("tps_i")),
    )


def _ganda_id(rec: pl.DataFrame, clean: pl.Expr, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """GANDA_ID: two persons of one TPS exported under one id_pemilih (both not yet visited)."""
    cand = rec.filter(clean & (pl.col("size") == 1)).select("rid", "tps_i")
    cand = cand.sample(fraction=1.0, seed=int(rng.integers(2**31)), shuffle=True)
    cand = cand.with_columns(k=pl.int_range(pl.len()).over("tps_i"))
    first = cand.filter(pl.col("k") == 0).select("tps_i", x="rid")
    second = cand.filter(pl.col("k") == 1).select("tps_i", y="rid")
    pairs = first.join(second, on="tps_i").sort("x").head(n)
    both = pl.concat([pairs["x"], pairs["y"]])
    rec = _set(
        rec, both, "ganda_id", c=pl.lit(NEVER, pl.Int64), jenis=pl.lit("ganda_id"),
    )  # fmt: skip
    m = pairs.select(rid="y", target="x")
    return (
        rec.join(m, on="rid", how="left", maintain_order="left")
        .with_columns(id_rid=pl.coalesce("target", "id_rid"))
        .drop("target")
    )


def _sharp_fall(
    rec: pl.DataFrame, clean: pl.Expr, r: int, rng: np.random.Generator
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """PENURUNAN_TAJAM: a fifth of a desa's voters struck as TMS 5 on night r."""
    alive = (
        clean & (pl.col("masuk") <= r - 1) & ((pl.col("c") > r - 1) | (pl.col("hasil") != "TMS"))
    )
    per = (
        rec.filter(alive).group_by("desa_i", "kode_desa").agg(n=pl.len()).filter(pl.col("n") >= 60)
    )
    n_desa = max(1, rec["desa_i"].n_unique() // 200)
    chosen = _sample(per.sort("desa_i"), n_desa, rng)
    pool = rec.filter(alive & pl.col("desa_i").is_in(chosen["desa_i"].implode()))
    pool = pool.with_columns(u=pl.Series(rng.random(pool.height))).filter(pl.col("u") < 0.2)
    rec = _set(
        rec, pool["rid"], "penurunan", t2=pl.lit(r, pl.Int64), kode2=pl.lit(5, pl.Int64),
    )  # fmt: skip
    return rec, chosen.select("kode_desa", night=pl.lit(r, pl.Int64))


# --- truth --------------------------------------------------------------------------------


def truth(
    rec: pl.DataFrame,
    snap: pl.DataFrame,
    *,
    prev: pl.DataFrame | None,
    tps_out: pl.DataFrame,
    pan: pl.DataFrame,
    k: int,
    prm: PoolParams,
    dibuat_utc: pl.Expr,
) -> pl.DataFrame:
    """Every finding of night k as (kode_temuan, kunci, jenis)."""
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
    parts.append(
        pairs.filter((pl.col("plant") == "tanggal_tukar") & ~pl.col("turun")).select(
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
        parts.append(
            gone.select(
                pl.lit("DATA_HILANG").alias("kode_temuan"),
                kunci="id_pemilih",
                jenis=pl.lit("hapus"),
            ).unique()
        )
        parts.append(_sharp_falls(prev, snap))
    parts.append(_tps_findings(snap, tps_out, pan, prm))
    parts.append(_officer_findings(pan, dibuat_utc))
    return (
        pl.concat([p.select(EMPTY_TRUTH.columns) for p in parts])
        .unique(subset=["kode_temuan", "kunci"], keep="first")
        .sort("kode_temuan", "kunci")
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
