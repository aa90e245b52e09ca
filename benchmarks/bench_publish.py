"""Publishing benchmark: the outbox of a 1 M-voter night (stage 6), time and peak memory.

    .venv/bin/python benchmarks/bench_publish.py [--voters 1000000] [--nights 3]
        [--findings auto|real|synth] [--workdir DIR [--reuse]] [--outbox URL]
        [--workers auto|N]

1. `coklit_dq.simulate.simulate` writes the nights; `ingest_night` loads them.
2. Findings: with --findings real (or auto, when they work) the pipeline's own
   stages (run_rules, run_linkage, record_findings); otherwise (synth) about
   2.5 % of the records get a finding, planted in SQL with a simple lifecycle.
3. The last night is published by `publish_night` in a fresh child process, so
   the peak memory printed (ru_maxrss of that process) is publishing's own.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from coklit_dq import warehouse
from coklit_dq.config import resolve_settings
from coklit_dq.warehouse import finish_run

START = date(2024, 7, 1)

SYNTH_SQL = """
INSERT INTO temuan BY NAME
WITH r AS (
  SELECT p.*, hash(p.id_pemilih) % 1000 AS h FROM pemilih p WHERE p.tanggal_ekspor = $1
), f AS (
  SELECT
    CASE h % 8 WHEN 0 THEN 'NIK_TIDAK_VALID' WHEN 1 THEN 'NIK_TIDAK_SESUAI'
      WHEN 2 THEN 'KK_TERPISAH' WHEN 3 THEN 'TPS_TIDAK_DIKENAL' WHEN 4 THEN 'GANDA_NIK'
      WHEN 5 THEN 'USIA_BELUM_CUKUP' WHEN 6 THEN 'TMS_TANPA_DOKUMEN' ELSE 'STATUS_TIDAK_WAJAR'
    END AS kode_temuan,
    CASE WHEN h % 8 IN (0, 4, 5) THEN 'TINGGI' ELSE 'SEDANG' END AS tingkat,
    left(kode_desa, 2) AS kode_prov, left(kode_desa, 4) AS kode_kab,
    left(kode_desa, 6) AS kode_kec, kode_desa, no_tps, id_pemilih, id_pantarlih,
    CASE WHEN h % 8 IN (2, 4) THEN 'K-' || (h % 97)::VARCHAR || '-' || kode_desa END
      AS id_kelompok,
    'NIK ' || coalesce(mask_id(nik), '-') || ' (NKK ' || coalesce(mask_id(nkk), '-')
      || '): periksa data pemilih ini di desa ' || kode_desa || ', TPS '
      || coalesce(no_tps::VARCHAR, '-') || '.' AS keterangan,
    id_pemilih AS kunci
  FROM r
  -- ~2.5 % of records; a slice of them changes from night to night
  WHERE h < 22 OR (h BETWEEN 22 AND 40 AND (hash(id_pemilih || $1::VARCHAR) % 6) = 0)
)
SELECT f.*, $1::DATE AS tanggal_ekspor,
       CASE WHEN t.kunci IS NULL THEN 'BARU' ELSE 'BERULANG' END AS status_temuan,
       coalesce(t.pertama_ditemukan, $1::DATE) AS pertama_ditemukan
FROM f LEFT JOIN temuan t
  ON t.tanggal_ekspor = $2 AND t.kode_temuan = f.kode_temuan AND t.kunci = f.kunci
"""

SELESAI_SQL = """
INSERT INTO temuan_selesai BY NAME
SELECT p.*, $1::DATE AS tanggal_selesai FROM temuan p
WHERE p.tanggal_ekspor = $2 AND NOT EXISTS (
  SELECT 1 FROM temuan t WHERE t.tanggal_ekspor = $1
    AND t.kode_temuan = p.kode_temuan AND t.kunci = p.kunci)
