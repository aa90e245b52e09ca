"""The synthetic export generator: contract shape, determinism, truth exactness.

The generated nights are checked with DuckDB SQL written here from the
contract's definitions (independent of the generator's own truth code): on
every night the findings these queries produce must equal the truth file
exactly, so clean data yields nothing incidental and every planted problem is
really in the data.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from coklit_dq.config import load_elections
from coklit_dq.contract import NIK_POLA, PROVINCE_CODES, schema
from coklit_dq.simulate import SimulateResult, simulate

VOTERS = 12_000
NIGHTS = 3


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SimulateResult]:
    out = tmp_path_factory.mktemp("sim")
    res = simulate(str(out), voters=VOTERS, nights=NIGHTS, seed=11)
    return out, res


def _read(night: Path, stem: str) -> pl.DataFrame:
    for ext in ("parquet", "csv.gz"):
        p = night / f"{stem}.{ext}"
        if p.exists():
            if ext == "parquet":
                return pl.read_parquet(p)
            return pl.read_csv(p, schema=schema(stem.split("/", maxsplit=1)[0]))
    raise FileNotFoundError(stem)


def test_layout_and_manifest(sim: tuple[Path, SimulateResult]) -> None:
    out, res = sim
    assert res.nights == [date(2024, 7, 1), date(2024, 7, 2), date(2024, 7, 3)]
    assert "\n" not in str(res) and str(VOTERS) in str(res)
    for tanggal in res.nights:
        night = out / tanggal.isoformat()
        man = json.loads((night / "manifest.json").read_text())
        assert man["format"] == "coklit-export/1"
        assert man["tanggal_ekspor"] == tanggal.isoformat()
        exts = set()
        for f in man["files"]:
            data = (night / f["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
            exts.add(f["path"].split(".", 1)[1])
        assert exts == {"parquet", "csv.gz"}
        listed = {f["path"] for f in man["files"]}
        present = {str(p.relative_to(night)) for p in night.rglob("*") if p.is_file()} - {
            "manifest.json"
        }
        assert listed == present
    assert (out / "_truth" / "orang.parquet").exists()


# --- the contract's definitions, in SQL, independent of the generator ----------------------

PROVS = "(" + ",".join(f"'{p}'" for p in PROVINCE_CODES) + ")"
NIK_OK = f"""(regexp_full_match(coalesce({{c}}, ''), '[0-9]{{{{16}}}}')
    AND substr({{c}}, 1, 2) IN {PROVS}
    AND substr({{c}}, 9, 2)::INT BETWEEN 1 AND 12
    AND (substr({{c}}, 7, 2)::INT BETWEEN 1 AND 31 OR substr({{c}}, 7, 2)::INT BETWEEN 41 AND 71)
    AND substr({{c}}, 13, 4) <> '0000'
    AND {{c}} <> repeat(substr({{c}}, 1, 1), 16))"""


def nik_ok(col: str) -> str:
    return NIK_OK.format(c=col)


FINDINGS_SQL = rf"""
WITH p AS (SELECT * FROM pemilih),
valid AS (SELECT *, CASE WHEN regexp_full_match(coalesce(nik, ''), '[0-9]{{16}}')
                       THEN {nik_ok("nik")} ELSE false END AS nik_valid FROM p)
SELECT 'NIK_TIDAK_VALID' AS kode_temuan, id_pemilih AS kunci FROM valid WHERE NOT nik_valid
UNION ALL
SELECT 'NIK_TIDAK_SESUAI', id_pemilih FROM valid WHERE nik_valid AND substr(nik, 7, 6) <>
    lpad((day(tanggal_lahir) + CASE WHEN jenis_kelamin = 'P' THEN 40 ELSE 0 END)::VARCHAR, 2, '0')
    || strftime(tanggal_lahir, '%m%y')
UNION ALL
SELECT 'NKK_TIDAK_VALID', id_pemilih FROM p
    WHERE NOT (regexp_full_match(coalesce(nkk, ''), '[0-9]{{16}}') AND substr(nkk, 1, 2) IN {PROVS})
