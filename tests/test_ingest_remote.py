"""Reading a night from real S3 (moto server) and SFTP (asyncssh) servers."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import fsspec
import pytest
from flow_fixtures import make_night, night_tables

from coklit_dq import warehouse
from coklit_dq.config import Settings, resolve_settings
from coklit_dq.ingest import IngestError, ingest_night
from coklit_dq.simulate.writer import write_night

pytestmark = pytest.mark.server


def test_s3_server_round_trip(s3_server):
    root = s3_server.bucket()
    fs, path = fsspec.core.url_to_fs(root, **s3_server.storage_options)
    fs.pipe(f"{path}/a/b.txt", b"hello")
    assert fs.cat(f"{path}/a/b.txt") == b"hello"
    assert fs.ls(f"{path}/a", detail=False) == [f"{path}/a/b.txt"]


def test_sftp_server_round_trip(sftp_server):
    fs, path = fsspec.core.url_to_fs(sftp_server.url + "/x", **sftp_server.storage_options)
    fs.makedirs(f"{path}/d", exist_ok=True)
    fs.pipe(f"{path}/d/b.txt", b"hello")
    assert (sftp_server.path("x/d/b.txt")).read_bytes() == b"hello"
    assert fs.cat(f"{path}/d/b.txt") == b"hello"


@pytest.mark.parametrize("drop", ["password", "client_keys"])
def test_sftp_server_accepts_the_key_or_the_password_alone(sftp_server, drop):
    opts = {k: v for k, v in sftp_server.storage_options.items() if k != drop}
    fs, path = fsspec.core.url_to_fs(sftp_server.url + "/y", **opts)
    fs.pipe(f"{path}/{drop}.txt", drop.encode())
    assert (sftp_server.path("y") / f"{drop}.txt").read_bytes() == drop.encode()
    bad = {**opts, "username": "someone-else"}
    with pytest.raises(PermissionError):  # sshfs turns asyncssh.PermissionDenied into it
        fsspec.core.url_to_fs(sftp_server.url + "/y", **bad)[0].ls("/")


# --- a night read from the servers -------------------------------------------------------


N1 = date(2024, 7, 1)


def _settings(tmp_path: Path, storage_options: dict) -> Settings:
    s = resolve_settings(warehouse=str(tmp_path / "w.duckdb"), outbox=str(tmp_path / "out"))
    return replace(s, storage_options=dict(storage_options))


def _write(root: str, storage_options: dict) -> None:
    tables, pem = night_tables(N1)
    write_night(
        root,
        N1,
        tables,
        pem,
        formats={"pemilih/31": "csv.gz", "pantarlih": "csv.gz"},
        storage_options=storage_options,
    )


def _check_loaded(con, result, tmp_path: Path, bad: str) -> None:
    assert set(result.used) == {"wilayah.parquet", "tps.parquet", "pantarlih.csv.gz",
                                "pemilih/31.csv.gz", "pemilih/32.parquet"} - {bad}  # fmt: skip
    assert [q.path for q in result.quarantined] == [bad]
    assert con.execute("SELECT count(*) FROM pemilih").fetchone()[0] == 1200 - (
        600 if bad.startswith("pemilih") else 0
    )
    # leading zeros of CSV codes survive the trip
    assert con.execute("SELECT count(*) FROM pemilih WHERE rt = '001'").fetchone()[0] > 0
    # the bytes as received went to the local quarantine with their reason
    qdir = tmp_path / "quarantine" / N1.isoformat()
    assert (qdir / bad).read_bytes() == b"not parquet"
    why = json.loads((qdir / f"{bad}.reason.json").read_text(encoding="utf-8"))
    assert why["file"] == bad and why["expected"].startswith("sha256 ")


def test_ingest_a_night_from_s3(s3_server, tmp_path: Path):
    root = s3_server.bucket()
    opts = s3_server.storage_options
    _write(root, opts)
    fs, base = fsspec.core.url_to_fs(root, **opts)
    fs.pipe(f"{base}/{N1.isoformat()}/tps.parquet", b"not parquet")  # sha differs now
    s = _settings(tmp_path, opts)
    con = warehouse.connect(s.warehouse)
    result = ingest_night(con, root, N1, s)
    _check_loaded(con, result, tmp_path, "tps.parquet")
    assert con.execute("SELECT source FROM runs").fetchone() == (root,)
    with pytest.raises(IngestError, match=f"{root}/2024-07-02: no such night folder"):
        ingest_night(con, root, date(2024, 7, 2), s)


def test_ingest_a_night_from_sftp(sftp_server, tmp_path: Path):
    # written through the server, read back through the server
    url = f"{sftp_server.url}/ekspor"
    opts = sftp_server.storage_options
    _write(url, opts)
    assert (sftp_server.path("ekspor") / N1.isoformat() / "manifest.json").exists()
    (sftp_server.path("ekspor") / N1.isoformat() / "pemilih" / "32.parquet").write_bytes(
        b"not parquet"
    )
    s = _settings(tmp_path, opts)
    con = warehouse.connect(s.warehouse)
    result = ingest_night(con, url, N1, s)
    _check_loaded(con, result, tmp_path, "pemilih/32.parquet")
    assert result.provinces_loaded == ["31"]
    # user names and passwords in a URL never reach the warehouse or messages
    with_user = url.replace("sftp://", f"sftp://{opts['username']}:{opts['password']}@")
    opts2 = {k: v for k, v in opts.items() if k not in ("username", "password")}
    result = ingest_night(con, with_user, N1, _settings(tmp_path, opts2))
    source = con.execute("SELECT source FROM runs").fetchone()[0]
    assert opts["password"] not in source and source == url
    with pytest.raises(IngestError) as err:
        ingest_night(con, with_user, date(2024, 7, 2), _settings(tmp_path, opts2))
    assert opts["password"] not in str(err.value) and "no such night folder" in str(err.value)


def test_quarantine_may_live_in_a_bucket(s3_server, tmp_path: Path, monkeypatch):
    """A local night whose bad file is set aside in an S3 quarantine (not the outbox)."""
    make_night(tmp_path / "src", N1)
    (tmp_path / "src" / N1.isoformat() / "tps.parquet").write_bytes(b"not parquet")
    qroot = s3_server.bucket() + "/karantina"
    opts = s3_server.storage_options
    s = replace(_settings(tmp_path, {}), quarantine=qroot)
    con = warehouse.connect(s.warehouse)
    # the quarantine's filesystem is configured the standard way (boto's environment);
    # settings.storage_options belong to the source
    monkeypatch.setenv("AWS_ENDPOINT_URL", opts["endpoint_url"])
    result = ingest_night(con, str(tmp_path / "src"), N1, s)
    assert [q.path for q in result.quarantined] == ["tps.parquet"]
    fs, base = fsspec.core.url_to_fs(qroot, **opts)
    assert fs.cat(f"{base}/{N1.isoformat()}/tps.parquet") == b"not parquet"
    why = json.loads(fs.cat(f"{base}/{N1.isoformat()}/tps.parquet.reason.json"))
    assert why["file"] == "tps.parquet" and why["expected"].startswith("sha256 ")


def test_sftp_symlinks_are_never_followed(sftp_server, tmp_path: Path):
    """On SFTP as on a local disk: an unlisted link to any file the server can read, and a
    listed link whose target (outside the night folder) has the listed bytes, are set aside
    alone; nothing is read or copied through them (the server would follow them)."""
    url = f"{sftp_server.url}/tautan"
    opts = sftp_server.storage_options
    _write(url, opts)
    night = sftp_server.path("tautan") / N1.isoformat()
    secret = sftp_server.path("rahasia.txt")
    secret.write_bytes(b"3201014501900001 SITI AMINAH")
    (night / "catatan").symlink_to(secret)
    outside = sftp_server.path("di-luar.parquet")
    (night / "pemilih" / "32.parquet").rename(outside)  # the right bytes, outside the night
    (night / "pemilih" / "32.parquet").symlink_to(outside)
    (night / "lain").symlink_to(sftp_server.path("tautan"))  # a link to a folder above
    s = _settings(tmp_path, opts)
    con = warehouse.connect(s.warehouse)
    result = ingest_night(con, url, N1, s)
    assert set(result.used) == {"wilayah.parquet", "tps.parquet", "pantarlih.csv.gz",
                                "pemilih/31.csv.gz"}  # fmt: skip
    why = {q.path: q.reason for q in result.quarantined}
    assert set(why) == {"catatan", "lain", "pemilih/32.parquet"}
    assert all("symbolic link" in w["message"] for w in why.values())
    qdir = tmp_path / "quarantine" / N1.isoformat()
    copied = {str(p.relative_to(qdir)) for p in qdir.rglob("*") if p.is_file()}
    assert copied == {"catatan.reason.json", "lain.reason.json", "pemilih/32.parquet.reason.json"}
    assert con.execute("SELECT count(*) FROM pemilih").fetchone() == (600,)
