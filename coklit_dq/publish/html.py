"""ringkasan.html for a kabupaten/kota, a province and the nation.

Jinja2 templates (package data in templates/) with inline CSS and inline SVG
charts from `charts`: one self-contained page that opens offline.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from functools import cache
from typing import Any

import jinja2
import polars as pl
from markupsafe import Markup

from coklit_dq.publish import charts, sheets
from coklit_dq.publish.model import Night, by_kind, region_table, totals, trend

WIB = timezone(timedelta(hours=7))


def angka(x: Any) -> str:
    """1234567 -> 1.234.567; None -> –."""
    if x is None:
        return "–"
    if isinstance(x, float) and not x.is_integer():
        return f"{x:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")
    return f"{int(x):,}".replace(",", ".")


def desimal(x: Any) -> str:
    """One decimal, Indonesian style: 25.0 -> 25,0; None -> –."""
    return "–" if x is None else f"{x:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")


def persen(x: Any) -> str:
    return "–" if x is None else f"{x:.1f}%".replace(".", ",")


def tanggal_id(d: Any) -> str:
    return "–" if d is None else sheets.tanggal_id(d)


def waktu(t: Any) -> str:
    """A moment as `2 Juli 2024 pukul 21.05 WIB`."""
    if t is None:
        return "–"
    wib = t.astimezone(WIB) if getattr(t, "tzinfo", None) else t
    return f"{sheets.tanggal_id(wib.date())} pukul {wib:%H.%M} WIB"


def selisih(x: int) -> str:
    return f"+{angka(x)}" if x > 0 else ("0" if x == 0 else f"−{angka(-x)}")


@cache
def environment(package: str = "coklit_dq.publish") -> jinja2.Environment:
    """The pages' one Jinja setup (escaping, number and date filters) for the
    templates of `package` (publishing's own, or the answers' sections)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(package, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        angka=angka,
        desimal=desimal,
        persen=persen,
        tanggal=tanggal_id,
        selisih=selisih,
        waktu=waktu,
    )
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)


def _rows(df: pl.DataFrame) -> list[dict[str, Any]]:
    return df.to_dicts()


def _kind_chart(kinds: list[dict[str, Any]], title: str) -> Markup:
    kinds = [k for k in kinds if k["n"] > 0]
    return Markup(
        charts.hbars(
            [k["judul"] for k in kinds],
            [k["n"] for k in kinds],
            title,
            colors=[charts.TINGKAT_WARNA.get(k["tingkat"] or "", "#7f8c8d") for k in kinds],
        )
    )


def _trend_charts(tr: dict[str, Any]) -> dict[str, Markup]:
    return {
        "tren_progres": Markup(
            charts.lines(
                tr["malam"],
                {"Progres coklit": tr["persen"]},
                "Progres coklit per malam",
                y_suffix="%",
                y_max=100,
            )
        ),
        "tren_temuan": Markup(charts.lines(tr["malam"], tr["temuan"], "Jumlah temuan per malam")),
    }


def _rate_colors(values: list[float | None]) -> list[str]:
    """Red for the worst third of the spread, orange the middle, green the best; all orange
    when the regions hardly differ (spread under 10 % of the highest)."""
    known = [v for v in values if v is not None]
    lo, hi = (min(known), max(known)) if known else (0.0, 0.0)
    if hi <= 0 or hi - lo < 0.1 * hi:
        return ["#e67e22" for _ in values]
    out = []
    for v in values:
        r = ((v or 0) - lo) / (hi - lo)
        out.append("#c0392b" if r > 0.66 else "#e67e22" if r > 0.33 else "#27ae60")
    return out


def _common(night: Night) -> dict[str, Any]:
    return {"tanggal": night.tanggal, "kemarin": night.previous}


def _tanggapan(night: Night, level: str, kode: str | None = None) -> Markup:
    """tanggapan-v1: the regions' answers (figures, PERLU_BANTUAN, to Pusdatin)."""
    if night.tanggapan is None:
        return Markup("")
    names = dict(night.wilayah.select("kode_kab", "nama_kab").unique("kode_kab").iter_rows())
    return Markup(night.tanggapan.section(level, kode, names))


def kab_page(night: Night, kode_prov: str, kode_kab: str, nama_kab: str, nama_prov: str) -> str:
    where = pl.col("kode_kab") == kode_kab
    kec = region_table(night, "kode_kec", where, ["nama_kec"])
    desa = region_table(night, "kode_desa", where, ["nama_desa", "kode_kec", "nama_kec"]).sort(
        "kode_kec", "kode_desa"
    )
    kab = region_table(night, "kode_kab", where, [])
    kinds = by_kind(night, where)
    tr = trend(night, where)
    kec_named = kec.with_columns(pl.col("nama_kec").fill_null(pl.col("kode_kec")))
    return render(
        "kab.html.j2",
        **_common(night),
        kode_prov=kode_prov,
        kode_kab=kode_kab,
        nama_kab=nama_kab,
        nama_prov=nama_prov,
        catatan_berkas=night.file_note(kode_prov),
        tanggapan=_tanggapan(night, "kab", kode_kab),
        total=totals(kab),
        kecamatan=_rows(kec_named),
        desa=_rows(desa),
        jenis=kinds,
        grafik={
            "progres_kec": _progress_chart(kec_named, "nama_kec", "Progres coklit per kecamatan"),
            "jenis": _kind_chart(kinds, "Temuan per jenis"),
            **_trend_charts(tr),
        },
    )


