"""Rules benchmark: the pipeline's validation vs a plain hand-written DuckDB SQL.

    .venv/bin/python benchmarks/bench_rules.py [--voters 1000000] [--workdir DIR]
        [--generator auto|sim|own]

Two nights of an export are generated (coklit_dq.simulate.simulate when it is
there, else the seeded generator below, which plants every kind of problem),
written as export-v1 and ingested with coklit_dq.ingest.ingest_night. Night 2
is then checked twice:

- run_rules: the pipeline's stages 2-3 (DuckDB prepare + Great Expectations);
- CROSS_CHECK_SQL: the same rules written again as one plain DuckDB query,
  independently of coklit_dq/rules/ (regexes where the rules use string
  slices, integer arithmetic where they use percentages, ...).

The finding sets (kode_temuan, kunci) must be equal. Prints both times, their
ratio and the peak memory (RSS) of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from coklit_dq import warehouse
from coklit_dq.config import Settings, resolve_settings
from coklit_dq.contract import PROVINCE_CODES

WIB = timezone(timedelta(hours=7))
T1, T2 = date(2024, 7, 1), date(2024, 7, 2)


def loadavg() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the seeded generator (used when the simulator is not there) ---------------------------


def _nik(kec: pl.Expr, born: pl.Expr, female: pl.Expr, serial: pl.Expr) -> pl.Expr:
    day = born.dt.day() + pl.when(female).then(40).otherwise(0)
    return (
        kec
        + day.cast(pl.String).str.zfill(2)
        + born.dt.strftime("%m%y")
        + serial.cast(pl.String).str.zfill(4)
    )


def generate_night1(n: int, seed: int = 7) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """wilayah, tps, pantarlih and all voters of night 1 (problems planted at ~0.1 % each)."""
    rng = np.random.default_rng(seed)
    provs = ["31", "32", "33", "35"]
    n_desa = max(8, n // 1500)
    i = np.arange(n_desa)
    prov = np.array(provs)[i % 4]
    kab = np.char.zfill(((i // 4) % 12 + 1).astype(str), 2)
    kec = np.char.zfill(((i // 48) % 15 + 1).astype(str), 2)
    nomor = np.char.zfill((i // 720 + 1).astype(str), 3)
    desa_codes = np.char.add(np.char.add(np.char.add(np.char.add(prov, kab), kec), "2"), nomor)
    desa = pl.DataFrame({"kode_desa": desa_codes}).with_columns(
        kode_kec=pl.col("kode_desa").str.slice(0, 6),
        kode_kab=pl.col("kode_desa").str.slice(0, 4),
        kode_prov=pl.col("kode_desa").str.slice(0, 2),
    )
    wilayah = desa.select(
        "kode_desa",
        nama_desa=pl.lit("Desa ") + pl.col("kode_desa"),
        kode_kec="kode_kec",
        nama_kec=pl.lit("Kec ") + pl.col("kode_kec"),
        kode_kab="kode_kab",
        nama_kab=pl.lit("Kab ") + pl.col("kode_kab"),
        kode_prov="kode_prov",
        nama_prov=pl.lit("Prov ") + pl.col("kode_prov"),
    )
    # families of 1-4 in one desa and one TPS (5 TPS per desa)
    fam_size = rng.integers(1, 5, size=n)
    fam = np.repeat(np.arange(n), fam_size)[:n]
    n_fam = int(fam.max()) + 1
    fam_desa = rng.integers(0, n_desa, size=n_fam)
    fam_tps = rng.integers(1, 6, size=n_fam)
    born = np.datetime64("1940-01-01") + rng.integers(0, 24000, size=n).astype("timedelta64[D]")
    female = rng.random(n) < 0.5
    u = rng.random(n)
    status = np.select(
        [u < 0.60, u < 0.70, u < 0.88, u < 0.98], ["MS", "UBAH", "BELUM", "TMS"], "BARU"
    )
    tms = np.where(status == "TMS", rng.choice([1, 2, 4, 5, 6, 7], size=n), 0)
    p = pl.DataFrame(
        {
            "r": np.arange(n),
            "fam": fam,
            "desa_i": fam_desa[fam],
            "no_tps": fam_tps[fam].astype(np.int32),
            "born": born,
            "female": female,
            "status_coklit": status,
            "kode_tms": tms,
            "u2": rng.random(n),
            "serial": rng.integers(1, 10000, size=n),
        }
    ).with_columns(pl.col("born").cast(pl.Date))
    p = p.join(desa.with_row_index("desa_i").with_columns(pl.col("desa_i").cast(pl.Int64)),
               on="desa_i")  # fmt: skip
    # 15 % of nik first registered in another kecamatan
    nik_kec = pl.when(pl.col("u2") < 0.15).then(pl.lit("730101")).otherwise(pl.col("kode_kec"))
    p = p.with_columns(
        id_pemilih=pl.lit("V") + pl.col("r").cast(pl.String).str.zfill(9),
        nik=_nik(nik_kec, pl.col("born"), pl.col("female"), pl.col("serial")),
        nkk=pl.col("kode_kec") + pl.lit("15") + (pl.col("fam") + 1).cast(pl.String).str.zfill(8),
        kode_tms=pl.when(pl.col("kode_tms") > 0).then(pl.col("kode_tms")).cast(pl.Int16),
    )
    k = pl.col("r") % 1000  # plant problems on fixed residues (~0.1 % each)
    p = p.with_columns(
        nik=pl.when(k == 1).then(pl.lit("3333333333333333"))
        .when(k == 2).then(pl.col("nik").str.slice(0, 15))
        .when(k == 3).then(pl.col("nik").str.slice(0, 12) + "0000")
        .when(k == 4).then(pl.col("nik").str.slice(0, 8) + "13" + pl.col("nik").str.slice(10))
        .when(k == 5).then(pl.col("nik").str.slice(0, 6) + "01" + pl.col("nik").str.slice(8))
        .otherwise(pl.col("nik")),
        nkk=pl.when(k == 6).then(pl.lit("99") + pl.col("nkk").str.slice(2))
        .when(k == 7).then(None).otherwise(pl.col("nkk")),
        no_tps=pl.when(k == 8).then(pl.lit(9, pl.Int32))
        .when(k == 9).then(pl.col("no_tps") % 5 + 1).otherwise(pl.col("no_tps")),
        born=pl.when(k == 10).then(pl.lit(date(2008, 3, 3)))
        .when(k == 21).then(pl.lit(date(1914, 11, 27)))  # 110 on Pilkada 2024's polling day
        .when(k == 22).then(pl.lit(date(1914, 11, 28)))  # 109
        .otherwise(pl.col("born")),
        status_kawin=pl.when(k == 10).then(pl.lit("B")).when(k == 11).then(pl.lit("S"))
        .otherwise(pl.lit("S")),
        status_coklit=pl.when(k.is_in([10, 12, 13, 14, 15])).then(
            pl.when(k == 10).then(pl.lit("MS")).otherwise(pl.lit("TMS"))
        ).otherwise(pl.col("status_coklit")),
    ).with_columns(
        kode_tms=pl.when(k == 12).then(pl.lit(3, pl.Int16)).when(k == 13).then(None)
        .when(k == 14).then(pl.lit(1, pl.Int16)).when(k == 15).then(pl.lit(8, pl.Int16))
        .when(k == 16).then(pl.lit(4, pl.Int16))
        .when(pl.col("status_coklit") != "TMS").then(None).otherwise(pl.col("kode_tms")),
    )  # fmt: skip
    p = p.with_columns(
        dokumen_tms=pl.when((pl.col("kode_tms") == 1) & (k != 14)).then(
            pl.lit("AKTA-") + pl.col("r").cast(pl.String)
        ),
        jenis_kelamin=pl.when(pl.col("female")).then(pl.lit("P")).otherwise(pl.lit("L")),
    )
    # kode 8 with its re-entry at another TPS of the desa (half of them)
    tms8 = p.filter((k == 15) & (pl.col("r") % 2000 < 1000)).with_columns(
        id_pemilih=pl.col("id_pemilih") + "B",
        no_tps=(pl.col("no_tps") % 5 + 1).cast(pl.Int32),
        status_coklit=pl.lit("BARU"),
        kode_tms=pl.lit(None, pl.Int16),
        dokumen_tms=pl.lit(None, pl.String),
    )
    dup = p.filter(k == 17)  # the same id twice
    p = pl.concat([p, tms8, dup], how="vertical_relaxed")
    # two desa whose TPS 1 is over capacity
    big = pl.col("desa_i") < 2
    p = p.with_columns(no_tps=pl.when(big).then(pl.lit(1, pl.Int32)).otherwise(pl.col("no_tps")))
    p = p.select(
        "id_pemilih", "nik", "nkk",
        # letters only (the digits of r spelled A-J), but a few planted odd names
        nama=pl.when(k == 18).then(pl.lit("A"))
        .when(k == 19).then(pl.lit("SITI?"))
        .when(k == 20).then(pl.lit("Ñoño d'Árc-Ủy, Jr."))
        .otherwise(pl.lit("PEMILIH ") + pl.col("r").cast(pl.String)
                   .str.replace_many(list("0123456789"), list("ABCDEFGHIJ"))),
        tempat_lahir=pl.lit("Kota"),
        tanggal_lahir="born", jenis_kelamin="jenis_kelamin", status_kawin="status_kawin",
        alamat=pl.lit("Jl. Contoh"), rt=pl.lit("001"), rw=pl.lit("002"),
        disabilitas=pl.lit(0, pl.Int8),
        kode_desa="kode_desa", no_tps="no_tps", status_coklit="status_coklit",
        kode_tms="kode_tms", dokumen_tms="dokumen_tms",
        id_pantarlih=pl.col("kode_desa") + "-" + pl.col("no_tps").cast(pl.String),
        waktu_coklit=pl.when(pl.col("status_coklit") != "BELUM")
        .then(pl.lit(datetime(2024, 6, 30, 9, tzinfo=UTC))),
    )  # fmt: skip
    tables = tps_and_officers(p, wilayah, T1, seed)
    return tables, p


def tps_and_officers(
    p: pl.DataFrame, wilayah: pl.DataFrame, tanggal: date, seed: int
) -> dict[str, pl.DataFrame]:
    """TPS 1-5 of every desa (counts from the records, a few planted errors), officers."""
    per = p.group_by("kode_desa", "no_tps").agg(
        turun=pl.col("status_coklit").is_in(["BELUM", "MS", "UBAH", "TMS"]).sum(),
        coklit=(pl.col("status_coklit") != "BELUM").sum(),
    )
    tps = (
        wilayah.select("kode_desa")
        .join(pl.DataFrame({"no_tps": [1, 2, 3, 4, 5]}, schema={"no_tps": pl.Int32}), how="cross")
        .join(per, on=["kode_desa", "no_tps"], how="left")
        .fill_null(0)
        .with_row_index("t")
    )
    tps = tps.with_columns(
        jumlah_diturunkan=(pl.col("turun") - pl.when(pl.col("t") % 300 == 1).then(1).otherwise(0))
        .clip(0)
        .cast(pl.Int64)
    )
    dibuat = datetime.combine(tanggal, datetime.min.time(), tzinfo=WIB) + timedelta(hours=23)
    sync = dibuat - timedelta(hours=2)
    off = tps.select(
        "t", "kode_desa", "no_tps", app=pl.col("coklit") + pl.when(pl.col("t") % 250 == 2)
        .then(3).otherwise(0)
    )  # fmt: skip
    # large TPS (t % 7 == 0) have two officers sharing the counter
    two = off.filter(pl.col("t") % 7 == 0)
    officers = pl.concat(
        [
            off.with_columns(
                id_pantarlih=pl.col("kode_desa") + "-" + pl.col("no_tps").cast(pl.String),
                app=pl.when(pl.col("t") % 7 == 0).then(pl.col("app") // 2).otherwise("app"),
            ),
            two.with_columns(
                id_pantarlih=pl.col("kode_desa") + "-" + pl.col("no_tps").cast(pl.String) + "b",
                app=pl.col("app") - pl.col("app") // 2,
            ),
        ]
    )
    officers = officers.select(
        "id_pantarlih", "kode_desa", "no_tps",
        terakhir_login=pl.when(pl.col("t") % 400 == 3).then(None).otherwise(pl.lit(sync)),
        terakhir_sinkron=pl.when(pl.col("t") % 400 == 3).then(None)
        .when(pl.col("t") % 400 == 4).then(pl.lit(sync - timedelta(days=3)))
        .when(pl.col("t") % 400 == 5).then(None).otherwise(pl.lit(sync)),
        jumlah_tercoklit_app=pl.col("app").cast(pl.Int64),
    )  # fmt: skip
    return {"wilayah": wilayah, "tps": tps.select("kode_desa", "no_tps", "jumlah_diturunkan"),
            "pantarlih": officers}  # fmt: skip


def generate_night2(
    tables1: dict[str, pl.DataFrame], p1: pl.DataFrame
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame]:
    """Night 2: coklit goes on; some records vanish, some change status wrongly, one desa drops."""
    r = pl.int_range(0, pl.len())
    p = p1.with_row_index("i").with_columns(k=pl.col("i") % 997)
    p = p.filter(pl.col("k") != 5)  # deleted records
    st = pl.col("status_coklit")
    p = p.with_columns(
        status_coklit=pl.when((pl.col("k") == 11) & (st == "BELUM")).then(pl.lit("MS"))
        .when((pl.col("k") == 21) & (st == "MS")).then(pl.lit("BELUM"))
        .when((pl.col("k") == 31) & (st == "BELUM")).then(pl.lit("BARU"))
        .when((pl.col("k") == 41) & (st == "TMS") & (pl.col("kode_tms") == 1)).then(pl.lit("MS"))
        .otherwise(st),
    ).with_columns(
        kode_tms=pl.when(st != "TMS").then(None).otherwise(pl.col("kode_tms")),
        dokumen_tms=pl.when(st != "TMS").then(None).otherwise(pl.col("dokumen_tms")),
    )  # fmt: skip
    # a desa where 10 % are struck as moved overnight
    first_desa = p["kode_desa"].sort()[len(p) // 2]
    hit = (pl.col("kode_desa") == first_desa) & (st != "TMS") & (r % 10 == 0)
    p = p.with_columns(
        status_coklit=pl.when(hit).then(pl.lit("TMS")).otherwise(st),
        kode_tms=pl.when(hit).then(pl.lit(4, pl.Int16)).otherwise(pl.col("kode_tms")),
    ).drop("i", "k")
    tables = tps_and_officers(p, tables1["wilayah"], T2, 8)
    # jumlah_diturunkan is fixed at the start of coklit: keep night 1's
    tables["tps"] = tables1["tps"]
    return tables, p


# --- the plain SQL cross-check ------------------------------------------------------------

PROV_RE = "(" + "|".join(PROVINCE_CODES) + ")"
NIK_RE = PROV_RE + "[0-9]{4}(0[1-9]|[12][0-9]|3[01]|4[1-9]|[56][0-9]|7[01])(0[1-9]|1[0-2])[0-9]{6}"

JUNK_RE = "|".join(f"{d}{{16}}" for d in "0123456789")

CROSS_CHECK_SQL = f"""
WITH cur AS (SELECT * FROM pemilih WHERE tanggal_ekspor = $t),
prev AS (
  SELECT * FROM pemilih WHERE tanggal_ekspor = $l AND list_contains($both, substr(kode_desa, 1, 2))
),
v AS (
  SELECT *,
    coalesce(regexp_full_match(nik, '{NIK_RE}') AND substr(nik, 13, 4) <> '0000'
             AND NOT regexp_full_match(nik, '{JUNK_RE}'),
             FALSE) AS nik_ok
  FROM cur
)
SELECT 'NIK_TIDAK_VALID' AS kode, id_pemilih AS kunci FROM v WHERE NOT nik_ok
UNION ALL
SELECT 'NIK_TIDAK_SESUAI', id_pemilih FROM v WHERE nik_ok AND NOT (
  (tanggal_lahir IS NULL OR (substr(nik, 9, 4) = strftime(tanggal_lahir, '%m%y')
      AND CAST(substr(nik, 7, 2) AS INT) IN (day(tanggal_lahir), day(tanggal_lahir) + 40)))
  AND (jenis_kelamin IS NULL OR jenis_kelamin NOT IN ('L', 'P')
       OR (jenis_kelamin = 'P') = (CAST(substr(nik, 7, 2) AS INT) > 40)))
