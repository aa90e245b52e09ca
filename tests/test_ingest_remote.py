"""Reading a night from real S3 (moto server) and SFTP (asyncssh) servers."""

from __future__ import annotations

import fsspec
import pytest

pytest_plugins = ["servers"]

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
