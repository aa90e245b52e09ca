"""simulate(): seeded synthetic export-v1 nights with planted problems and exact truth."""

from __future__ import annotations

import io
import time as _time
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import fsspec
import numpy as np
import polars as pl

from coklit_dq.config import DEFAULT_ELECTION, load_elections
from coklit_dq.contract import schema
from coklit_dq.simulate import nights as nt
from coklit_dq.simulate import plants, timeline
from coklit_dq.simulate.geo import DEFAULT_PROVINCES, make_wilayah
from coklit_dq.simulate.people import PoolParams, build_pool
from coklit_dq.simulate.truth import truth as night_truth
from coklit_dq.simulate.writer import write_night

TRUTH_DIR = "_truth"
# What the truth and the officer counters need of a night (the full records are built
# one province at a time while writing).
LEAN = [
    "id_pemilih", "rid", "id_orang", "jenis", "plant", "grp", "nik", "nkk", "kode_desa", "no_tps",
    "status_coklit", "turun", "ev", "ev_kind", "id_pantarlih", "tanggal_lahir", "jenis_kelamin",
]  # fmt: skip


@dataclass
class SimulateResult:
    """What simulate() wrote: the nights, where, how many voters, and how long each step took."""

    out: str
    voters: int
    nights: list[date]
    seed: int
    provinces: list[str]
    records: list[int] = field(default_factory=list)  # pemilih rows per night
    findings: list[int] = field(default_factory=list)  # planted findings per night
    timings: dict[str, float] = field(default_factory=dict)

    def __str__(self) -> str:
        span = f"{self.nights[0]}..{self.nights[-1]}" if self.nights else "-"
        return (
            f"simulated {self.voters} voters, {len(self.nights)} nights {span}, "
            f"provinces {','.join(self.provinces)}, records/night {self.records}, "
            f"planted findings/night {self.findings}, seed {self.seed}, into {self.out} "
            f"({sum(self.timings.values()):.1f} s)"
        )


def _formats(provinces: list[str], k: int) -> dict[str, str]:
    """Per night some tables Parquet, some CSV.gz (alternating by province and night)."""
    fmt = {}
    for i, p in enumerate(sorted(provinces)):
        fmt[f"pemilih/{p}"] = "csv.gz" if (i + k) % 2 else "parquet"
    fmt["wilayah"] = "csv.gz" if k % 2 else "parquet"
    fmt["tps"] = "parquet" if k % 2 else "csv.gz"
    fmt["pantarlih"] = "csv.gz" if k % 2 else "parquet"
    return fmt


def _write_parquet(root: str, rel: str, df: pl.DataFrame, storage: dict[str, Any]) -> None:
    fs, base = fsspec.core.url_to_fs(root, **storage)
    target = f"{base.rstrip('/')}/{rel}"
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    buf = io.BytesIO()
    df.write_parquet(buf)
    with fs.open(target, "wb") as fh:
        fh.write(buf.getvalue())


def _planned(rec: pl.DataFrame, tps: pl.DataFrame, plan: plants.Plan, k: int) -> pl.DataFrame:
    """The units planted at TPS, desa and officer level, and the records deleted, on night k."""
    t = tps.join(plan.tps, on="tps_i", how="left", maintain_order="left")
    key = pl.col("kode_desa") + ":" + pl.col("no_tps").cast(pl.String)
    officer = nt.officer_id(pl.col("kode_desa"), pl.col("no_tps"), pl.lit(1))
    parts = [
        t.filter(pl.col("over")).select(kode_temuan=pl.lit("TPS_MELEBIHI_KAPASITAS"), kunci=key),
        t.filter(pl.col("progres_minus").is_not_null()).select(
            kode_temuan=pl.lit("PROGRES_MELEBIHI_DATA"), kunci=key
        ),
        t.filter(pl.col("delta_app") != 0).select(
            kode_temuan=pl.lit("JUMLAH_TIDAK_SESUAI"), kunci=key
        ),
        t.filter(pl.col("plant_off") == "belum_login").select(
            kode_temuan=pl.lit("PANTARLIH_BELUM_LOGIN"), kunci=officer
        ),
        t.filter(pl.col("plant_off").is_in(["sinkron_null", "sinkron_lama"])).select(
            kode_temuan=pl.lit("PANTARLIH_BELUM_SINKRON"), kunci=officer
        ),
        plan.desa.filter(pl.col("night") == k).select(
            kode_temuan=pl.lit("PENURUNAN_TAJAM"), kunci="kode_desa"
        ),
        rec.filter(pl.col("hapus") == k).select(
            kode_temuan=pl.lit("DATA_HILANG"),
            kunci=pl.col("kode_prov_id") + pl.col("id_rid").cast(pl.String).str.zfill(10),
        ),
    ]
    return pl.concat(parts)