UNION ALL
SELECT 'NKK_TIDAK_VALID', id_pemilih FROM cur
WHERE NOT coalesce(regexp_full_match(nkk, '{PROV_RE}[0-9]{{14}}'), FALSE)
UNION ALL
SELECT 'GANDA_ID', id_pemilih FROM cur GROUP BY id_pemilih HAVING count(*) > 1
UNION ALL
SELECT 'TPS_TIDAK_DIKENAL', c.id_pemilih FROM cur c
WHERE NOT EXISTS (SELECT 1 FROM tps t WHERE t.tanggal_ekspor = $t
                  AND t.kode_desa = c.kode_desa AND t.no_tps = c.no_tps)
UNION ALL
SELECT 'KK_TERPISAH', c.id_pemilih FROM cur c
JOIN (SELECT kode_desa, nkk FROM cur WHERE status_coklit <> 'TMS' AND nkk <> ''
      GROUP BY ALL HAVING min(no_tps) <> max(no_tps)) f USING (kode_desa, nkk)
WHERE c.status_coklit <> 'TMS'
UNION ALL
SELECT 'USIA_BELUM_CUKUP', id_pemilih FROM cur
WHERE status_coklit <> 'TMS' AND (status_kawin = 'B' OR status_kawin IS NULL)
  AND date_add(tanggal_lahir, INTERVAL ($usia) YEAR) > $hari
