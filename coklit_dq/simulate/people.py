"""The population: families in desa, persons with NIK/NKK, placed in TPS.

Everything is one flat table of records (numpy arrays turned into polars),
built family by family:

- families of 1-6 voters, spread over desa by the desa's size weight;
- TPS filled family by family up to a per-desa target well under the
  election's maximum, so a family (one NKK) is never split;
- NIK = kecamatan of first registration (6) + DDMMYY (+40 for women) + a
  serial unique per kecamatan and birth date, so no two persons share a NIK;
  NKK = kecamatan + issue date + serial, unique per family;
- about one in eleven birth dates on the civil registry's placeholders
  (1 Jul, 31 Dec, 1 Jan), twins in some families, a few married 16-year-olds.

The arrays carry hidden columns (id_orang, kelas, turun, masuk, ...) that the
timeline (`nights.py`) and the planted problems (`plants.py`) use.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from coklit_dq.simulate import names as nm

KAWIN = ("B", "S", "P")
KELAS = ("", "tms3", "kawin16")  # special classes of records
NEVER = 99  # a night index that never comes
EPOCH = np.datetime64("1970-01-01", "D")


def days(d: date) -> int:
    return int((np.datetime64(d, "D") - EPOCH).astype(np.int64))


@dataclass(frozen=True)
class PoolParams:
    voters: int
    nights: int
    maks_tps: int  # election maximum per TPS
    lahir_paling_lambat: date  # last birth date of age on polling day
    hari_pemungutan: date


def _family_sizes(rng: np.random.Generator, total: int) -> np.ndarray:
    p = np.array([0.20, 0.33, 0.23, 0.13, 0.08, 0.03])
    sizes = rng.choice(np.arange(1, 7), size=int(total / 2.5) + 16, p=p)
    cum = np.cumsum(sizes)
    k = int(np.searchsorted(cum, total))
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= int(sizes.sum() - total)
    return sizes[sizes > 0]


def _rank_within(keys: list[np.ndarray]) -> np.ndarray:
    """0-based rank of each row within its group of equal keys (stable)."""
    order = np.lexsort(keys[::-1])
    sorted_keys = [k[order] for k in keys]
    new = np.ones(len(order), dtype=bool)
    new[1:] = np.zeros(len(order) - 1, dtype=bool)
    for k in sorted_keys:
        new[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(new)
    run = np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    rank_sorted = np.arange(len(order)) - run
    out = np.empty(len(order), dtype=np.int64)
    out[order] = rank_sorted
    return out


# The share of people whose nik carries a kecamatan code the region reference no longer
# has (see build_pool; the frequency is explained in docs/stages.md).
RETIRED_SHARE = 0.03


def build_pool(
    rng: np.random.Generator, wil: pl.DataFrame, prm: PoolParams
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(records, tps): every person record and every TPS, before planted problems."""
    n_desa = wil.height
    bobot = wil["bobot"].to_numpy().copy()
    # A few desa are handed down with TPS over the maximum (planted TPS_MELEBIHI_KAPASITAS):
    # make them big enough to fill at least one TPS past the maximum.
    # (Only when there are voters enough for it to stay a small part of the list.)
    n_over = max(1, n_desa // 100) if prm.voters >= 8 * prm.maks_tps else 0
    over_desa = rng.choice(n_desa, size=n_over, replace=False)
    need = 1.6 * prm.maks_tps / prm.voters * bobot.sum()
    bobot[over_desa] = np.maximum(bobot[over_desa], need)
    sizes = _family_sizes(rng, prm.voters)
    n_fam = len(sizes)
    fam_start = np.r_[0, np.cumsum(sizes)[:-1]]
    bounds = np.cumsum(bobot) / bobot.sum() * prm.voters
    fam_desa = np.minimum(np.searchsorted(bounds, fam_start, side="right"), n_desa - 1)

    # TPS: fill family by family up to a per-desa target well under the maximum.
    cap = (rng.uniform(0.45, 0.72, n_desa) * prm.maks_tps).astype(np.int64)
    cap[over_desa] = int(prm.maks_tps * 1.22)
    desa_first_fam = np.searchsorted(fam_desa, np.arange(n_desa))
    desa_start_rec = np.r_[fam_start, prm.voters][desa_first_fam]
    within = fam_start - desa_start_rec[fam_desa]
    fam_tps = (within // cap[fam_desa] + 1).astype(np.int64)
    n_tps_desa = np.zeros(n_desa, dtype=np.int64)
    np.maximum.at(n_tps_desa, fam_desa, fam_tps)
    n_tps_desa = np.maximum(n_tps_desa, 1)

    # TPS table: progress of coklit per TPS; a few have not started at all.
    tps_desa = np.repeat(np.arange(n_desa), n_tps_desa)
    tps_no = np.arange(len(tps_desa)) - np.repeat(np.cumsum(n_tps_desa) - n_tps_desa, n_tps_desa)
    tps_no = tps_no + 1
    n_tps = len(tps_desa)
    is_over = np.isin(tps_desa, over_desa)
    zr = rng.random(n_tps)
    zr[is_over] = 2.0
    # at least a few TPS not started (the officer plants live there), never most of them
    zero = zr < max(0.04, np.sort(zr)[min(5, n_tps // 5)])
    p0 = np.where(zero, 0.0, rng.uniform(0.25, 0.7, n_tps))
    rate = np.where(zero, 0.0, rng.uniform(0.04, 0.12, n_tps))
    tps_first = np.cumsum(n_tps_desa) - n_tps_desa
    fam_tps_i = tps_first[fam_desa] + fam_tps - 1

    # Records.
    n = prm.voters
    fam = np.repeat(np.arange(n_fam), sizes)
    m = np.arange(n) - np.repeat(fam_start, sizes)
    size = sizes[fam]
    desa = fam_desa[fam]
    tps_i = fam_tps_i[fam]
    rec_zero = zero[tps_i]

    # Ages (years on polling day): head, spouse, children.
    # heads of families with grown children are older
    head_age = np.clip(22 + rng.gamma(3.0, 8.0, n_fam) + 12 * (sizes >= 3), 22, 95)
    has_spouse = rng.random(n_fam) < 0.8
    age = head_age[fam].copy()
    spouse = (m == 1) & has_spouse[fam]
    age[spouse] = np.clip(age[spouse] + rng.normal(-2, 4, spouse.sum()), 18, 95)
    child = (m >= 1) & ~spouse
    # a child is at least 18 years younger than the head and at least 17.3 years old
    room = np.maximum(head_age[fam][child] - 18 - 17.3, 0.5)
    cage = 17.3 + room * rng.random(int(child.sum()))
    age[child] = cage
    male_head = rng.random(n_fam) < 0.85
    female = np.where(m == 0, ~male_head[fam], rng.random(n) < 0.5)
    female[spouse] = male_head[fam][spouse]

    status_kawin = np.full(n, KAWIN.index("S"), dtype=np.int8)
    status_kawin[(m <= 1) & (age > 55) & (rng.random(n) < 0.15)] = KAWIN.index("P")
    young = child & ((age < 24) | (rng.random(n) < 0.5))
    status_kawin[young] = KAWIN.index("B")

    # Special classes among children of started TPS.
    kelas = np.zeros(n, dtype=np.int8)
    u = rng.random(n)
    eligible_child = child & ~rec_zero
    kelas[eligible_child & (u < 0.003)] = KELAS.index("tms3")  # under age, never married: TMS 3
    kelas[eligible_child & (u >= 0.003) & (u < 0.007)] = KELAS.index("kawin16")  # married at 16
    h = days(prm.hari_pemungutan)
    cutoff = days(prm.lahir_paling_lambat)
    dob = (h - age * 365.2425).astype(np.int64)
    dob = np.minimum(dob, cutoff - 1)
    minor = kelas != 0
    dob[minor] = cutoff + rng.integers(1, 330, minor.sum())
    status_kawin[kelas == KELAS.index("tms3")] = KAWIN.index("B")
    status_kawin[kelas == KELAS.index("kawin16")] = KAWIN.index("S")

    # Placeholder birth dates (1 Jul, 31 Dec, 1 Jan), about one in eleven.
    ym = (EPOCH + dob).astype("datetime64[Y]")
    ph = rng.choice(3, size=n, p=[0.55, 0.30, 0.15])
    jul1 = (ym.astype("datetime64[M]") + np.timedelta64(6, "M")).astype("datetime64[D]")
    dec31 = (ym + np.timedelta64(1, "Y")).astype("datetime64[D]") - np.timedelta64(1, "D")
    jan1 = ym.astype("datetime64[D]")
    ph_date = np.select([ph == 0, ph == 1], [jul1, dec31], default=jan1)
    use_ph = (rng.random(n) < 1 / 11) & ~minor
    ph_days = (ph_date - EPOCH).astype(np.int64)
    use_ph &= ph_days <= cutoff - 1
    dob = np.where(use_ph, ph_days, dob)

    # Twins: the last child of some families of 3+ shares the previous child's birth date.
    twin_fam = (sizes >= 3) & (rng.random(n_fam) < 0.05)
    twin = twin_fam[fam] & (m == size - 1) & (m >= 2) & child
    twin &= np.r_[False, child[:-1]] & (kelas == 0) & np.r_[False, kelas[:-1] == 0]
    idx = np.flatnonzero(twin)
    dob[idx] = dob[idx - 1]
    status_kawin[idx] = status_kawin[idx - 1]

    # NIK: kecamatan of first registration + DDMMYY (+40 women) + serial.
    kec_codes = wil["kode_kec"].to_numpy().astype(str)
    kec_of_desa = np.unique(kec_codes, return_inverse=True)[1]
    kec_list = np.unique(kec_codes)
    rec_kec = kec_of_desa[desa]
    moved = rng.random(n) < 0.12
    nik_kec = np.where(moved, rng.integers(0, len(kec_list), n), rec_kec)
    # Retired codes: Dukcapil never re-issues a nik, so people registered in a kecamatan
    # before its kabupaten was split carry a code the region reference no longer has
    # (RETIRED_SHARE). Such a code is taken after the last kecamatan of its kabupaten
    # (one keystroke from real ones, as retired codes are). Decided by a hash of the
    # person, not a draw, so every other draw of the simulation stays as it was.
    kec_kab = np.array([k[:4] for k in kec_list])
    last_num = (  # per kecamatan: the number of the last kecamatan of its kabupaten
        pl.DataFrame({"kab": kec_kab, "num": [int(k[4:]) for k in kec_list]})
        .select(pl.col("num").max().over("kab"))
        .to_series()
        .to_numpy()
        .astype(np.int64)
    )
    who = np.arange(n, dtype=np.int64) * 2_654_435_761 + fam.astype(np.int64) * 40_503
    h_retired = (who + dob.astype(np.int64) * 97) % 10_007 / 10_007.0
    retired = (h_retired < RETIRED_SHARE) & (last_num[nik_kec] < 97)
    num = last_num[nik_kec[retired]] + 1 + (h_retired[retired] * 1e6).astype(np.int64) % 3
    retired_codes = np.char.add(kec_kab[nik_kec[retired]], np.char.zfill(num.astype(str), 2))
    retired_list = np.unique(retired_codes)
    code_list = np.concatenate([kec_list.astype(str), retired_list.astype(str)])
    nik_kec = nik_kec.copy()
    nik_kec[retired] = np.searchsorted(retired_list, retired_codes) + len(kec_list)
    dob_dt = EPOCH + dob
    dd = (dob_dt - dob_dt.astype("datetime64[M]")).astype(np.int64) + 1
    mm = dob_dt.astype("datetime64[M]").astype(np.int64) % 12 + 1
    yy = dob_dt.astype("datetime64[Y]").astype(np.int64) + 1970
    datepart = (dd + 40 * female) * 10000 + mm * 100 + yy % 100
    # The serial starts at 0001 within each kecamatan and birth date (domain.md), so most
    # voters carry 0001 and two people born the same day in different kecamatan share the
    # last ten digits of their nik. A quarter of the groups start later (people registered
    # there on that date who are dead, moved away or not voters): 1-4 numbers skipped.
    h = (nik_kec.astype(np.int64) * 2_654_435_761 + datepart * 40_503) % 1000 / 1000.0
    skipped = np.where(h < 0.75, 0, 1 + ((h - 0.75) / 0.25 * 4).astype(np.int64))
    serial = _rank_within([nik_kec, datepart]) + 1 + skipped
    # NKK: kecamatan of the family's desa + issue date + serial; unique per family.
    fkec = kec_of_desa[fam_desa]
    issue = days(date(2005, 1, 1)) + rng.integers(0, 6900, n_fam)
    fserial = _rank_within([fkec, issue]) + 1

    tps_desa_code = wil["kode_desa"].to_numpy()
    provs, prov_of_desa = np.unique(wil["kode_prov"].to_numpy().astype(str), return_inverse=True)
    # each desa's kab/kota as a birthplace is written (BANDUNG for KOTA BANDUNG); none for
    # the numbered kabupaten the names run out on
    homes = [
        "" if any(ch.isdigit() for ch in k) else k.removeprefix("KOTA ")
        for k in wil["nama_kab"].to_list()
    ]
    rec = pl.DataFrame(
        {
            "rid": np.arange(n, dtype=np.int64),
            "id_orang": np.arange(n, dtype=np.int64),
            "fam": fam,
            "kode_desa": nm.pick(list(tps_desa_code), desa),
            "m": m,
            "size": size,
            "desa_i": desa,
            "tps_i": tps_i,
            "no_tps": fam_tps[fam].astype(np.int32),
            "female": female,
            "dob": dob.astype(np.int32),
            "status_kawin": nm.pick(list(KAWIN), status_kawin),
            "kelas": nm.pick(list(KELAS), kelas),
            "eth": nm.ethnicity(rng, provs, prov_of_desa[desa]),
            "nik_kec": nm.pick(list(code_list), nik_kec),
            "datepart": datepart,
            "serial": serial,
            "fam_kec": nm.pick(list(kec_list), fkec[fam]),
            "issue": issue[fam],
            "fserial": fserial[fam],
            "u_addr": rng.integers(1, 200, n_fam)[fam],
            "rt": rng.integers(1, 16, n_fam)[fam],
            "rw": rng.integers(1, 12, n_fam)[fam],
            "street": rng.integers(0, len(nm.STREETS), n_fam)[fam],
            "twin": twin,
            "disabilitas": np.where(rng.random(n) < 0.02, rng.integers(1, 7, n), 0),
        }
    )
    rec = rec.with_columns(
        tanggal_lahir=pl.col("dob").cast(pl.Date),
        jenis_kelamin=pl.when(pl.col("female")).then(pl.lit("P")).otherwise(pl.lit("L")),
    )
    rec = (
        rec.with_columns(
            nik=pl.col("nik_kec")
            + pl.col("datepart").cast(pl.String).str.zfill(6)
            + pl.col("serial").cast(pl.String).str.zfill(4),
            nkk=pl.col("fam_kec")
            + pl.col("issue").cast(pl.Date).dt.strftime("%d%m%y")
            + pl.col("fserial").cast(pl.String).str.zfill(4),
            nama=nm.names(rng, rec["eth"].to_numpy(), female),
            tempat_lahir=nm.birth_places(rng, provs, prov_of_desa[desa], homes, desa),
            alamat=pl.when(pl.col("kode_desa").str.slice(6, 1) == "1")
            .then(
                pl.lit("JL. ")
                + pl.col("street").replace_strict(
                    dict(enumerate(nm.STREETS)), return_dtype=pl.String
                )
                + pl.lit(" NO. ")
                + pl.col("u_addr").cast(pl.String)
            )
            .otherwise(pl.lit("DUSUN ") + pl.col("rw").cast(pl.String).str.zfill(2)),
            rt=pl.col("rt").cast(pl.String).str.zfill(3),
            rw=pl.col("rw").cast(pl.String).str.zfill(3),
        )
        .with_columns(
            # twins never share a name
            nama=pl.when(pl.col("twin") & (pl.col("nama") == pl.col("nama").shift(1)))
            .then(
                pl.col("nama")
                + pl.when(pl.col("female")).then(pl.lit(" PUTRI")).otherwise(pl.lit(" PUTRA"))
            )
            .otherwise(pl.col("nama"))
        )
        .drop(
            "twin", "datepart", "serial", "fam_kec", "issue", "fserial", "u_addr", "street", "eth"
        )
    )
    tps = pl.DataFrame(
        {
            "tps_i": np.arange(n_tps),
            "desa_i": tps_desa,
            "kode_desa": tps_desa_code[tps_desa],
            "no_tps": tps_no.astype(np.int32),
            "zero": zero,
            "over": is_over,
            "p0": p0,
            "rate": rate,
            "n_tps_desa": n_tps_desa[tps_desa],
        }
    )
    return rec, tps