UNION ALL
SELECT 'GANDA_ID', id_pemilih FROM p GROUP BY id_pemilih HAVING count(*) > 1
UNION ALL
SELECT 'GANDA_NIK', a.id_pemilih || '|' || min(b.id_pemilih)
    FROM valid a JOIN valid b ON a.nik = b.nik AND a.id_pemilih <> b.id_pemilih
    WHERE a.nik_valid AND a.status_coklit <> 'TMS' AND b.status_coklit <> 'TMS'
    GROUP BY a.id_pemilih
UNION ALL
SELECT 'TPS_TIDAK_DIKENAL', id_pemilih FROM p ANTI JOIN tps USING (kode_desa, no_tps)
UNION ALL
SELECT 'KK_TERPISAH', id_pemilih FROM p WHERE status_coklit <> 'TMS' AND (nkk, kode_desa) IN (
    SELECT (nkk, kode_desa) FROM p WHERE status_coklit <> 'TMS'
    GROUP BY nkk, kode_desa HAVING count(DISTINCT no_tps) > 1)
UNION ALL
SELECT 'USIA_BELUM_CUKUP', id_pemilih FROM p
    WHERE status_coklit <> 'TMS' AND tanggal_lahir > $cutoff AND status_kawin = 'B'
UNION ALL
SELECT 'USIA_TIDAK_WAJAR', id_pemilih FROM p
    WHERE status_coklit <> 'TMS' AND tanggal_lahir <= $hari - INTERVAL 110 YEAR
UNION ALL
SELECT 'NAMA_TIDAK_WAJAR', id_pemilih FROM p
    WHERE status_coklit <> 'TMS' AND (nama IS NULL
      OR length(regexp_replace(nama, '[^\p{{L}}]', '', 'g')) < 2
      OR NOT regexp_full_match(nama, '[\p{{L}}\p{{M}} ''.,-]*'))
UNION ALL
SELECT 'TMS_TIDAK_SESUAI', id_pemilih FROM p WHERE
    (status_coklit = 'TMS' AND kode_tms = 3 AND (tanggal_lahir <= $cutoff OR status_kawin <> 'B'))
    OR (status_coklit = 'TMS' AND (kode_tms IS NULL OR kode_tms NOT BETWEEN 1 AND 8))
    OR (status_coklit <> 'TMS' AND kode_tms IS NOT NULL)
UNION ALL
SELECT 'TMS_TANPA_DOKUMEN', id_pemilih FROM p WHERE kode_tms = 1 AND dokumen_tms IS NULL
UNION ALL
SELECT 'TMS_8_TANPA_PENGGANTI', a.id_pemilih FROM p a
    WHERE a.status_coklit = 'TMS' AND a.kode_tms = 8 AND NOT EXISTS (
        SELECT 1 FROM p b WHERE b.nik = a.nik AND b.status_coklit <> 'TMS'
        AND b.kode_desa = a.kode_desa AND b.no_tps <> a.no_tps)
UNION ALL
SELECT 'STATUS_TIDAK_WAJAR', c.id_pemilih FROM p c JOIN prev o USING (id_pemilih) WHERE
    (o.status_coklit = 'TMS' AND o.kode_tms = 1 AND c.status_coklit <> 'TMS')
    OR (o.status_coklit <> 'BELUM' AND c.status_coklit = 'BELUM')
    OR (c.status_coklit = 'BARU' AND o.status_coklit IN ('BELUM', 'MS', 'UBAH', 'TMS'))
UNION ALL
SELECT 'DATA_HILANG', id_pemilih FROM prev ANTI JOIN p USING (id_pemilih)
UNION ALL
SELECT 'TPS_MELEBIHI_KAPASITAS', kode_desa || ':' || no_tps FROM p
    WHERE status_coklit <> 'TMS' GROUP BY kode_desa, no_tps HAVING count(*) > $maks
UNION ALL
SELECT 'PROGRES_MELEBIHI_DATA', t.kode_desa || ':' || t.no_tps FROM tps t JOIN (
    SELECT kode_desa, no_tps, count(*) AS n FROM p
    WHERE status_coklit IN ('BELUM', 'MS', 'UBAH', 'TMS') GROUP BY ALL) USING (kode_desa, no_tps)
    WHERE n > t.jumlah_diturunkan