UNION ALL
SELECT 'TMS_TIDAK_SESUAI', id_pemilih FROM cur
WHERE (status_coklit = 'TMS' AND kode_tms = 3 AND (status_kawin IN ('S', 'P')
         OR date_add(tanggal_lahir, INTERVAL ($usia) YEAR) <= $hari))
   OR (status_coklit = 'TMS' AND (kode_tms IS NULL OR NOT list_contains($valid, kode_tms)))
   OR (status_coklit <> 'TMS' AND kode_tms IS NOT NULL)
UNION ALL
SELECT 'TMS_TANPA_DOKUMEN', id_pemilih FROM cur
WHERE kode_tms = 1 AND coalesce(trim(dokumen_tms), '') = ''
UNION ALL
SELECT DISTINCT 'DATA_TIDAK_VALID', c.id_pemilih FROM cur c
WHERE c.kode_desa IS NULL OR {{unreadable}}
   OR NOT regexp_full_match(c.kode_desa, '[0-9]{{10}}')
   OR c.kode_desa NOT IN (SELECT kode_desa FROM wilayah WHERE tanggal_ekspor = (
        SELECT max(tanggal_ekspor) FROM wilayah WHERE tanggal_ekspor <= $t))
   OR c.status_coklit IS NULL OR c.status_coklit NOT IN ('BELUM', 'MS', 'UBAH', 'BARU', 'TMS')
   OR c.jenis_kelamin IS NULL OR c.jenis_kelamin NOT IN ('L', 'P')
   OR c.status_kawin IS NULL OR c.status_kawin NOT IN ('B', 'S', 'P')
   OR c.tanggal_lahir IS NULL OR c.disabilitas IS NULL OR c.disabilitas NOT BETWEEN 0 AND 6
