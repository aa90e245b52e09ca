"""A small warehouse filled directly (no other stage): two nights, two provinces.

Snapshots come from flow_fixtures.night_tables; agregat_desa is computed here
in SQL; findings are planted per night with a simple lifecycle (BARU /
BERULANG / resolved), including a duplicate cluster across two kabupaten and
texts that carry a full nik the way a careless producer might write them.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
from flow_fixtures import night_tables

from coklit_dq import warehouse
from coklit_dq.findings import complete_findings
from coklit_dq.privacy import mask_id

N1, N2 = date(2024, 7, 1), date(2024, 7, 2)
HARI_PEMUNGUTAN = date(2024, 11, 27)
SNAPSHOTS = ("wilayah", "tps", "pantarlih")


def load_night(
    con: duckdb.DuckDBPyConnection,
    tanggal: date,
    *,
    drop: int = 0,
    quarantine: tuple[str, ...] = (),
    voters: int = 1200,
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame]]:
    """Snapshots, files, runs and agregat_desa of one night, as ingest would leave them."""
    tables, pem = night_tables(tanggal, voters=voters, drop=drop)
    day = pl.lit(tanggal).alias("tanggal_ekspor")
    for name in SNAPSHOTS:
        frame = tables[name].with_columns(day)
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
    con.execute("INSERT INTO runs (tanggal_ekspor, state) VALUES (?, 'done')", [tanggal])
    for prov, frame in pem.items():
        state = "quarantined" if prov in quarantine else "used"
        reason = json.dumps({"message": "sha256 tidak cocok dengan manifest", "line": None})
        con.execute(
            "INSERT INTO files VALUES (?, ?, 'pemilih', ?, ?, ?, ?)",
            [
                tanggal,
                f"pemilih/{prov}.parquet",
                prov,
                frame.height,
                state,
                reason if state == "quarantined" else None,
            ],
        )
        if state == "used":
            rows = frame.with_columns(day, baris=pl.int_range(1, frame.height + 1))  # noqa: F841
            con.execute("INSERT INTO pemilih BY NAME SELECT * FROM rows")
    con.execute(
        """
        INSERT INTO agregat_desa
        WITH p AS (
          SELECT kode_desa, count(*) AS n_rekaman,
            count(*) FILTER (status_coklit = 'BELUM') AS n_belum,
            count(*) FILTER (status_coklit = 'MS') AS n_ms,
            count(*) FILTER (status_coklit = 'UBAH') AS n_ubah,
            count(*) FILTER (status_coklit = 'BARU') AS n_baru,
            count(*) FILTER (status_coklit = 'TMS') AS n_tms,
            count(*) FILTER (status_coklit <> 'TMS') AS n_aktif,
            count(*) FILTER (status_coklit <> 'BARU') AS n_diturunkan
          FROM pemilih WHERE tanggal_ekspor = $1 GROUP BY 1
        ), t AS (
          SELECT kode_desa, sum(jumlah_diturunkan) AS jd, count(*) AS n_tps
          FROM tps WHERE tanggal_ekspor = $1 GROUP BY 1
        )
        SELECT $1, w.kode_prov, w.kode_kab, w.kode_kec, p.kode_desa, n_rekaman, n_belum, n_ms,
               n_ubah, n_baru, n_tms, n_aktif, n_diturunkan, t.jd, t.n_tps
        FROM p JOIN wilayah w ON w.kode_desa = p.kode_desa AND w.tanggal_ekspor = $1
        LEFT JOIN t ON t.kode_desa = p.kode_desa
        """,
        [tanggal],
    )
    return tables, pem


def _region(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        kode_prov=pl.col("kode_desa").str.slice(0, 2),
        kode_kab=pl.col("kode_desa").str.slice(0, 4),
        kode_kec=pl.col("kode_desa").str.slice(0, 6),
    )


def raw_findings(pem: dict[str, pl.DataFrame], tanggal: date) -> pl.DataFrame:
    """Findings of a night, RAW_FINDING_SCHEMA-like, planted on the night's records."""
    p = pl.concat([pem[k] for k in sorted(pem)])
    # every 40th record: a nik "not valid" whose text carries the FULL nik
    bad = p.filter(pl.col("id_pemilih").str.slice(4).cast(pl.Int64) % 40 == 0)
    if tanggal == N2:  # some resolved tonight, some new
        bad = bad.filter(pl.col("id_pemilih").str.slice(4).cast(pl.Int64) % 80 != 0)
        bad = pl.concat([bad, p.filter(pl.col("id_pemilih").str.slice(4).cast(pl.Int64) % 97 == 1)])
    nik_bad = bad.select(
        kode_temuan=pl.lit("NIK_TIDAK_VALID"),
        tingkat=pl.lit("TINGGI"),
        kode_desa="kode_desa",
        no_tps="no_tps",
        id_pemilih="id_pemilih",
        id_pantarlih="id_pantarlih",
        id_kelompok=pl.lit(None, pl.String),
        keterangan=pl.lit("NIK ")
        + pl.col("nik")
        + pl.lit(" (NKK ")
        + pl.col("nkk")
        + pl.lit(") tidak valid: bagian tanggal tidak mungkin."),
        kunci="id_pemilih",
    )
    parts = [nik_bad, _ganda(p), _tps_and_officer(p)]
    out = pl.concat([x for x in parts if x is not None], how="vertical_relaxed")
    # kabupaten 3271 is kept free of findings (its page must say so)
    return _region(out).filter(pl.col("kode_desa").str.slice(0, 4) != "3271")


