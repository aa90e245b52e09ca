"""Write one night of export-v1 (files + manifest) to any fsspec root.

Used by the simulator, by tests that build exact or broken drops, and by
benchmarks. Writing follows the contract to the letter: codes as strings,
ISO dates, ISO timestamps with offset, CSV.gz UTF-8 with one header row and
empty field = null, and a manifest with rows and sha256 of every file.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import fsspec
import polars as pl

from coklit_dq.contract import EXPORT_FORMAT, schema

# Timestamps in CSV carry their offset (export-v1); WIB is +07:00.
CSV_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%:z"
WIB = "Asia/Jakarta"
# gzip level of CSV.gz files: 1 is twice as fast as 5 on voter files, ~25 % larger.
CSV_GZIP_LEVEL = 1


@dataclass(frozen=True)
class WrittenFile:
    path: str  # relative to the night folder, e.g. "pemilih/32.parquet"
    rows: int
    sha256: str


def encode_table(df: pl.DataFrame, fmt: str) -> bytes:
    """The bytes of one export file in `fmt` ("parquet" or "csv.gz")."""
    if fmt == "parquet":
        buf = io.BytesIO()
        df.write_parquet(buf, compression="zstd", statistics=True)
        return buf.getvalue()
    if fmt == "csv.gz":
        out = df.with_columns(
            pl.col(c).dt.convert_time_zone(WIB)
            for c, t in df.schema.items()
            if isinstance(t, pl.Datetime) and t.time_zone is not None
        )
        text = out.write_csv(
            datetime_format=CSV_DATETIME_FORMAT, date_format="%Y-%m-%d", null_value=""
        )
        return gzip.compress(text.encode("utf-8"), compresslevel=CSV_GZIP_LEVEL, mtime=0)
    raise ValueError(f"unknown export format {fmt!r}; expected parquet or csv.gz")


def conform(table: str, df: pl.DataFrame) -> pl.DataFrame:
    """Select and cast the contract's columns of `table`, in contract order."""
    sch = schema(table)
    return df.select(pl.col(name).cast(dtype) for name, dtype in sch.items())


def write_file(root: str, tanggal: date, rel_path: str, data: bytes, **storage: Any) -> None:
    fs, base = fsspec.core.url_to_fs(root, **storage)
    target = f"{base.rstrip('/')}/{tanggal.isoformat()}/{rel_path}"
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    with fs.open(target, "wb") as fh:
        fh.write(data)


def write_night(
    root: str,
    tanggal: date,
    tables: Mapping[str, pl.DataFrame],
    pemilih: Mapping[str, pl.DataFrame],
    *,
    formats: Mapping[str, str] | None = None,
    dibuat: datetime | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> list[WrittenFile]:
    """Write `<root>/<tanggal>/` with manifest.json.

    `tables` holds wilayah, tps and pantarlih; `pemilih` one frame per kode_prov.
    `formats` maps a relative path stem ("tps", "pemilih/32") to its format;
    anything not named is Parquet. Each frame is looked up only when its file is
    written and dropped afterwards, so `pemilih` may build its frames on access
    (the simulator does, to hold one province at a time).
    """
    formats = dict(formats or {})
    storage = dict(storage_options or {})
    written: list[WrittenFile] = []
    stems = [(name, name, name) for name in ("wilayah", "tps", "pantarlih")]
    stems += [("pemilih", prov, f"pemilih/{prov}") for prov in sorted(pemilih)]
    for table, key, stem in stems:
        df = pemilih[key] if table == "pemilih" else tables[key]
        fmt = formats.get(stem, "parquet")
        data = encode_table(conform(table, df), fmt)
        rel = f"{stem}.{fmt}"
        write_file(root, tanggal, rel, data, **storage)
        written.append(WrittenFile(rel, df.height, hashlib.sha256(data).hexdigest()))
        del df, data
    manifest = {
        "format": EXPORT_FORMAT,
        "tanggal_ekspor": tanggal.isoformat(),
        "dibuat": (dibuat or datetime.combine(tanggal, datetime.min.time())).isoformat(),
        "files": [{"path": w.path, "rows": w.rows, "sha256": w.sha256} for w in written],
    }
    write_file(
        root, tanggal, "manifest.json", json.dumps(manifest, indent=1).encode("utf-8"), **storage
    )
    return written