UNION ALL
SELECT 'JUMLAH_TIDAK_SESUAI', t.kode_desa || ':' || t.no_tps FROM tps t
    LEFT JOIN (SELECT kode_desa, no_tps, sum(jumlah_tercoklit_app) AS app FROM pantarlih
               GROUP BY ALL) a USING (kode_desa, no_tps)
    LEFT JOIN (SELECT kode_desa, no_tps, count(*) AS n FROM p WHERE status_coklit <> 'BELUM'
               GROUP BY ALL) r USING (kode_desa, no_tps)
    WHERE coalesce(app, 0) <> coalesce(n, 0)
UNION ALL
SELECT 'PENURUNAN_TAJAM', kode_desa FROM
    (SELECT kode_desa, count(*) AS n FROM prev WHERE status_coklit <> 'TMS' GROUP BY ALL) a
    JOIN (SELECT kode_desa, count(*) AS n FROM p WHERE status_coklit <> 'TMS' GROUP BY ALL) b
    USING (kode_desa) WHERE b.n < a.n * 0.95
UNION ALL
SELECT 'PANTARLIH_BELUM_LOGIN', id_pantarlih FROM pantarlih WHERE terakhir_login IS NULL
UNION ALL
SELECT 'PANTARLIH_BELUM_SINKRON', id_pantarlih FROM pantarlih WHERE terakhir_login IS NOT NULL
    AND (terakhir_sinkron IS NULL OR terakhir_sinkron < $dibuat - INTERVAL 48 HOUR)
"""


def _night(out: Path, tanggal: date) -> dict[str, pl.DataFrame]:
    night = out / tanggal.isoformat()
    pem = pl.concat(
        [
            _read(night, f"pemilih/{p.name.split('.')[0]}")
            for p in sorted((night / "pemilih").iterdir())
        ]
    )
    return {
        "pemilih": pem,
        "tps": _read(night, "tps"),
        "pantarlih": _read(night, "pantarlih"),
    }


def reference_findings(out: Path, nights: list[date], k: int) -> pl.DataFrame:
    el = load_elections()["pilkada-2024"]
    cur = _night(out, nights[k])
    prev = _night(out, nights[k - 1])["pemilih"] if k > 0 else cur["pemilih"].clear()
    man = json.loads((out / nights[k].isoformat() / "manifest.json").read_text())
    con = duckdb.connect()
    for name, df in cur.items():
        con.register(name, df.to_arrow())
    con.register("prev", prev.to_arrow())
    sql = (
        FINDINGS_SQL.replace("$cutoff", f"DATE '{el.lahir_paling_lambat}'")
        .replace("$hari", f"DATE '{el.hari_pemungutan}'")
        .replace("$maks", str(el.maks_pemilih_per_tps))
        .replace("$dibuat", f"TIMESTAMPTZ '{man['dibuat']}'")
    )
    return pl.from_arrow(con.sql(sql).arrow()).unique()  # type: ignore[return-value]


def truth(out: Path, tanggal: date) -> pl.DataFrame:
    return pl.read_parquet(out / "_truth" / f"temuan-{tanggal.isoformat()}.parquet")


@pytest.mark.parametrize("k", range(NIGHTS))
def test_truth_is_exactly_what_the_contract_finds(sim: tuple[Path, SimulateResult], k: int) -> None:
    """Every finding of the contract's definitions is planted, and every planted one is there."""
    out, res = sim
    found = reference_findings(out, res.nights, k)
    want = truth(out, res.nights[k]).filter(pl.col("kode_temuan") != "GANDA_ORANG")
    f = set(found.select("kode_temuan", "kunci").iter_rows())
    w = set(want.select("kode_temuan", "kunci").iter_rows())
    assert not f - w, f"incidental findings: {sorted(f - w)[:10]}"
    assert not w - f, f"planted but not in the data: {sorted(w - f)[:10]}"
    # TPS-, desa- and officer-level truth is computed from the tables; each unit was planted
    assert truth(out, res.nights[k]).filter(pl.col("jenis") == "tidak_ditanam").height == 0


def _all_nights(out: Path, res: SimulateResult) -> pl.DataFrame:
    return pl.concat(
        [
            _night(out, d)["pemilih"].with_columns(tanggal=pl.lit(d), k=pl.lit(k))
            for k, d in enumerate(res.nights)
        ]
    )


