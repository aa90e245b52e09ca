"""Pages for Pusdatin beside the national page (nasional/…): what to drill into.

    proses.html   the night's run record: the run, every file used or set aside with
                  its reason (names and reasons masked), timings the warehouse holds
    kamus.html    data dictionary: every published column and value (publish.glossary),
                  every finding code from the catalog
    tautan.html   a sample of tonight's GANDA_ORANG pairs with Splink's own charts
                  (publish.tautan)
and where the night's Great Expectations Data Docs are (`data_docs_index`).
All values are ids, codes, counts and masked reasons: no name, nik or address.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from coklit_dq.config import Settings
from coklit_dq.ingest.quarantine import shown_name
from coklit_dq.publish import glossary
from coklit_dq.publish.data import _reason_message


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]
        ).fetchall()[0][0]
    )


def data_docs_index(settings: Settings, tanggal: date) -> Path | None:
    """The night's Data Docs index (written by the rules stage, `rules.datadocs_dir`)."""
    from coklit_dq.rules.engine import datadocs_dir

    folder = datadocs_dir(settings)
    if folder is None:
        return None
    index = folder / tanggal.isoformat() / "index.html"
    return index.resolve() if index.is_file() else None


# the night's steps (pipeline.STEPS) as a Pusdatin engineer reads them
LANGKAH = {
    "ingest": "membaca dan memuat berkas ekspor (ingest)",
    "validate": "memeriksa aturan dengan Great Expectations (validate)",
    "link": "mencari data ganda dengan Splink (link)",
    "diff": "membandingkan dengan malam sebelumnya (diff)",
    "tanggapan": "membaca tanggapan wilayah (tanggapan)",
    "publish": "menerbitkan daftar dan halaman (publish)",
    "notify": "mengirim surel ke wilayah (notify)",
}


def run_record(con: duckdb.DuckDBPyConnection, tanggal: date) -> dict[str, Any]:
    """The night's runs row, its files and the timings the warehouse holds."""
    con.complete()
    run = con.execute(
        "SELECT started_at, finished_at, state, dibuat FROM runs WHERE tanggal_ekspor = ?",
        [tanggal],
    ).fetchall()
    files = con.execute(
        "SELECT path, coalesce(tabel, '-'), coalesce(kode_prov, '-'), rows, state, reason "
        "FROM files WHERE tanggal_ekspor = ? ORDER BY state DESC, path",
        [tanggal],
    ).fetchall()
    timings: list[tuple[str, str, str]] = []
    if _has_table(con, "langkah_malam"):  # written by pipeline.timed as each step ends
        started = run[0][0] if run else None
        for step, detik, hasil in con.execute(
            "SELECT langkah, detik, hasil FROM langkah_malam WHERE tanggal_ekspor = ? "
            "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR selesai >= ?) ORDER BY selesai",
            [tanggal, started, started],
        ).fetchall():
            hasil_id = {"done": "selesai", "failed": "gagal"}.get(hasil, hasil)
            timings.append((LANGKAH.get(step, step), _detik(detik), hasil_id))
    if _has_table(con, "link_malam"):
        for mode, detik in con.execute(
            "SELECT mode, detik FROM link_malam WHERE tanggal_ekspor = ?", [tanggal]
        ).fetchall():
            mode_id = {"full": "semua data", "incremental": "data yang berubah"}.get(mode, mode)
            timings.append((f"  di dalamnya: skor Splink ({mode_id})", _detik(detik), ""))
    return {
        "run": run[0] if run else None,
        "files": [
            (
                shown_name(p),  # the warehouse keeps the name as received: the export's text
                t,
                k,
                r,
                "dipakai" if s == "used" else "dikarantina",
                _reason_message(why) or "",
            )
            for p, t, k, r, s, why in files
        ],
        "timings": timings,
    }


def _detik(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f} detik".replace(".", ",")


def dictionary() -> dict[str, Any]:
    return {
        "kolom": list(glossary.KOLOM.items()),
        "nilai": glossary.NILAI,
        "kode": glossary.codes(),
    }
