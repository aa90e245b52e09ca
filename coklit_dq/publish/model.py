"""The night as one object, and the figures of a region computed from it.

`Night.load` reads everything once; `kab_view`, `prov_view` and `nasional_view`
turn it into plain dicts and lists (a few hundred rows at most) that the
templates and the email render. All aggregation is done with polars
expressions over the night's frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import polars as pl

from coklit_dq import warehouse
from coklit_dq.bahasa import BULAN
from coklit_dq.contract import TINGKAT, code_expr
from coklit_dq.ingest.quarantine import shown_name
from coklit_dq.lifecycle import standing_findings
from coklit_dq.privacy import LINE_BREAKERS, one_line
from coklit_dq.publish import data
from coklit_dq.publish.data import FileState

COUNTS = ("n_rekaman", "jumlah_diturunkan", "n_tercoklit", "n_baru", "n_tms", "n_aktif")
# The region names of the export's wilayah table: a page's title, a workbook's, the
# greeting and subject of a region's mail. As hostile as any value of the export: masked
# like a finding's text, and on one line (a line break in a name would forge lines of
# the mail's body).
NAMES = ("nama_desa", "nama_kec", "nama_kab", "nama_prov")


def _on_one_line(df: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """`columns` of `df` with line breaks and control characters escaped (privacy.one_line),
    the few values that hold one rewritten in Python."""
    fixes = []
    for c in columns:
        broken = [v for v in df[c].unique().drop_nulls().to_list() if LINE_BREAKERS.search(v)]
        if broken:
            fixes.append(pl.col(c).replace({v: one_line(v) for v in broken}))
    return df.with_columns(fixes) if fixes else df


@dataclass
class Night:
    tanggal: date
    previous: date | None
    findings: pl.DataFrame
    resolved: pl.DataFrame
    wilayah: pl.DataFrame
    progress: pl.DataFrame
    history: pl.DataFrame
    prev_counts: pl.DataFrame
    catalog: pl.DataFrame
    files: dict[str, FileState]
    # changes to records of earlier nights that still stand (lifecycle.standing_findings)
    berlanjut: pl.DataFrame
    tanggapan: Any = None  # coklit_dq.tanggapan.TanggapanNight, set by publish_night
    # the findings answered out of the region lists (TanggapanNight.split), set with it
    ditandai: pl.DataFrame | None = None

    @classmethod
    def load(cls, con: duckdb.DuckDBPyConnection, tanggal: date, *, mask: bool) -> Night:
        previous = warehouse.previous_night(con, tanggal)
        found, done = data.findings(con, tanggal), data.resolved(con, tanggal)
        standing = standing_findings(con, tanggal).select(*found.columns, "tanggal_perubahan")
        wilayah = data.wilayah(con, tanggal)
        if mask:  # every text column, and the region names every page and mail shows
            text = [c for c, t in found.schema.items() if t == pl.String]
            frames = (found, done, standing)
            secrets = data.known_ids(
                con,
                [df[c] for df in frames for c in text] + [wilayah[c] for c in NAMES],
            )
            for c in text:
                found = data.mask_text(found, c, secrets=secrets)
                done = data.mask_text(done, c, secrets=secrets)
                standing = data.mask_text(standing, c, secrets=secrets)
            for c in NAMES:
                wilayah = data.mask_text(wilayah, c, secrets=secrets)
        return cls(
            tanggal=tanggal,
            previous=previous,
            findings=found,
            resolved=done,
            wilayah=_on_one_line(wilayah, NAMES),
            progress=data.progress(con, tanggal),
            history=data.history(con, tanggal),
            prev_counts=data.previous_counts(con, previous),
            catalog=data.catalog_frame(),
            files=data.province_files(con, tanggal),
            berlanjut=standing,
        )

    # --- which regions get files -------------------------------------------------

    def kabupaten(self) -> pl.DataFrame:
        """Every kabupaten/kota that gets files tonight, with names and its file's state.

        Those with records tonight, those with findings, and every one of a
        province whose pemilih file was set aside or not received tonight (their
        page says so: a region must not take silence for "no findings").
        """
        with_records = self.progress.filter(pl.col("n_rekaman") > 0).select("kode_prov", "kode_kab")
        with_findings = self.findings.filter(pl.col("kode_kab").is_not_null()).select(
            "kode_prov", "kode_kab"
        )
        unused = [p for p in self.wilayah["kode_prov"].unique() if self.file_note(p) is not None]
        set_aside = self.wilayah.filter(pl.col("kode_prov").is_in(unused)).select(
            "kode_prov", "kode_kab"
        )
        kabs = pl.concat([with_records, with_findings, set_aside]).unique()
        # codes become folders and links: only valid codes of their kind (reports-v1 v1.1);
        # a finding with any other code is listed nationally only
        kabs = kabs.filter(code_expr("kode_prov") & code_expr("kode_kab", "kode_prov"))
        names = self.wilayah.select("kode_kab", "nama_kab", "nama_prov").unique("kode_kab")
        return (
            kabs.join(names, on="kode_kab", how="left")
            .with_columns(
                nama_kab=pl.col("nama_kab").fill_null(pl.col("kode_kab")),
                nama_prov=pl.col("nama_prov").fill_null(pl.col("kode_prov")),
            )
            .sort("kode_kab")
        )

    def file_note(self, kode_prov: str) -> dict[str, Any] | None:
        """What a region's page must say about its province's file tonight, if anything."""
        f = self.files.get(kode_prov)
        if f is None:
            return {"state": "absent", "path": None, "reason": None}
        if f.state == "quarantined":
            path = shown_name(f.path) if f.path is not None else None
            return {"state": "quarantined", "path": path, "reason": f.reason}
        return None


# --- aggregation helpers ---------------------------------------------------------------


def _pct(done: float, total: float) -> float | None:
    return round(100.0 * done / total, 1) if total else None


def finding_counts(findings: pl.DataFrame, key: str) -> pl.DataFrame:
    """Per `key`: findings tonight, by tingkat, new and recurring, prioritas 1 for the
    region (PPS, PPK, KPU Kab/Kota), and those only Pusdatin can fix."""
    exprs = [pl.len().alias("n_temuan")]
    exprs += [(pl.col("tingkat") == t).sum().alias(f"n_{t.lower()}") for t in TINGKAT]
    exprs += [
        (pl.col("status_temuan") == "BARU").sum().alias("n_temuan_baru"),
        (pl.col("status_temuan") == "BERULANG").sum().alias("n_berulang"),
        # the region's own first work: rows only Pusdatin can fix are counted apart
        ((pl.col("prioritas") == 1) & pl.col("ditangani_oleh").ne_missing("PUSDATIN"))
        .sum()
        .alias("n_p1"),
        pl.col("ditangani_oleh").eq_missing("PUSDATIN").sum().alias("n_pusdatin"),
    ]
    return findings.group_by(key).agg(exprs)


def region_table(night: Night, key: str, where: pl.Expr, names: list[str]) -> pl.DataFrame:
    """Progress and findings per region at level `key` (kode_kec, kode_kab, ...)."""
    prog = (
        night.progress.filter(where)
        .group_by(key)
        .agg([pl.col(c).sum() for c in COUNTS] + [pl.len().alias("n_desa")])
    )
    found = finding_counts(night.findings.filter(where & pl.col(key).is_not_null()), key)
    done = night.resolved.filter(where).group_by(key).agg(pl.len().alias("n_selesai"))
    label = night.wilayah.select(key, *names).unique(key)
    out = (
        pl.concat([prog.select(key), found.select(key), done.select(key)])
        .unique()
        .join(label, on=key, how="left")
        .join(prog, on=key, how="left")
        .join(found, on=key, how="left")
        .join(done, on=key, how="left")
    )
    numeric = [c for c in out.columns if c.startswith("n_") or c == "jumlah_diturunkan"]
    return (
        out.with_columns(pl.col(numeric).fill_null(0))
        .with_columns(
            persen=pl.when(pl.col("jumlah_diturunkan") > 0).then(
                (100 * pl.col("n_tercoklit") / pl.col("jumlah_diturunkan")).round(1)
            ),
            per_seribu=pl.when(pl.col("n_rekaman") > 0).then(
                (1000 * pl.col("n_temuan") / pl.col("n_rekaman")).round(1)
            ),
        )
        .sort(key)
    )


def by_kind(night: Night, where: pl.Expr) -> list[dict[str, Any]]:
    """Per finding code: tonight, BARU/BERULANG, the night before, change, resolved, and
    marked out of the lists by regions' answers (so that the night before + new - resolved
    - marked = tonight)."""
    tonight = (
        night.findings.filter(where)
        .group_by("kode_temuan")
        .agg(
            n=pl.len(),
            baru=(pl.col("status_temuan") == "BARU").sum(),
            berulang=(pl.col("status_temuan") == "BERULANG").sum(),
        )
    )
    before = (
        night.prev_counts.filter(where)
        .group_by("kode_temuan")
        .agg(kemarin=pl.col("n_kemarin").sum())
    )
    done = night.resolved.filter(where).group_by("kode_temuan").agg(selesai=pl.len())
    marked = night.ditandai if night.ditandai is not None else night.findings.clear()
    # only those found the night before: a new finding already covered by an answer was
    # never on a list, so it is neither in `kemarin` nor in tonight's count
    ditandai = (
        marked.filter(where & (pl.col("status_temuan") == "BERULANG"))
        .group_by("kode_temuan")
        .agg(ditandai=pl.len())
    )
    codes = pl.concat(
        [
            tonight.select("kode_temuan"),
            before.select("kode_temuan"),
            done.select("kode_temuan"),
            ditandai.select("kode_temuan"),
        ]
    ).unique()
    tingkat = night.findings.select("kode_temuan", "tingkat").unique("kode_temuan")
    out = (
        codes.join(night.catalog, on="kode_temuan", how="left")
        .join(tingkat, on="kode_temuan", how="left")
        .join(tonight, on="kode_temuan", how="left")
        .join(before, on="kode_temuan", how="left")
        .join(done, on="kode_temuan", how="left")
        .join(ditandai, on="kode_temuan", how="left")
        .with_columns(
            pl.col("n", "baru", "berulang", "kemarin", "selesai", "ditandai").fill_null(0),
            judul=pl.col("judul").fill_null(pl.col("kode_temuan")),
            urutan_keluarga=pl.col("urutan_keluarga").fill_null(99),
        )
        .with_columns(perubahan=pl.col("n") - pl.col("kemarin"))
        .sort(["urutan_keluarga", "n", "kode_temuan"], descending=[False, True, False])
    )
    return out.to_dicts()


def trend(night: Night, where: pl.Expr) -> dict[str, Any]:
    """Per night: progress % and findings by tingkat for the regions matched by `where`."""
    h = (
        night.history.filter(where)
        .group_by("tanggal_ekspor")
        .agg(
            pl.col(
                "n_tercoklit", "jumlah_diturunkan", "n_temuan", "n_tinggi", "n_sedang", "n_rendah"
            ).sum()
        )
        .sort("tanggal_ekspor")
    )
    return {
        "malam": [f"{d.day} {BULAN[d.month - 1][:3]}" for d in h["tanggal_ekspor"].to_list()],
        "persen": [
            _pct(d, t) or 0.0
            for d, t in zip(
                h["n_tercoklit"].to_list(), h["jumlah_diturunkan"].to_list(), strict=True
            )
        ],
        "temuan": {
            "Semua": h["n_temuan"].to_list(),
            "TINGGI": h["n_tinggi"].to_list(),
            "SEDANG": h["n_sedang"].to_list(),
            "RENDAH": h["n_rendah"].to_list(),
        },
    }


def totals(table: pl.DataFrame) -> dict[str, Any]:
    """Sum of a region table's counts, with the overall percentages."""
    numeric = [c for c in table.columns if c.startswith("n_") or c == "jumlah_diturunkan"]
    t: dict[str, Any] = {c: int(table[c].sum()) for c in numeric}
    for c in ("n_temuan", "n_tinggi", "n_p1", "n_pusdatin", "n_temuan_baru", "n_berulang",
              "n_selesai", *COUNTS):  # fmt: skip
        t.setdefault(c, 0)
    t["persen"] = _pct(t["n_tercoklit"], t["jumlah_diturunkan"])
    t["per_seribu"] = round(1000 * t["n_temuan"] / t["n_rekaman"], 1) if t["n_rekaman"] else None
    return t