def test_orang_truth_and_duplicate_pairs(sim: tuple[Path, SimulateResult]) -> None:
    out, res = sim
    orang = pl.read_parquet(out / "_truth" / "orang.parquet")
    assert orang.columns[:3] == ["id_pemilih", "id_orang", "jenis"]
    allp = _all_nights(out, res)
    # every record of every night has its person (GANDA_ID rows: one per person).
    ids = allp.select("id_pemilih").unique()
    assert ids.join(orang, on="id_pemilih", how="anti").height == 0
    kinds = set(orang["jenis"].unique())
    for kind in (
        "pindah_nik_sama",
        "pindah_nik_typo",
        "nik_transposisi",
        "nama_varian",
        "tanggal_tukar",
        "ganda_id",
        "tms8_masuk_ulang",
        "pindah_tms4",
        "none",
    ):
        assert kind in kinds, kind
    # GANDA_ORANG truth == pairs of records that are not TMS, same person, different nik.
    last = _night(out, res.nights[-1])["pemilih"].join(orang, on=["id_pemilih", "nik"])
    live = last.filter(pl.col("status_coklit") != "TMS").unique("id_pemilih")
    pairs = live.join(live, on="id_orang", suffix="_b").filter(
        pl.col("id_pemilih") != pl.col("id_pemilih_b")
    )
    same_person_other_nik = {
        (a, b)
        for a, b, n1, n2 in pairs.select("id_pemilih", "id_pemilih_b", "nik", "nik_b").iter_rows()
        if n1 != n2
    }
    t = truth(out, res.nights[-1]).filter(pl.col("kode_temuan") == "GANDA_ORANG")
    planted = {tuple(k.split("|")) for k in t["kunci"]}
    assert planted == same_person_other_nik
    # the pairs span kabupaten/kota and provinces, and the name variants are real variants.
    p = pairs.filter(pl.col("id_pemilih") < pl.col("id_pemilih_b"))
    assert p.filter(
        pl.col("kode_desa").str.slice(0, 2) != pl.col("kode_desa_b").str.slice(0, 2)
    ).height
    assert p.filter(
        (pl.col("kode_desa").str.slice(0, 2) == pl.col("kode_desa_b").str.slice(0, 2))
        & (pl.col("kode_desa").str.slice(0, 4) != pl.col("kode_desa_b").str.slice(0, 4))
    ).height
    var = p.filter(pl.col("jenis") == "nama_varian")
    assert var.height and (var["nama"] != var["nama_b"]).all()
    swapped = p.filter(pl.col("jenis") == "tanggal_tukar")
    assert (swapped["tanggal_lahir"] != swapped["tanggal_lahir_b"]).all()