def _ganda(p: pl.DataFrame) -> pl.DataFrame | None:
    """A duplicate cluster across 3101 and 3171 (same nik planted on both)."""
    pair = p.filter(pl.col("id_pemilih").is_in(["P31-0000000", "P31-0000012"])).sort("id_pemilih")
    if pair.height < 2:
        return None
    a, b = pair.row(0, named=True), pair.row(1, named=True)
    assert a["kode_desa"][:4] == "3101" and b["kode_desa"][:4] == "3171"
    return pl.DataFrame(
        {
            "kode_temuan": ["GANDA_NIK"] * 2,
            "tingkat": ["TINGGI"] * 2,
            "kode_desa": [a["kode_desa"], b["kode_desa"]],
            "no_tps": [a["no_tps"], b["no_tps"]],
            "id_pemilih": [a["id_pemilih"], b["id_pemilih"]],
            "id_pantarlih": [a["id_pantarlih"], b["id_pantarlih"]],
            "id_kelompok": ["GANDA-31-0001"] * 2,
            "keterangan": [
                f"NIK {mask_id(a['nik'])} juga terdaftar di {o[:4]} (desa {o}).\n"
                "Pastikan hanya satu yang aktif."
                for o in (b["kode_desa"], a["kode_desa"])
            ],
            "kunci": [
                f"{a['id_pemilih']}|{b['id_pemilih']}",
                f"{b['id_pemilih']}|{a['id_pemilih']}",
            ],
        },
        schema_overrides={"no_tps": pl.Int32},
    )


def _tps_and_officer(p: pl.DataFrame) -> pl.DataFrame:
    desa = sorted(p["kode_desa"].unique().to_list())
    return pl.DataFrame(
        {
            "kode_temuan": ["TPS_MELEBIHI_KAPASITAS", "PANTARLIH_BELUM_LOGIN"],
            "tingkat": ["SEDANG", "SEDANG"],
            "kode_desa": [desa[0], desa[-1]],
            "no_tps": [1, 2],
            "id_pemilih": [None, None],
            "id_pantarlih": [None, f"{desa[-1]}-2"],
            "id_kelompok": [f"{desa[0]}:1", None],
            "keterangan": [
                "TPS 1 berisi 700 pemilih aktif; maksimum 600.",
                "Pantarlih belum pernah login; hubungi, pastikan akun aktif.",
            ],
            "kunci": [f"{desa[0]}:1", f"{desa[-1]}-2"],
        },
        schema_overrides={"no_tps": pl.Int32, "id_pemilih": pl.String},
    )


def record(con: duckdb.DuckDBPyConnection, tanggal: date, raw: pl.DataFrame) -> None:
    """A minimal lifecycle: BARU/BERULANG against the previous night, resolved ones.

    Rows are completed as the findings step does (whose record, who acts, prioritas)."""
    raw = complete_findings(con, tanggal, raw, HARI_PEMUNGUTAN)
    prev = con.execute(
        "SELECT max(tanggal_ekspor) FROM temuan WHERE tanggal_ekspor < ?", [tanggal]
    ).fetchall()[0][0]
    con.execute(
        """
        INSERT INTO temuan BY NAME
        SELECT r.* EXCLUDE (kunci), r.kunci, $1::DATE AS tanggal_ekspor,
               CASE WHEN p.kunci IS NULL THEN 'BARU' ELSE 'BERULANG' END AS status_temuan,
               coalesce(p.pertama_ditemukan, $1::DATE) AS pertama_ditemukan
        FROM raw r LEFT JOIN temuan p
          ON p.tanggal_ekspor = $2 AND p.kode_temuan = r.kode_temuan AND p.kunci = r.kunci
        """,
        [tanggal, prev],
    )
    if prev is not None:
        con.execute(
            """
            INSERT INTO temuan_selesai BY NAME
            SELECT p.*, $1::DATE AS tanggal_selesai FROM temuan p
            WHERE p.tanggal_ekspor = $2 AND NOT EXISTS (
              SELECT 1 FROM temuan t WHERE t.tanggal_ekspor = $1
                AND t.kode_temuan = p.kode_temuan AND t.kunci = p.kunci)
            """,
            [tanggal, prev],
        )


def two_night_warehouse(path: Path, **night2: object) -> tuple[duckdb.DuckDBPyConnection, dict]:
    """Warehouse with N1 and N2 loaded and their findings recorded; returns N2's pemilih."""
    con = warehouse.connect(path)
    _, pem1 = load_night(con, N1)
    record(con, N1, raw_findings(pem1, N1))
    _, pem2 = load_night(con, N2, drop=6, **night2)  # type: ignore[arg-type]
    loaded = {k: v for k, v in pem2.items() if k not in night2.get("quarantine", ())}
    record(con, N2, raw_findings(loaded, N2))
    return con, pem2


# --- reading published files back ---------------------------------------------------


def file_text(path: Path) -> str:
    """Everything a published file says, as text: xlsx unzipped, parquet read."""
    data = path.read_bytes()
    if path.suffix == ".xlsx":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return "\n".join(z.read(n).decode("utf-8") for n in z.namelist())
    if path.suffix == ".parquet":
        df = pl.read_parquet(io.BytesIO(data))
        return df.select(pl.all().cast(pl.String)).write_csv()
    return data.decode("utf-8")