UNION ALL
SELECT 'NAMA_TIDAK_WAJAR', id_pemilih FROM cur
WHERE status_coklit <> 'TMS'
  AND (nama IS NULL OR NOT regexp_matches(nama, '(?s)\\p{{L}}.*\\p{{L}}')
       OR regexp_matches(nama, '[^\\p{{L}}\\p{{M}} ''.,-]'))
UNION ALL
SELECT 'USIA_TIDAK_WAJAR', id_pemilih FROM cur
WHERE status_coklit <> 'TMS' AND date_add(tanggal_lahir, INTERVAL ($usia_maks) YEAR) <= $hari
UNION ALL
SELECT 'TMS_8_TANPA_PENGGANTI', a.id_pemilih FROM cur a
WHERE a.kode_tms = 8 AND NOT EXISTS (
  SELECT 1 FROM cur b WHERE b.nik = a.nik AND b.kode_desa = a.kode_desa
    AND b.status_coklit <> 'TMS' AND b.no_tps <> a.no_tps)
UNION ALL
SELECT DISTINCT 'STATUS_TIDAK_WAJAR', c.id_pemilih FROM cur c JOIN prev p USING (id_pemilih)
WHERE (p.status_coklit = 'TMS' AND p.kode_tms = 1 AND c.status_coklit <> 'TMS')
   OR (c.status_coklit = 'BELUM' AND p.status_coklit <> 'BELUM')
   OR (c.status_coklit = 'BARU' AND p.status_coklit <> 'BARU')