def _progress_chart(frame: pl.DataFrame, name: str, title: str) -> Markup:
    """Coklit'd records against the data handed down, one bar per row of `frame`."""
    return Markup(
        charts.progress_bars(
            frame[name].to_list(),
            frame["n_tercoklit"].to_list(),
            frame["jumlah_diturunkan"].to_list(),
            title,
        )
    )


def prov_page(night: Night, kode_prov: str, kabs: pl.DataFrame) -> str:
    where = pl.col("kode_prov") == kode_prov
    table = (
        kabs.select("kode_kab", "nama_kab")
        .join(region_table(night, "kode_kab", where, []), on="kode_kab", how="left")
        .with_columns(pl.exclude("kode_kab", "nama_kab", "persen", "per_seribu").fill_null(0))
        .sort("kode_kab")
    )
    nama_prov = kabs["nama_prov"][0] if kabs.height else kode_prov
    kinds = by_kind(night, where)
    return render(
        "prov.html.j2",
        **_common(night),
        kode_prov=kode_prov,
        nama_prov=nama_prov,
        catatan_berkas=night.file_note(kode_prov),
        tanggapan=_tanggapan(night, "prov", kode_prov),
        total=totals(table),
        kabupaten=_rows(table),
        jenis=kinds,
        grafik={
            "progres": _progress_chart(table, "nama_kab", "Progres coklit per kabupaten/kota"),
            "per_seribu": Markup(
                charts.hbars(
                    table["nama_kab"].to_list(),
                    table["per_seribu"].fill_null(0).to_list(),
                    "Temuan per 1.000 pemilih",
                    colors=_rate_colors(table["per_seribu"].to_list()),
                )
            ),
            "jenis": _kind_chart(kinds, "Temuan per jenis"),
            **_trend_charts(trend(night, where)),
        },
    )


def nasional_page(
    night: Night, kabs: pl.DataFrame, worst: int = 20, data_docs: str | None = None
) -> str:
    every = pl.lit(True)
    provs = region_table(night, "kode_prov", every, ["nama_prov"])
    known = pl.concat(
        [
            provs.select("kode_prov"),
            night.wilayah.select("kode_prov"),
            pl.DataFrame({"kode_prov": list(night.files)}, schema={"kode_prov": pl.String}),
        ]
    ).unique()
    names = night.wilayah.select("kode_prov", "nama_prov").unique("kode_prov")
    provs = (
        known.join(names, on="kode_prov", how="left")
        .join(provs.drop("nama_prov"), on="kode_prov", how="left")
        .with_columns(
            pl.exclude("kode_prov", "nama_prov", "persen", "per_seribu").fill_null(0),
            nama_prov=pl.col("nama_prov").fill_null(pl.col("kode_prov")),
            berkas=pl.col("kode_prov").replace_strict(
                {p: f.state for p, f in night.files.items()}, default="absent"
            ),
            n_kab=pl.col("kode_prov").replace_strict(
                dict(kabs.group_by("kode_prov").len().iter_rows()),
                default=0,
                return_dtype=pl.Int64,
            ),
        )
        .sort("kode_prov")
    )
    kab_table = region_table(night, "kode_kab", every, ["nama_kab", "nama_prov"])
    worst_kabs = (
        kab_table.filter(pl.col("n_rekaman") > 0)
        .with_columns(pl.col("kode_kab").str.slice(0, 2).alias("kode_prov"))
        .sort(["per_seribu", "n_tinggi"], descending=True, nulls_last=True)
        .head(worst)
    )
    kinds = by_kind(night, every)
    with_data = provs.filter(pl.col("n_rekaman") > 0)
    return render(
        "nasional.html.j2",
        **_common(night),
        data_docs=data_docs,
        tanggapan=_tanggapan(night, "nasional"),
        total=totals(provs),
        provinsi=_rows(provs),
        terburuk=_rows(worst_kabs),
        jenis=kinds,
        grafik={
            "per_seribu": Markup(
                charts.hbars(
                    with_data["nama_prov"].to_list(),
                    with_data["per_seribu"].fill_null(0).to_list(),
                    "Temuan per 1.000 pemilih per provinsi",
                    colors=_rate_colors(with_data["per_seribu"].to_list()),
                )
            ),
            "progres": _progress_chart(with_data, "nama_prov", "Progres coklit per provinsi"),
            "jenis": _kind_chart(kinds, "Temuan per jenis"),
            **_trend_charts(trend(night, every)),
        },
    )


def pusdatin_page(night: Night, halaman: str, **context: Any) -> str:
    """proses.html, kamus.html or tautan.html (see publish.pusdatin)."""
    judul = {
        "proses": "Catatan jalannya pemeriksaan",
        "kamus": "Kamus data temuan",
        "tautan": "Pencocokan data ganda: contoh pasangan",
    }[halaman]
    return render("pusdatin.html.j2", **_common(night), halaman=halaman, judul=judul, **context)
