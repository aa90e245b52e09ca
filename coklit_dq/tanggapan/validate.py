"""Rows of one response file -> (applied, set aside), checked against the warehouse.

A row names a finding of the list it answers (the night in its path) by
kode_temuan and the unit columns as published; it is applied only when it names
exactly one finding of that night whose kode_kab is the file's (the path decides
the region, never the file's content). Everything else is set aside row by row
with the column at fault and the reason, in Bahasa Indonesia, without the
row's values (they are hostile and may hold personal data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from coklit_dq.privacy import register_mask_macro
from coklit_dq.tanggapan.reader import Row
from coklit_dq.tanggapan.units import UNIT_COLUMNS, unit_of

ANSWERS = ("SUDAH_DIPERBAIKI", "BUKAN_MASALAH", "PERLU_BANTUAN")
MATCH_COLUMNS = ("id_pemilih", "id_pantarlih", "kode_desa", "no_tps", "id_kelompok")
# ASCII digits only (str.isdigit() also takes '²' and other digits int() refuses), and
# a bound far above any TPS number of a desa that still fits every integer type
NO_TPS = re.compile(r"[0-9]{1,6}")


@dataclass
class Applied:
    row: Row
    tanggapan: str
    kode_prov: str
    kode_kab: str
    kunci: str
    unit: dict[str, str | None]  # the finding's unit columns, from the warehouse


@dataclass
class SetAside:
    row: Row
    kolom: str
    alasan: str


def normal_answer(value: str) -> str:
    """' sudah diperbaiki ' -> 'SUDAH_DIPERBAIKI'."""
    return "_".join(value.upper().split()).replace("-", "_")


def _row_faults(row: Row) -> list[SetAside]:
    v = row.values
    out = []
    answer = normal_answer(v["tanggapan"])
    if answer not in ANSWERS:
        out.append(
            SetAside(
                row,
                "tanggapan",
                "tanggapan tidak dikenal; isi SUDAH_DIPERBAIKI, BUKAN_MASALAH atau PERLU_BANTUAN",
            )
        )
    elif answer == "BUKAN_MASALAH" and not v["alasan"]:
        out.append(
            SetAside(row, "alasan", "alasan wajib diisi untuk BUKAN_MASALAH (di kolom alasan)")
        )
    kode = v["kode_temuan"].strip().upper()
    unit = unit_of().get(kode)
    if not kode:
        out.append(SetAside(row, "kode_temuan", "kode_temuan kosong"))
    elif unit is None:
        out.append(SetAside(row, "kode_temuan", "kode_temuan tidak dikenal"))
    else:
        for col in UNIT_COLUMNS[unit]:
            if not v[col]:
                out.append(SetAside(row, col, f"{col} kosong; wajib untuk temuan ini"))
    if v["no_tps"] and not NO_TPS.fullmatch(v["no_tps"]):
        out.append(SetAside(row, "no_tps", "no_tps bukan angka (paling banyak 6 digit)"))
    return out


def _frame(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "lokasi": [r.lokasi for r in rows],
            "kode_temuan": [r.values["kode_temuan"].strip().upper() for r in rows],
            **{c: [r.values[c] for r in rows] for c in MATCH_COLUMNS if c != "no_tps"},
            "no_tps": [int(r.values["no_tps"]) if r.values["no_tps"] else None for r in rows],
        },
        schema_overrides={"no_tps": pl.Int64},
    )


# An id_pemilih that is a nik (an export that uses the nik as the record's id) is
# published masked (publish.data.ID_COLUMNS): the answer names it as published.
MATCH_SQL = """
SELECT r.lokasi, t.kode_prov, t.kode_kab, t.kunci, t.id_pemilih, t.id_pantarlih, t.kode_desa,
       t.no_tps, t.id_kelompok
FROM _tanggapan_baris r
JOIN temuan t ON t.tanggal_ekspor = $tanggal AND t.kode_temuan = r.kode_temuan
 AND (r.id_pemilih = '' OR t.id_pemilih = r.id_pemilih
      OR (contains(r.id_pemilih, '*') AND mask_id(t.id_pemilih) = r.id_pemilih))
 AND (r.id_pantarlih = '' OR t.id_pantarlih = r.id_pantarlih)
 AND (r.kode_desa = '' OR t.kode_desa = r.kode_desa)
 AND (r.no_tps IS NULL OR t.no_tps = r.no_tps)
 AND (r.id_kelompok = '' OR t.id_kelompok = r.id_kelompok)
"""


def check_rows(
    con: duckdb.DuckDBPyConnection, rows: list[Row], tanggal_daftar: date, kode_kab: str
) -> tuple[list[Applied], list[SetAside]]:
    """Applied and set-aside rows of one file answering the list of `tanggal_daftar`."""
    aside: list[SetAside] = []
    ok: list[Row] = []
    for row in rows:
        faults = _row_faults(row)
        aside.extend(faults)
        if not faults:
            ok.append(row)
    if not ok:
        return [], aside
    register_mask_macro(con)  # MATCH_SQL's mask_id, whatever opened the connection
    con.register("_tanggapan_baris", _frame(ok).to_arrow())
    try:
        found = con.sql(MATCH_SQL, params={"tanggal": tanggal_daftar}).pl()
    finally:
        con.unregister("_tanggapan_baris")
    by_row = found.partition_by("lokasi", as_dict=True)
    applied: list[Applied] = []
    seen: dict[str, tuple[str, str]] = {}  # kode_temuan|kunci -> (answer, lokasi)
    for row in ok:
        cand = by_row.get((row.lokasi,))
        own = cand.filter(pl.col("kode_kab") == kode_kab) if cand is not None else None
        kode = row.values["kode_temuan"].strip().upper()
        unit_col = UNIT_COLUMNS[unit_of()[kode]][0]
        if own is None or own.is_empty():
            if cand is not None and not cand.is_empty():
                # not which one: a region sees only its own voters, and naming the region
                # of any id it types would tell where that voter is listed
                aside.append(SetAside(row, unit_col, "temuan milik wilayah lain"))
            else:
                aside.append(
                    SetAside(row, unit_col, "temuan ini tidak ada pada daftar malam tersebut")
                )
            continue
        if own.height > 1:
            aside.append(SetAside(row, unit_col, "baris ini menunjuk lebih dari satu temuan"))
            continue
        hit = own.row(0, named=True)
        answer = normal_answer(row.values["tanggapan"])
        key = f"{kode}|{hit['kunci']}"
        if key in seen:
            if seen[key][0] != answer:
                aside.append(
                    SetAside(
                        row,
                        "tanggapan",
                        f"tanggapan lain untuk temuan yang sama pada baris {seen[key][1]}",
                    )
                )
            else:  # the same answer twice in one file counts once; the second is kept
                aside.append(
                    SetAside(
                        row,
                        "tanggapan",
                        f"tanggapan yang sama untuk temuan ini sudah ada pada baris "
                        f"{seen[key][1]}; baris itu yang dipakai",
                    )
                )
            continue
        seen[key] = (answer, row.lokasi)
        applied.append(
            Applied(
                row=row,
                tanggapan=answer,
                kode_prov=hit["kode_prov"],
                kode_kab=hit["kode_kab"],
                kunci=hit["kunci"],
                unit={c: hit[c] for c in MATCH_COLUMNS},
            )
        )
    return applied, aside