UNION ALL
SELECT 'DATA_HILANG', p.id_pemilih FROM prev p ANTI JOIN cur c USING (id_pemilih)
UNION ALL
SELECT kode, kode_desa || ':' || no_tps FROM (
  SELECT t.kode_desa, t.no_tps, t.jumlah_diturunkan,
         count(c.id_pemilih) FILTER (WHERE c.status_coklit <> 'TMS') AS aktif,
         count(c.id_pemilih) FILTER (WHERE c.status_coklit <> 'BARU') AS turun,
         count(c.id_pemilih) FILTER (WHERE c.status_coklit <> 'BELUM') AS dicoklit,
         (SELECT sum(jumlah_tercoklit_app) FROM pantarlih o WHERE o.tanggal_ekspor = $t
            AND o.kode_desa = t.kode_desa AND o.no_tps = t.no_tps) AS app
  FROM tps t LEFT JOIN cur c ON c.kode_desa = t.kode_desa AND c.no_tps = t.no_tps
  WHERE t.tanggal_ekspor = $t AND list_contains($now, substr(t.kode_desa, 1, 2))
  GROUP BY t.kode_desa, t.no_tps, t.jumlah_diturunkan
) x, LATERAL (
  SELECT 'TPS_MELEBIHI_KAPASITAS' AS kode WHERE x.aktif > $maks
  UNION ALL SELECT 'PROGRES_MELEBIHI_DATA' WHERE x.turun > x.jumlah_diturunkan
  UNION ALL SELECT 'JUMLAH_TIDAK_SESUAI' WHERE x.app IS NOT NULL AND x.app <> x.dicoklit
)
UNION ALL
SELECT 'PENURUNAN_TAJAM', kode_desa FROM (
  SELECT kode_desa, count(*) FILTER (WHERE status_coklit <> 'TMS') AS n FROM prev GROUP BY 1
) a LEFT JOIN (
  SELECT kode_desa, count(*) FILTER (WHERE status_coklit <> 'TMS') AS n FROM cur GROUP BY 1
) b USING (kode_desa)
WHERE a.n > 0 AND 100 * (a.n - coalesce(b.n, 0)) > $ambang * a.n
UNION ALL
SELECT 'PANTARLIH_BELUM_LOGIN', id_pantarlih FROM pantarlih
WHERE tanggal_ekspor = $t AND terakhir_login IS NULL
UNION ALL
SELECT 'PANTARLIH_BELUM_SINKRON', id_pantarlih FROM pantarlih
WHERE tanggal_ekspor = $t AND terakhir_login IS NOT NULL
  AND (terakhir_sinkron IS NULL OR terakhir_sinkron < $dibuat - INTERVAL ($jam) HOUR)