def test_clean_data_invariants(sim: tuple[Path, SimulateResult]) -> None:
    out, res = sim
    el = load_elections()["pilkada-2024"]
    orang = pl.read_parquet(out / "_truth" / "orang.parquet")
    allp = _all_nights(out, res)
    con = duckdb.connect()
    con.register("p", allp.to_arrow())
    con.register("o", orang.to_arrow())
    # a valid nik never belongs to two persons
    shared = con.sql(f"""
        SELECT nik FROM p JOIN o USING (id_pemilih, nik)
        WHERE {nik_ok("nik")} GROUP BY nik HAVING count(DISTINCT id_orang) > 1""").fetchall()
    assert shared == []
    last = _night(out, res.nights[-1])
    pem = last["pemilih"]
    # birth dates: about one in eleven on the placeholders; twins; married 16-year-olds
    ph = pem["tanggal_lahir"].dt.strftime("%m-%d").is_in(["07-01", "12-31", "01-01"]).mean()
    assert 0.06 < ph < 0.13
    po = pem.join(orang, on=["id_pemilih", "nik"])
    twins = po.join(po, on=["nkk", "tanggal_lahir"], suffix="_b").filter(
        (pl.col("id_pemilih") < pl.col("id_pemilih_b"))
        & (pl.col("id_orang") != pl.col("id_orang_b"))
    )
    assert twins.height > 0 and (twins["nama"] != twins["nama_b"]).all()
    kawin16 = pem.filter(
        (pl.col("tanggal_lahir") > el.lahir_paling_lambat) & (pl.col("status_kawin") == "S")
    )
    assert kawin16.height > 0
    # statuses, TMS codes and their documents
    assert set(pem["status_coklit"]) == {"BELUM", "MS", "UBAH", "BARU", "TMS"}
    tms = pem.filter(pl.col("status_coklit") == "TMS")
    assert set(range(1, 9)) <= set(tms["kode_tms"].drop_nulls())
    assert tms.filter(pl.col("kode_tms").is_in([6, 7]))["dokumen_tms"].null_count() == 0
    # waktu_coklit null exactly while BELUM, and never after the export was made
    man = json.loads((out / res.nights[-1].isoformat() / "manifest.json").read_text())
    dibuat = datetime.fromisoformat(man["dibuat"])
    assert (pem["waktu_coklit"].is_null() == (pem["status_coklit"] == "BELUM")).all()
    assert pem["waktu_coklit"].max() < dibuat
    # officers: every record's officer exists; 1 per TPS, 2 on large ones; sync before dibuat
    pan = last["pantarlih"]
    assert pem.join(pan, on="id_pantarlih", how="anti").height == 0
    per_tps = pan.group_by("kode_desa", "no_tps").len()
    assert set(per_tps["len"]) == {1, 2}
    assert per_tps.height == last["tps"].height
    assert pan["terakhir_sinkron"].max() < dibuat
    ok = pan.filter(
        pl.col("terakhir_sinkron").is_not_null() & pl.col("terakhir_login").is_not_null()
    )
    assert (ok["terakhir_login"] <= ok["terakhir_sinkron"]).all()
    # regions: kabupaten and kota codes, kelurahan and desa
    wil = _read(out / res.nights[-1].isoformat(), "wilayah")
    kab = wil["kode_kab"].str.slice(2, 2).cast(pl.Int32)
    assert (kab < 70).any() and (kab > 70).any()
    assert set(wil["kode_desa"].str.slice(6, 1)) == {"1", "2"}
    # TPS filled well under the maximum except the planted over-capacity ones
    size = pem.filter(pl.col("status_coklit") != "TMS").group_by("kode_desa", "no_tps").len()
    assert (size["len"] <= el.maks_pemilih_per_tps * 0.8).mean() > 0.95


def test_nights_evolve(sim: tuple[Path, SimulateResult]) -> None:
    out, res = sim
    done = []
    for d in res.nights:
        pem = _night(out, d)["pemilih"]
        done.append(pem.filter(pl.col("status_coklit") != "BELUM").height)
    assert done == sorted(done) and done[0] < done[-1]
    first = _night(out, res.nights[0])["pemilih"]
    last = _night(out, res.nights[-1])["pemilih"]
    assert (
        last.filter(pl.col("status_coklit") == "BARU").height
        > first.filter(pl.col("status_coklit") == "BARU").height
    )


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    def digest(root: Path) -> list[str]:
        return [
            hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file()
        ]

    a = simulate(str(tmp_path / "a"), voters=3000, nights=2, seed=5)
    b = simulate(str(tmp_path / "b"), voters=3000, nights=2, seed=5)
    c = simulate(str(tmp_path / "c"), voters=3000, nights=2, seed=6)
    assert a.records == b.records
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    assert digest(tmp_path / "a") != digest(tmp_path / "c")
    assert c.records != a.records or digest(tmp_path / "a") != digest(tmp_path / "c")


def test_any_fsspec_url_and_provinces() -> None:
    import fsspec

    res = simulate("memory://simtest", voters=2000, nights=1, seed=3, provinces=["11", "52"])
    fs = fsspec.filesystem("memory")
    man = json.loads(fs.cat(f"/simtest/{res.nights[0].isoformat()}/manifest.json"))
    paths = {f["path"].split(".")[0] for f in man["files"]}
    assert {"pemilih/11", "pemilih/52", "wilayah", "tps", "pantarlih"} == paths
    assert fs.exists("/simtest/_truth/orang.parquet")
    with pytest.raises(ValueError, match="province"):
        simulate("memory://simbad", voters=2000, nights=1, seed=3, provinces=["99"])


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from coklit_dq.cli import main

    rc = main(
        [
            "simulate",
            "--out",
            str(tmp_path),
            "--voters",
            "2000",
            "--nights",
            "2",
            "--seed",
            "4",
            "--start",
            "2024-06-24",
            "--provinces",
            "32,73",
        ]
    )
    assert rc == 0
    assert "2000 voters" in capsys.readouterr().out
    assert (tmp_path / "2024-06-25" / "pemilih").exists()
    assert (tmp_path / "_truth" / "temuan-2024-06-25.parquet").exists()


