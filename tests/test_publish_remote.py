"""The outbox on real remote stores: a local S3 endpoint (moto server) and an SFTP server."""

from __future__ import annotations

import io
import json

import fsspec
import polars as pl
import pytest
from test_publish_support import N2, two_night_warehouse

from coklit_dq.config import resolve_settings
from coklit_dq.contract import FINDING_COLUMNS
from coklit_dq.publish import MARKER, InjectedFailure, publish_night

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    c, _ = two_night_warehouse(tmp_path_factory.mktemp("remote") / "w.duckdb")
    yield c
    c.close()


def _files(fs, root: str) -> dict[str, bytes]:
    found = fs.find(root)
    return {p[len(root) + 1 :]: fs.cat_file(p) for p in sorted(found)}


def test_s3_outbox_publishes_replaces_and_survives_a_crash(s3_server, con, tmp_path):
    bucket = s3_server.bucket()
    url = f"{bucket}/outbox"
    settings = resolve_settings(
        outbox=url, warehouse=str(tmp_path / "w.duckdb"), storage_options=s3_server.storage_options
    )
    result = publish_night(con, N2, settings)
    assert result.night_url == f"{url}/{N2.isoformat()}"
    fs, root = fsspec.core.url_to_fs(url, **s3_server.storage_options)
    night = f"{root}/{N2.isoformat()}"
    files = _files(fs, night)
    assert sorted(files) == sorted([*result.files, MARKER])
    assert json.loads(files[MARKER])["berkas"] == result.files
    csv = pl.read_csv(io.BytesIO(files["31/3101/temuan.csv"]), infer_schema=False)
    assert tuple(csv.columns) == FINDING_COLUMNS and csv.height > 0
    nat = pl.read_parquet(io.BytesIO(files["nasional/temuan.parquet"]))
    assert nat.height == result.n_temuan
    assert not fs.find(f"{root}/.staging")  # staging removed after the swap

    # a crash midway: the published night stays as it was, staging is cleaned up
    con.execute("DELETE FROM agregat_desa WHERE tanggal_ekspor = ? AND kode_kab = '3271'", [N2])
    with pytest.raises(InjectedFailure):
        publish_night(con, N2, settings, fail_after=6)
    assert _files(fs, night) == files
    assert not fs.find(f"{root}/.staging")

    # republished: replaced, the kabupaten without records is gone, nothing duplicated
    again = publish_night(con, N2, settings)
    now = _files(fs, night)
    assert sorted(now) == sorted([*again.files, MARKER])
    assert not any(k.startswith("32/3271/") for k in now)


def test_sftp_outbox(sftp_server, con, tmp_path):
    settings = resolve_settings(
        outbox=f"{sftp_server.url}/kirim",
        warehouse=str(tmp_path / "w.duckdb"),
        storage_options=sftp_server.storage_options,
    )
    result = publish_night(con, N2, settings)
    local = sftp_server.path("kirim") / N2.isoformat()
    on_disk = sorted(str(p.relative_to(local)) for p in local.rglob("*") if p.is_file())
    assert on_disk == sorted([*result.files, MARKER])
    assert "password" not in result.night_url and "coklit@" not in result.night_url
    assert [p.name for p in sftp_server.path("kirim").iterdir()] == [N2.isoformat()]
    html = (local / "31" / "3101" / "ringkasan.html").read_text(encoding="utf-8")
    assert "<svg" in html