"""


def cross_check(con: Any, tanggal: date, settings: Settings) -> pl.DataFrame:
    from coklit_dq.rules import load_catalog

    cat = load_catalog()
    lalu = warehouse.previous_night(con, tanggal)
    now = warehouse.loaded_provinces(con, tanggal)
    both = sorted(set(now) & set(warehouse.loaded_provinces(con, lalu))) if lalu else []
    dibuat = con.execute("SELECT dibuat FROM runs WHERE tanggal_ekspor = ?", [tanggal]).fetchall()
    e = settings.election
    params = {
        "t": tanggal, "l": lalu, "both": both, "now": now, "usia": e.usia_minimum,
        "hari": e.hari_pemungutan, "valid": list(e.kode_tms_valid),
        "maks": e.maks_pemilih_per_tps, "dibuat": dibuat[0][0],
        "ambang": cat["PENURUNAN_TAJAM"].parameter["ambang_persen"],
        "jam": cat["PANTARLIH_BELUM_SINKRON"].parameter["batas_jam"],
        "usia_maks": cat["USIA_TIDAK_WAJAR"].parameter["usia_tertinggi"],
    }  # fmt: skip
    cols = {r[0] for r in con.execute("SELECT name FROM pragma_table_info('pemilih')").fetchall()}
    # the ingest's column of values it could not read (absent in older warehouses)
    unreadable = "c.nilai_tidak_valid IS NOT NULL" if "nilai_tidak_valid" in cols else "FALSE"
    query = CROSS_CHECK_SQL.replace("{unreadable}", unreadable)
    sql = f"SELECT DISTINCT kode AS kode_temuan, kunci FROM ({query})"
    return pl.from_arrow(con.execute(sql, params).to_arrow_table())  # type: ignore[return-value]


# --- the run --------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def timed_cpu(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Wall time and CPU time of this process (all threads): the CPU time does not
    grow when other processes compete for the cores, the wall time does."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def build(workdir: Path, voters: int, generator: str) -> tuple[Path, str]:
    from coklit_dq.simulate.writer import write_night

    source = workdir / "export"
    if generator in ("auto", "sim"):
        try:
            from coklit_dq.simulate import simulate  # type: ignore[attr-defined]
        except ImportError:
            if generator == "sim":
                raise
        else:
            simulate(str(source), start=T1, nights=2, voters=voters, seed=7)  # see README
            return source, "coklit_dq.simulate"
    tables1, p1 = generate_night1(voters)
    tables2, p2 = generate_night2(tables1, p1)
    for tanggal, tables, p in ((T1, tables1, p1), (T2, tables2, p2)):
        per_prov = {k[0]: df for k, df in p.partition_by("kode_desa", as_dict=True).items()}
        by_prov = p.with_columns(_prov=pl.col("kode_desa").str.slice(0, 2)).partition_by(
            "_prov", as_dict=True, include_key=False
        )
        del per_prov
        dibuat = datetime.combine(tanggal, datetime.min.time(), tzinfo=WIB) + timedelta(hours=23)
        write_night(str(source), tanggal, tables, {k[0]: v for k, v in by_prov.items()},
                    dibuat=dibuat)  # fmt: skip
    return source, "benchmarks/bench_rules.py generator"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--generator", choices=("auto", "sim", "own"), default="auto")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each side")
    ap.add_argument("--reuse", action="store_true",
                    help="with --workdir: use the nights already ingested there")  # fmt: skip
    args = ap.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_rules_"))
    settings = resolve_settings(warehouse=str(workdir / "wh.duckdb"),
                                outbox=str(workdir / "outbox"))  # fmt: skip
    try:
        from coklit_dq.ingest import ingest_night
        from coklit_dq.rules import load_catalog, run_rules

        source = workdir / "export"
        if args.reuse and Path(settings.warehouse).exists():
            con = warehouse.connect(settings.warehouse)
            print(f"reusing the nights ingested in {settings.warehouse}")
        else:
            (source, gen), t_gen = timed(lambda: build(workdir, args.voters, args.generator))
            print(f"generated {args.voters:,} voters x 2 nights with {gen} in {t_gen:.1f} s")
            con = warehouse.connect(settings.warehouse)
            for tanggal in (T1, T2):
                res, t_ing = timed(lambda d=tanggal: ingest_night(con, str(source), d, settings))
                con.execute("UPDATE runs SET state = 'done' WHERE tanggal_ekspor = ?", [tanggal])
                print(f"ingest {tanggal}: {t_ing:.1f} s, quarantined: {len(res.quarantined)}")
        n = con.execute("SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ?", [T2]).fetchall()
        print(f"night {T2}: {n[0][0]:,} records")
        import great_expectations  # noqa: F401  (import cost is not validation)

        run_rules(con, T1, settings)  # warm-up (first-night path)
        load0 = loadavg()
        # The machine is shared: run both sides `--repeat` times, interleaved, and
        # compare the best times (the least disturbed run of each).
        t_rules_all, t_sql_all, c_rules_all, c_sql_all = [], [], [], []
        for _ in range(args.repeat):
            ours, t, c = timed_cpu(lambda: run_rules(con, T2, settings))
            t_rules_all.append(t)
            c_rules_all.append(c)
            ref, t, c = timed_cpu(lambda: cross_check(con, T2, settings))
            t_sql_all.append(t)
            c_sql_all.append(c)
        t_rules, t_sql = min(t_rules_all), min(t_sql_all)
        c_rules, c_sql = min(c_rules_all), min(c_sql_all)
        ours_set = set(ours.select("kode_temuan", "kunci").iter_rows())
        ref_set = set(ref.iter_rows())
        by_code = ours.group_by("kode_temuan").len().sort("kode_temuan")
        for kode, count in by_code.iter_rows():
            print(f"  {kode:<26} {count:>7,}")
        missing, extra = ref_set - ours_set, ours_set - ref_set
        print(f"findings: pipeline {len(ours_set):,}, plain SQL {len(ref_set):,}")
        runs = ", ".join(f"{t:.2f}" for t in t_rules_all)
        print(f"run_rules (prepare + Great Expectations + render): best {t_rules:.2f} s ({runs})")
        runs = ", ".join(f"{t:.2f}" for t in t_sql_all)
        print(f"plain DuckDB SQL cross-check:                       best {t_sql:.2f} s ({runs})")
        print(f"ratio (best/best): {t_rules / t_sql:.2f}x")
        paired = sorted(a / b for a, b in zip(t_rules_all, t_sql_all, strict=True))
        print(f"ratio of each interleaved pair, median: {paired[len(paired) // 2]:.2f}x "
              f"({', '.join(f'{r:.2f}' for r in paired)})")  # fmt: skip
        print(f"CPU time, best: run_rules {c_rules:.2f} s, plain SQL {c_sql:.2f} s, "
              f"ratio {c_rules / c_sql:.2f}x")  # fmt: skip
        print(f"load average (1/5/15 min) at the start: {load0}, at the end: {loadavg()} "
              f"on {os.cpu_count()} CPUs")  # fmt: skip
        print(f"peak memory (RSS): {peak_rss_mb():,.0f} MB")
        con.close()
        if missing or extra:
            print(f"MISMATCH: only in plain SQL {sorted(missing)[:10]}, "
                  f"only in pipeline {sorted(extra)[:10]}")  # fmt: skip
            return 1
        codes = {k for k, _ in ours_set}
        print(f"finding sets equal ({len(codes)} codes present)")
        truth_file = source / "_truth" / f"temuan-{T2}.parquet"
        if truth_file.exists():  # the simulator's own list of what it planted
            truth = pl.read_parquet(truth_file).filter(
                pl.col("kode_temuan").is_in(  # the codes the rules check (not linkage's)
                    [k for k, r in load_catalog().items() if "periksa" in r.spec]
                )
            )
            t_set = set(truth.select("kode_temuan", "kunci").iter_rows())
            print(
                f"simulator truth: {len(t_set):,} planted; not found {len(t_set - ours_set)} "
                f"{sorted(t_set - ours_set)[:5]}; found but not planted {len(ours_set - t_set)} "
                f"{sorted(ours_set - t_set)[:5]}"
            )
        return 0
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