def simulate(
    out: str,
    *,
    voters: int,
    nights: int,
    seed: int,
    start: date = date(2024, 7, 1),
    provinces: list[str] | None = None,
    storage_options: dict[str, Any] | None = None,
) -> SimulateResult:
    """Write `nights` export-v1 nights under `out` (any fsspec URL), truth in `out/_truth`."""
    if voters < 1000:
        raise ValueError("simulate needs at least 1000 voters")
    if nights < 1:
        raise ValueError("simulate needs at least one night")
    provs = sorted(provinces or DEFAULT_PROVINCES)
    storage = dict(storage_options or {})
    election = load_elections()[DEFAULT_ELECTION]
    t: dict[str, float] = {}
    t0 = _time.perf_counter()
    ss = np.random.SeedSequence(seed)
    r_geo, r_pool, r_time, r_plant, r_night = (np.random.default_rng(s) for s in ss.spawn(5))

    wil = make_wilayah(r_geo, provs, voters)
    prm = PoolParams(
        voters=voters,
        nights=nights,
        maks_tps=election.maks_pemilih_per_tps,
        lahir_paling_lambat=election.lahir_paling_lambat,
        hari_pemungutan=election.hari_pemungutan,
    )
    rec, tps = build_pool(r_pool, wil, prm)
    rec = timeline.assign(r_time, rec, tps, nights)
    t["population"] = _time.perf_counter() - t0

    t0 = _time.perf_counter()
    rec, plan = plants.plant(r_plant, rec, tps, prm)
    rec = timeline.fill_new_nkk(rec).with_columns(kode_prov_id=pl.col("kode_desa").str.slice(0, 2))
    off = nt.officers(rec, tps).join(plan.tps, on="tps_i", how="left", maintain_order="left")
    jum = nt.jumlah_diturunkan(rec, tps, plan.tps, r_night)
    rec = rec.join(
        off.select("tps_i", "n_off", kode_desa_tps="kode_desa", no_tps_tps="no_tps"),
        on="tps_i",
        how="left",
        maintain_order="left",
    ).with_columns(
        id_pantarlih=nt.officer_id(
            pl.col("kode_desa_tps"),
            pl.col("no_tps_tps"),
            pl.when(pl.col("n_off") == 2).then(pl.col("fam") % 2 + 1).otherwise(1),
        )
    )
    # Keep only what the nights and the truth need (memory at 5 M voters).
    export_cols = [c for c in schema("pemilih") if c not in nt.DERIVED]
    rec = rec.select(*export_cols, *nt.TIMELINE, *plants.TRUTH_COLUMNS, "kode_prov_id", "tps_i")
    t["plant"] = _time.perf_counter() - t0

    wilayah = wil.drop("bobot")
    tps_out = tps.join(jum, on="tps_i", maintain_order="left").select(
        "kode_desa", "no_tps", "jumlah_diturunkan"
    )
    dates = [nt.night_date(start, k) for k in range(nights)]
    result = SimulateResult(out=out, voters=voters, nights=dates, seed=seed, provinces=provs)
    t["write"] = 0.0
    t["snapshot"] = 0.0
    seen: list[pl.DataFrame] = []
    prev: pl.DataFrame | None = None
    for k, tanggal in enumerate(dates):
        t0 = _time.perf_counter()
        made = nt.dibuat(start, k, seed)
        snap = nt.snapshot(rec, k, start, columns=LEAN)
        off_k = off.with_columns(
            u_sync=pl.Series(r_night.random(off.height)),
            u_login=pl.Series(r_night.random(off.height)),
        )
        pan = nt.pantarlih_table(snap, off_k, start, k, made)
        made_utc = pl.lit(made).dt.convert_time_zone("UTC")
        truth = night_truth(
            snap,
            prev=prev,
            tps_out=tps_out,
            pan=pan,
            k=k,
            prm=prm,
            dibuat_utc=made_utc,
            planned=_planned(rec, tps, plan, k),
        )
        prev = snap
        pem = nt.ProvinceSnapshots(rec, k, start, provs)
        seen.append(snap.select("id_pemilih", "id_orang", "jenis", "nik", "rid"))
        t["snapshot"] += _time.perf_counter() - t0
        t0 = _time.perf_counter()
        write_night(
            out,
            tanggal,
            {"wilayah": wilayah, "tps": tps_out, "pantarlih": pan},
            pem,
            formats=_formats(provs, k),
            dibuat=made,
            storage_options=storage,
        )
        _write_parquet(out, f"{TRUTH_DIR}/temuan-{tanggal.isoformat()}.parquet", truth, storage)
        t["write"] += _time.perf_counter() - t0
        result.records.append(snap.height)
        result.findings.append(truth.height)
    orang = (
        pl.concat(seen)
        .unique(subset="rid", keep="last")
        .sort("rid")
        .select("id_pemilih", "id_orang", "jenis", "nik")
    )
    _write_parquet(out, f"{TRUTH_DIR}/orang.parquet", orang, storage)
    result.timings = t
    return result
