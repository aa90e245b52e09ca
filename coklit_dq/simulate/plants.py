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
# Names a public check of the 2023 lists called "tidak wajar": one letter, a `?`, a digit,
# a symbol, no letter at all
NAMA_TIDAK_WAJAR = ("A", "BUDI?", "SITI 2", "R.", "ANDI @ ANDY", "-")

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
    "usia_tidak_wajar": "USIA_TIDAK_WAJAR",
    "nama_tidak_wajar": "NAMA_TIDAK_WAJAR",
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
TRUTH_COLUMNS = ("rid", "id_orang", "jenis", "plant", "grp")
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


class Patcher:
    """Collects planted changes as small frames and applies them to the records once.

    Each record gets at most one plant; `free()` excludes those already taken.
    Changing a 5 M-row frame once per plant kind would cost a copy of the changed
    columns each time; one join at the end costs one.
    """

    def __init__(self, rec: pl.DataFrame) -> None:
        self.rec = rec
        self.parts: list[pl.DataFrame] = []
        self.taken = pl.Series("rid", [], dtype=pl.Int64)

    def free(self) -> pl.Expr:
        return ~pl.col("rid").is_in(self.taken.implode())

    def add(self, part: pl.DataFrame) -> None:
        """A patch frame: rid, plant and the columns it sets (every row sets all of them)."""
        flags = {f"_s_{c}": pl.lit(True) for c in part.columns if c != "rid"}
        self.parts.append(part.with_columns(**flags))
        self.taken = pl.concat([self.taken, part["rid"]])

    def set(self, rids: pl.Series, plant: str, **cols: pl.Expr) -> pl.DataFrame:
        part = (
            self.rec.lazy()
            .filter(pl.col("rid").is_in(rids.implode()))
            .select("rid", plant=pl.lit(plant), **cols)
            .collect()
        )
        self.add(part)
        return part

    def apply(self) -> pl.DataFrame:
        if not self.parts:
            return self.rec
        patch = pl.concat(self.parts, how="diagonal_relaxed")
        if patch["rid"].n_unique() != patch.height:
            raise AssertionError("a record got two planted problems")
        rec = self.rec
        n = rec.height
        if not rec["rid"].equals(pl.Series("rid", range(n), dtype=rec.schema["rid"])):
            raise AssertionError("records must be in rid order, rid = row number")
        cols = [c for c in patch.columns if c != "rid" and not c.startswith("_s_")]
        new = []
        for c in cols:  # one column at a time: memory of one column, not of the frame
            part = patch.filter(pl.col(f"_s_{c}").fill_null(False))
            col = rec[c].clone()
            col.scatter(part["rid"], part[c].cast(rec.schema[c]))
            new.append(col)
        return rec.with_columns(new)


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
    over = tps.filter(pl.col("over"))["tps_i"].implode()
    busy = pl.col("tps_i").is_in(progres.implode()) | pl.col("zero") | pl.col("tps_i").is_in(over)
    pt = Patcher(rec)

    def clean(kelas: str = "") -> pl.Expr:
        return (
            pt.free()
            & ~pl.col("rel")
            & ~busy
            & (pl.col("kelas") == kelas)
            & pl.col("turun")
            & (pl.col("t2") == NEVER)
        )

    adult = pl.col("dob") < cutoff - 800
    one = _n(n_all)

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
        pt.set(_pick(rec, clean(), one, rng)["rid"], kind, nik=nik)
    for kind, nkk in (
        # the serial's leading zero dropped: still one value per family (no accidental
        # KK_TERPISAH between two families whose cards share 15 digits)
        ("nkk_pendek", pl.col("nkk").str.slice(0, 12) + pl.col("nkk").str.slice(13)),
        ("nkk_prov", pl.lit("20") + pl.col("nkk").str.slice(2)),
    ):
        pt.set(_pick(rec, clean(), one, rng)["rid"], kind, nkk=nkk)
    pt.set(_pick(rec, clean(), one, rng)["rid"], "nik_jk", female=~pl.col("female"))
    shift = (pl.col("rid") % 700 + 1) * pl.when(pl.col("rid") % 2 == 0).then(1).otherwise(-1)
    pt.set(
        _pick(rec, clean() & adult, one, rng)["rid"], "nik_tgl",
        dob=(pl.col("dob") + shift).cast(pl.Int32), hasil=pl.lit("UBAH"),
    )  # fmt: skip

    # --- age and TMS codes ----------------------------------------------------------
    ids = _pick(rec, clean() & (pl.col("m") > 0), one, rng)["rid"]
    new_dob = (pl.lit(cutoff) + 30 + pl.col("rid") % 300).cast(pl.Int32)
    pt.add(_usia(rec, ids, new_dob))
    tms = {"hasil": pl.lit("TMS"), "c": pl.lit(0, pl.Int64), "dok": pl.lit(None, pl.String)}
    ids = _pick(rec, clean() & adult, one, rng)["rid"]
    pt.set(ids, "tms3_dewasa", kode=pl.lit(3, pl.Int64), **tms)
    kawin16 = clean("kawin16")
    pt.set(_pick(rec, kawin16, max(1, one // 2), rng)["rid"], "tms3_kawin",
           kode=pl.lit(3, pl.Int64), **tms)  # fmt: skip
    bad = pl.when(pl.col("rid") % 3 == 0).then(None).otherwise(pl.col("rid") % 2 * 9)
    pt.set(_pick(rec, clean(), one, rng)["rid"], "tms_kode_salah", kode=bad.cast(pl.Int64), **tms)
    pt.set(
        _pick(rec, clean(), one, rng)["rid"], "kode_tanpa_tms", hasil=pl.lit("MS"),
        kode_extra=(pl.col("rid") % 2 + 4).cast(pl.Int64),
    )  # fmt: skip
    pt.set(_pick(rec, clean(), one, rng)["rid"], "tms1_tanpa_dok", kode=pl.lit(1, pl.Int64), **tms)
    ids = _pick(rec, clean() & (pl.col("size") == 1), one, rng)["rid"]
    pt.set(ids, "tms8_tanpa", kode=pl.lit(8, pl.Int64), **tms)

    # --- placement -----------------------------------------------------------------
    pt.set(
        _pick(rec, clean() & (pl.col("size") == 1), one, rng)["rid"], "tps_tidak_dikenal",
        no_tps=(pl.col("n_tps_desa") + 1 + pl.col("rid") % 2).cast(pl.Int32),
    )  # fmt: skip
    _split_families(rec, pt, clean(), one, rng)
    _ganda_id(rec, pt, clean(), one, rng)

    # --- duplicates across desa --------------------------------------------------------
    originals, copies = duplicates.plant_pairs(
        rng, rec, tps, clean=clean() & adult, n=_n(n_all, 0.001, 2), nights=prm.nights
    )
    pt.add(originals)

    # --- night over night --------------------------------------------------------------
    desa_plan = []
    for r in range(1, prm.nights):

        def before(r: int = r) -> pl.Expr:
            return clean() & (pl.col("c") <= r - 1) & (pl.col("masuk") == 0)

        pt.set(
            _pick(rec, before(), one, rng)["rid"], "kembali_ms", hasil=pl.lit("TMS"),
            kode=pl.lit(1, pl.Int64), dok=document(pl.lit(1), pl.col("u_doc")),
            ev=pl.lit(r, pl.Int64), ev_kind=pl.lit("kembali_ms"),
        )  # fmt: skip
        for kind in ("kembali_belum", "jadi_baru"):
            pt.set(
                _pick(rec, before(), one, rng)["rid"], kind, hasil=pl.lit("MS"),
                ev=pl.lit(r, pl.Int64), ev_kind=pl.lit(kind),
            )  # fmt: skip
        # at most one deleted record per desa, and only in desa of 80 records or more
        big = pl.len().over("desa_i") >= 80
        gone = (
            _pick(rec, before() & big, 4 * one, rng)
            .unique("desa_i", keep="first", maintain_order=True)
            .head(one)
        )
        pt.set(gone["rid"], "hapus", hapus=pl.lit(r, pl.Int64))
        desa_plan.append(_sharp_fall(rec, pt, clean(), r, rng))
    plan_desa = (
        pl.concat(desa_plan)
        if desa_plan
        else pl.DataFrame(schema={"kode_desa": pl.String, "night": pl.Int64})
    )
    # --- v1.1 "tidak wajar" (planted last, from a child generator: every draw above is
    # the same as before they were added) -------------------------------------------
    # 110 years or more on polling day (the cutoff is 17 years before it), with a nik that
    # says that birth date; names of fewer than two letters or with a character that is
    # not a letter (reports-v1 v1.1)
    late = rng.spawn(1)[0]
    ids = _pick(rec, clean() & adult, one, late)["rid"]
    old_dob = (pl.lit(cutoff) - int(93 * 365.25) - 40 - pl.col("rid") % 3000).cast(pl.Int32)
    pt.add(_usia(rec, ids, old_dob, plant="usia_tidak_wajar", kawin="P", serial_from=9500))
    aneh = dict(enumerate(NAMA_TIDAK_WAJAR))
    pt.set(
        _pick(rec, clean(), one, late)["rid"], "nama_tidak_wajar", hasil=pl.lit("MS"),
        nama=(pl.col("rid") % len(aneh)).replace_strict(aneh, return_dtype=pl.String),
    )  # fmt: skip
    rec = pt.apply()
    rec = pl.concat([rec, copies.cast(rec.schema)], how="vertical", rechunk=False)
    rec = rec.with_columns(
        jenis_kelamin=pl.when(pl.col("female")).then(pl.lit("P")).otherwise(pl.lit("L")),
        tanggal_lahir=pl.col("dob").cast(pl.Date),
    )
    return rec, Plan(tps=plan_tps, desa=plan_desa)


def _usia(
    rec: pl.DataFrame,
    ids: pl.Series,
    dob: pl.Expr,
    *,
    plant: str = "usia",
    kawin: str = "B",
    serial_from: int = 9000,
) -> pl.DataFrame:
    """A new birth date with a nik that matches it (serial from `serial_from` up, never
    used otherwise), visited MS: USIA_BELUM_CUKUP (born after the cutoff, never married)
    or USIA_TIDAK_WAJAR (110 or more, once married; serials from 9500, since a nik's
    two-digit year makes 1908 and 2008 one date part)."""
    part = (
        rec.lazy()
        .filter(pl.col("rid").is_in(ids.implode()))
        .select("rid", "nik_kec", "female", dob=dob)
    )
    d = pl.col("dob").cast(pl.Date)
    dd = d.dt.day() + pl.when(pl.col("female")).then(40).otherwise(0)
    date_part = (
        dd.cast(pl.String).str.zfill(2)
        + d.dt.month().cast(pl.String).str.zfill(2)
        + (d.dt.year() % 100).cast(pl.String).str.zfill(2)
    )
    serial = pl.lit(serial_from) + pl.int_range(pl.len()).over("nik_kec", date_part, order_by="rid")
    return part.select(
        "rid", "dob",
        plant=pl.lit(plant),
        nik=pl.col("nik_kec") + date_part + serial.cast(pl.String),
        status_kawin=pl.lit(kawin),
        hasil=pl.lit("MS"),
    ).collect()  # fmt: skip


def _split_families(
    rec: pl.DataFrame, pt: Patcher, clean: pl.Expr, n: int, rng: np.random.Generator
) -> None:
    """KK_TERPISAH: one member of a family moved to another TPS of the same desa."""
    fams = (
        rec.lazy()
        .group_by("fam")
        .agg(
            ok=(clean & pl.col("tps_alt").is_not_null() & (pl.col("masuk") == 0)).all(),
            k=pl.len(),
            last=pl.col("rid").max(),
        )
        .filter(pl.col("ok") & (pl.col("k") >= 2))
        .collect()
    )
    fams = _sample(fams.sort("fam"), n, rng)
    members = rec.lazy().filter(pl.col("fam").is_in(fams["fam"].implode())).select("rid")
    moved = pl.col("rid").is_in(fams["last"].implode())
    pt.set(
        members.collect()["rid"], "kk_terpisah",
        hasil=pl.when(pl.col("hasil") == "TMS").then(pl.lit("MS")).otherwise(pl.col("hasil")),
        grp=pl.col("nkk"),
        no_tps=pl.when(moved).then(pl.col("no_tps_alt")).otherwise(pl.col("no_tps")),
        tps_i=pl.when(moved).then(pl.col("tps_alt")).otherwise(pl.col("tps_i")),
    )  # fmt: skip


def _ganda_id(
    rec: pl.DataFrame, pt: Patcher, clean: pl.Expr, n: int, rng: np.random.Generator
) -> None:
    """GANDA_ID: two persons of one TPS exported under one id_pemilih (both not yet visited)."""
    cand = rec.lazy().filter(clean & (pl.col("size") == 1)).select("rid", "tps_i").collect()
    cand = cand.sample(fraction=1.0, seed=int(rng.integers(2**31)), shuffle=True)
    cand = cand.with_columns(k=pl.int_range(pl.len()).over("tps_i"))
    first = cand.filter(pl.col("k") == 0).select("tps_i", x="rid")
    second = cand.filter(pl.col("k") == 1).select("tps_i", y="rid")
    pairs = first.join(second, on="tps_i").sort("x").head(n)
    both = pl.concat([pairs["x"], pairs["y"]])
    target = pl.col("rid").replace_strict(
        pairs["y"], pairs["x"], default=pl.col("id_rid"), return_dtype=pl.Int64
    )
    pt.set(
        both, "ganda_id", c=pl.lit(NEVER, pl.Int64), jenis=pl.lit("ganda_id"), id_rid=target,
    )  # fmt: skip


def _sharp_fall(
    rec: pl.DataFrame, pt: Patcher, clean: pl.Expr, r: int, rng: np.random.Generator
) -> pl.DataFrame:
    """PENURUNAN_TAJAM: a fifth of a desa's voters struck as TMS 5 on night r."""
    alive = (
        clean & (pl.col("masuk") <= r - 1) & ((pl.col("c") > r - 1) | (pl.col("hasil") != "TMS"))
    )
    cand = rec.lazy().filter(alive).select("rid", "desa_i", "kode_desa").collect()
    per = cand.group_by("desa_i", "kode_desa").agg(n=pl.len()).filter(pl.col("n") >= 60)
    n_desa = max(1, rec["desa_i"].n_unique() // 200)
    chosen = _sample(per.sort("desa_i"), n_desa, rng)
    pool = cand.filter(pl.col("desa_i").is_in(chosen["desa_i"].implode()))
    pool = pool.with_columns(u=pl.Series(rng.random(pool.height))).filter(pl.col("u") < 0.2)
    pt.set(pool["rid"], "penurunan", t2=pl.lit(r, pl.Int64), kode2=pl.lit(5, pl.Int64))
    return chosen.select("kode_desa", night=pl.lit(r, pl.Int64))