"""


def peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM (ru_maxrss would carry the parent's peak over exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def synth_findings(con, tanggal: date) -> None:
    prev = warehouse.previous_night(con, tanggal)
    con.execute("DELETE FROM temuan WHERE tanggal_ekspor = ?", [tanggal])
    con.execute("DELETE FROM temuan_selesai WHERE tanggal_selesai = ?", [tanggal])
    con.execute(SYNTH_SQL, [tanggal, prev])
    if prev is not None:
        con.execute(SELESAI_SQL, [tanggal, prev])


def real_findings(con, tanggal: date, settings) -> None:
    import polars as pl

    from coklit_dq.lifecycle import record_findings
    from coklit_dq.link import run_linkage
    from coklit_dq.rules import run_rules

    raw = [run_rules(con, tanggal, settings), run_linkage(con, tanggal, settings)]
    record_findings(
        con,
        tanggal,
        pl.concat(raw, how="vertical_relaxed"),
        hari_pemungutan=settings.election.hari_pemungutan,
    )


def prepare(args: argparse.Namespace, work: Path) -> tuple[str, date, str]:
    from coklit_dq.ingest import ingest_night
    from coklit_dq.simulate import simulate

    export, wh = work / "export", work / "w.duckdb"
    t0 = time.perf_counter()
    sim = simulate(str(export), voters=args.voters, nights=args.nights, seed=11, start=START)
    print(
        f"simulate {args.voters:,} voters x {args.nights} nights: {time.perf_counter() - t0:.1f} s"
    )
    settings = resolve_settings(warehouse=str(wh), outbox=args.outbox or str(work / "outbox"))
    con = warehouse.connect(wh)
    mode = args.findings
    for tanggal in sim.nights:
        t0 = time.perf_counter()
        ingest_night(con, str(export), tanggal, settings)
        t_ing = time.perf_counter() - t0
        t0 = time.perf_counter()
        if mode in ("auto", "real"):
            try:
                real_findings(con, tanggal, settings)
                mode = "real"
            except Exception as exc:
                if mode == "real":
                    raise
                print(
                    f"  pipeline stages failed ({type(exc).__name__}: {str(exc)[:120]}); "
                    "using synthesized findings"
                )
                mode = "synth"
        if mode == "synth":
            synth_findings(con, tanggal)
        finish_run(con, tanggal, "done", "bench_publish")  # previous_night() needs it
        n = con.execute(
            "SELECT count(*) FROM temuan WHERE tanggal_ekspor = ?", [tanggal]
        ).fetchall()[0][0]
        print(
            f"  {tanggal}: ingest {t_ing:.1f} s, findings ({mode}) {time.perf_counter() - t0:.1f}"
            f" s -> {n:,} findings"
        )
    con.execute("CHECKPOINT")
    con.close()
    return str(wh), sim.nights[-1], settings.outbox


def _cpu() -> float:
    """CPU seconds of this process and its finished children (fair on a busy machine)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def publish_child(wh: str, tanggal: date, outbox: str, workers: int | None) -> None:
    """Runs in its own process: publish once, print figures as JSON."""
    from coklit_dq.publish import publish_night

    settings = resolve_settings(warehouse=wh, outbox=outbox)
    at_start = peak_rss_mb()
    con = warehouse.connect(wh, read_only=True)  # publishing only reads the warehouse
    base = peak_rss_mb()
    t0, c0 = time.perf_counter(), _cpu()
    result = publish_night(con, tanggal, settings, workers=workers)
    seconds, cpu = time.perf_counter() - t0, _cpu() - c0
    rows = con.execute(
        "SELECT count(*) FROM pemilih WHERE tanggal_ekspor = ?", [tanggal]
    ).fetchall()[0][0]
    shares = con.execute(
        "SELECT k, round(100.0 * count(*) / sum(count(*)) OVER (PARTITION BY g), 1) FROM ("
        "SELECT 'prioritas' AS g, 'prioritas ' || coalesce(prioritas::VARCHAR, '-') AS k "
        "FROM temuan WHERE tanggal_ekspor = $1 UNION ALL SELECT 'tingkat', tingkat "
        "FROM temuan WHERE tanggal_ekspor = $1) GROUP BY g, k ORDER BY g, k",
        [tanggal],
    ).fetchall()
    out = {
        "shares": {k: v for k, v in shares},
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "rss_before_mb": round(base, 1),
        "rss_at_start_mb": round(at_start, 1),
        # workbook worker processes (spawned): the largest one's peak; an upper bound, as
        # Linux carries the forking parent's RSS at fork time into ru_maxrss over exec
        "workers_peak_rss_mb": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1
        ),
        "records": rows,
        "findings": result.n_temuan,
        "resolved": result.n_selesai,
        "kabupaten": len(result.regions),
        "provinces": len(result.provinces),
        "files": len(result.files) + 1,
    }
    print("RESULT " + json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voters", type=int, default=1_000_000)
    ap.add_argument("--nights", type=int, default=3)
    ap.add_argument("--findings", choices=("auto", "real", "synth"), default="auto")
    ap.add_argument("--workdir")
    ap.add_argument("--outbox")
    ap.add_argument(
        "--reuse", action="store_true", help="publish the warehouse already in --workdir again"
    )
    ap.add_argument("--workers", default="auto", help="workbook processes: auto or a number")
    ap.add_argument("--child", nargs=3, metavar=("WAREHOUSE", "DATE", "OUTBOX"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        workers = None if args.workers == "auto" else int(args.workers)
        publish_child(args.child[0], date.fromisoformat(args.child[1]), args.child[2], workers)
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-publish-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if args.reuse and (work / "w.duckdb").is_file():
            wh, outbox = str(work / "w.duckdb"), args.outbox or str(work / "outbox")
            con = warehouse.connect(wh)
            tanggal = con.execute("SELECT max(tanggal_ekspor) FROM runs").fetchall()[0][0]
            con.close()
        else:
            wh, tanggal, outbox = prepare(args, work)
        for run in (1, 2):  # the second run is a republish (replaces the night)
            proc = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--workers",
                    args.workers,
                    "--child",
                    wh,
                    tanggal.isoformat(),
                    outbox,
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if proc.returncode != 0 or line is None:
                sys.stderr.write(proc.stderr[-3000:])
                raise SystemExit(f"publish child failed ({proc.returncode})")
            r = json.loads(line[7:])
            print(
                f"publish {'(republish) ' if run == 2 else ''}{tanggal}: {r['seconds']:.2f} s "
                f"({r['cpu_seconds']:.2f} s CPU), "
                f"peak RSS {r['peak_rss_mb']:.0f} MB (after imports "
                f"{r['rss_at_start_mb']:.0f} MB, after connect {r['rss_before_mb']:.0f} MB; "
                f"workbook workers {r['workers_peak_rss_mb']:.0f} MB each at most); "
                f"{r['records']:,} records, {r['findings']:,} findings, {r['resolved']:,} resolved,"
                f" {r['kabupaten']} kab/kota, {r['provinces']} provinces, {r['files']} files"
            )
        shares = ", ".join(f"{k} {v:.1f} %" for k, v in r["shares"].items())
        print(f"share of the night's findings: {shares}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