@pytest.mark.parametrize(
    ("voters", "nights", "provinces"),
    [(1000, 1, ["31"]), (3000, 3, ["94"]), (2000, 2, ["11", "31", "52", "73", "81"])],
)
def test_small_shapes_stay_exact(
    tmp_path: Path, voters: int, nights: int, provinces: list[str]
) -> None:
    res = simulate(str(tmp_path), voters=voters, nights=nights, seed=9, provinces=provinces)
    for k in range(nights):
        found = set(reference_findings(tmp_path, res.nights, k).iter_rows())
        want = truth(tmp_path, res.nights[k]).filter(pl.col("kode_temuan") != "GANDA_ORANG")
        assert found == set(want.select("kode_temuan", "kunci").iter_rows())
        assert want.height > 0
        assert want.filter(pl.col("jenis") == "tidak_ditanam").height == 0


def test_real_traps_for_a_matcher_are_there(sim: tuple[Path, SimulateResult]) -> None:
    """What makes real rolls hard (domain.md): most serials are 0001, so people born the
    same day in two kecamatan share the nik's last ten digits; many one-word names;
    placeholder birth dates split 1 Jul > 31 Dec > 1 Jan; namesakes on one date; niks
    carrying a retired kecamatan code; birthplaces that are where people live."""
    out, res = sim
    orang = pl.read_parquet(out / "_truth" / "orang.parquet")
    pem = _night(out, res.nights[-1])["pemilih"].join(orang, on=["id_pemilih", "nik"])
    pem = pem.filter(pl.col("jenis") == "none")
    assert (pem["nik"].str.slice(12, 4) == "0001").mean() > 0.5  # type: ignore[operator]
    assert (~pem["nama"].str.contains(" ")).mean() > 0.3  # type: ignore[operator]
    md = pem["tanggal_lahir"].dt.strftime("%m-%d").value_counts()
    n = dict(zip(md["tanggal_lahir"], md["count"], strict=True))
    assert (
        n["07-01"]
        > n["12-31"]
        > n["01-01"]
        > 3 * sorted(c for d, c in n.items() if d not in ("07-01", "12-31", "01-01"))[180]
    )
    tail10 = pem.group_by(pl.col("nik").str.slice(6, 10)).agg(
        kec=pl.col("nik").str.slice(0, 6).n_unique(), orang=pl.col("id_orang").n_unique()
    )
    assert tail10.filter((pl.col("kec") > 1) & (pl.col("orang") > 1)).height > 0
    namesakes = pem.group_by("nama", "tanggal_lahir").agg(orang=pl.col("id_orang").n_unique())
    assert namesakes.filter(pl.col("orang") > 1).height > 0
    # retired kecamatan codes (a kabupaten split after the nik was issued): a nik that is
    # not a slip names a kecamatan the region reference lacks about RETIRED_SHARE of the time
    from coklit_dq.simulate.people import RETIRED_SHARE

    wil = _read(out / res.nights[-1].isoformat(), "wilayah")
    kec = set(wil["kode_desa"].str.slice(0, 6).to_list())
    junk = [d * 16 for d in "0123456789"]  # planted NIK_TIDAK_VALID that fit the pattern
    valid = pem.filter(pl.col("nik").str.contains(f"^{NIK_POLA}$") & ~pl.col("nik").is_in(junk))
    retired = ~valid["nik"].str.slice(0, 6).is_in(list(kec))
    assert 0.5 * RETIRED_SHARE < retired.mean() < 1.5 * RETIRED_SHARE  # type: ignore[operator]
    # of a kabupaten that exists: one keystroke from a real code, as retired codes are
    assert valid.filter(retired)["nik"].str.slice(0, 4).is_in([k[:4] for k in kec]).all()
    # most people were born in the kab/kota they live in: about BORN_AT_HOME of those whose
    # kab/kota has a name carry it as their birthplace (some others by chance)
    from coklit_dq.simulate.names import BORN_AT_HOME

    home = pem.join(
        wil.select("kode_desa", kab=pl.col("nama_kab").str.strip_prefix("KOTA ")),
        on="kode_desa",
    ).filter(~pl.col("kab").str.contains(r"\d"))
    at_home = (home["tempat_lahir"] == home["kab"]).mean()
    assert BORN_AT_HOME * 0.85 < at_home < BORN_AT_HOME + 0.15  # type: ignore[operator]


def test_namesakes_grow_with_the_population() -> None:
    """With a fixed, skewed pool of names the share of voters who have a namesake grows
    with the population compared, as in a real country."""
    import numpy as np

    from coklit_dq.simulate import names as nm

    def share_with_namesake(n: int) -> float:
        rng = np.random.default_rng(3)
        eth = np.zeros(n, dtype=np.int64)
        female = rng.random(n) < 0.5
        s = nm.names(rng, eth, female)
        counts = s.value_counts()
        return float(counts.filter(pl.col("count") > 1)["count"].sum()) / n

    small, large = share_with_namesake(2_000), share_with_namesake(50_000)
    assert 0.2 < small < large


def test_planted_duplicates_carry_the_slips_of_real_rolls(
    sim: tuple[Path, SimulateResult],
) -> None:
    """GANDA_ORANG pairs: nik slips in the region digits too, birthplaces keyed
    differently, birth dates a day off or swapped, names shortened or re-spelled."""
    out, res = sim
    orang = pl.read_parquet(out / "_truth" / "orang.parquet")
    last = _night(out, res.nights[-1])["pemilih"].join(orang, on=["id_pemilih", "nik"])
    p = last.join(last, on="id_orang", suffix="_b").filter(
        (pl.col("id_pemilih") < pl.col("id_pemilih_b")) & (pl.col("nik") != pl.col("nik_b"))
    )
    assert p.height > 20
    assert p.filter(pl.col("nik").str.slice(0, 6) != pl.col("nik_b").str.slice(0, 6)).height
    assert p.filter(pl.col("nik").str.slice(6, 6) != pl.col("nik_b").str.slice(6, 6)).height
    assert p.filter(pl.col("tempat_lahir") != pl.col("tempat_lahir_b")).height
    days = (pl.col("tanggal_lahir") - pl.col("tanggal_lahir_b")).dt.total_days().abs()
    assert p.filter(days == 1).height
    assert p.filter(pl.col("nama") != pl.col("nama_b")).height
    # a name slip keeps the person recognisable: a word in common or one letter apart
    changed = p.filter(pl.col("nama") != pl.col("nama_b"))
    for a, b in changed.select("nama", "nama_b").iter_rows():
        wa = set(a.replace(".", " ").split())
        wb = set(b.replace(".", " ").split())
        assert wa & wb or len(a.replace(" ", "")) != len(b.replace(" ", "")) or a[0] == b[0]


def test_pipeline_rules_find_exactly_the_truth(tmp_path: Path) -> None:
    """The project's own ingest and rules on a generated export find what the truth says
    (every code except the linkage's), night after night."""
    ingest = pytest.importorskip("coklit_dq.ingest")
    rules = pytest.importorskip("coklit_dq.rules")
    from coklit_dq import warehouse
    from coklit_dq.config import resolve_settings

    res = simulate(str(tmp_path / "export"), voters=6000, nights=3, seed=21)
    settings = resolve_settings(warehouse=str(tmp_path / "wh.duckdb"))
    con = warehouse.connect(settings.warehouse)
    try:
        for tanggal in res.nights:
            got = ingest.ingest_night(con, str(tmp_path / "export"), tanggal, settings)
            assert not got.quarantined
            raw = rules.run_rules(con, tanggal, settings)
            warehouse.finish_run(con, tanggal, "done", "test_simulate")
            want = truth(tmp_path / "export", tanggal).filter(
                ~pl.col("kode_temuan").is_in(["GANDA_NIK", "GANDA_ORANG"])
            )
            assert set(raw.select("kode_temuan", "kunci").iter_rows()) == set(
                want.select("kode_temuan", "kunci").iter_rows()
            )
    finally:
        con.close()
