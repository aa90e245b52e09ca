"""Real local servers for tests: S3 (moto in server mode), SFTP (asyncssh), SMTP (aiosmtpd).

Both listen on 127.0.0.1 on a free port, run in a thread of the test process
and are stopped through their own handle at the end of the session (never by
name). tests/conftest.py registers this module as a plugin for the whole suite
(tests/ is on sys.path because pytest's default "prepend" import mode puts the
folder of a test module without __init__.py there; flow_fixtures works the same
way).

`s3_server` yields an `S3Server`: `endpoint_url`, `storage_options` for s3fs
(dummy credentials), and `bucket(name=None)` that creates a bucket on demand and
returns its `s3://` URL root.

`sftp_server` yields an `SFTPServer`: `root` (the local folder the server is
chrooted to), `url` (the `sftp://` URL of that root), `storage_options` for
fsspec's sshfs (username, password, client key, known_hosts=None) and
`path(rel)` that gives the local folder behind `url/rel`.

`smtp_server` yields an `SMTPInbox`: `port` to send to, and `messages`, every
message received as (recipients, parsed message), for one test.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "S3Server",
    "SFTPServer",
    "SMTPInbox",
    "free_port",
    "s3_server",
    "sftp_server",
    "smtp_server",
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- S3: moto in server mode ---------------------------------------------------------


@dataclass
class S3Server:
    endpoint_url: str
    storage_options: dict[str, Any]
    _buckets: set[str] = field(default_factory=set)

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )

    def bucket(self, name: str | None = None) -> str:
        """Create bucket `name` (a fresh unique one when None) and return `s3://name`."""
        name = name or f"b-{uuid.uuid4().hex[:12]}"
        if name not in self._buckets:
            try:
                self.client().create_bucket(Bucket=name)
            except Exception as exc:  # already there (created by another helper)
                if "BucketAlready" not in type(exc).__name__ + str(exc):
                    raise
            self._buckets.add(name)
        return f"s3://{name}"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A moto S3 server on 127.0.0.1 for the whole session."""
    from moto.server import ThreadedMotoServer

    # s3fs/botocore must never find real credentials or a real endpoint.
    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ["AWS_ACCESS_KEY_ID"] = "testing"
    os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    options = {
        "key": "testing",
        "secret": "testing",
        "endpoint_url": url,
        "client_kwargs": {"region_name": "us-east-1"},
        # every test gets a fresh view: no stale listings between writes and reads
        "skip_instance_cache": True,
        "use_listings_cache": False,
    }
    try:
        yield S3Server(endpoint_url=url, storage_options=options)
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# --- SFTP: asyncssh in a thread --------------------------------------------------------


@dataclass
class SFTPServer:
    root: Path
    url: str
    storage_options: dict[str, Any]

    def path(self, rel: str = "") -> Path:
        return self.root / rel


class _Loop(threading.Thread):
    """An asyncio loop of its own in a daemon thread."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="sftp-server")
        self.loop = asyncio.new_event_loop()

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.join(timeout=10)
        if not self.is_alive():
            self.loop.close()


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SFTPServer]:
    """An SFTP server on 127.0.0.1 chrooted to a temporary folder, for the whole session."""
    import asyncssh

    root = tmp_path_factory.mktemp("sftp-root")
    keys = tmp_path_factory.mktemp("sftp-keys")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    (keys / "client_key").write_bytes(client_key.export_private_key())
    (keys / "client_key").chmod(0o600)
    username, password = "coklit", uuid.uuid4().hex
    authorized = asyncssh.import_authorized_keys(client_key.export_public_key().decode("ascii"))

    class _Server(asyncssh.SSHServer):
        def begin_auth(self, user: str) -> bool:
            return True

        def password_auth_supported(self) -> bool:
            return True

        def validate_password(self, user: str, pw: str) -> bool:
            return user == username and pw == password

        def public_key_auth_supported(self) -> bool:
            return True

        def validate_public_key(self, user: str, key: asyncssh.SSHKey) -> bool:
            return (
                user == username and authorized.validate(key, "127.0.0.1", "127.0.0.1") is not None
            )

    def _sftp(chan: Any) -> asyncssh.SFTPServer:
        return asyncssh.SFTPServer(chan, chroot=str(root).encode())

    port = free_port()
    loop = _Loop()
    loop.start()

    async def _listen() -> Any:
        return await asyncssh.listen(
            "127.0.0.1",
            port,
            server_host_keys=[host_key],
            server_factory=_Server,
            sftp_factory=_sftp,
            allow_scp=False,
        )

    acceptor = loop.call(_listen())
    options = {
        "username": username,
        "password": password,
        "client_keys": [str(keys / "client_key")],
        "known_hosts": None,
        "skip_instance_cache": True,
    }
    try:
        yield SFTPServer(root=root, url=f"sftp://127.0.0.1:{port}", storage_options=options)
    finally:

        async def _close() -> None:
            acceptor.close()
            await acceptor.wait_closed()
            # connections clients left open: end their handlers before the loop stops
            me = asyncio.current_task()
            pending = [t for t in asyncio.all_tasks() if t is not me]
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        loop.call(_close())
        loop.stop()


# --- SMTP: aiosmtpd in a thread --------------------------------------------------------


@dataclass
class SMTPInbox:
    """An aiosmtpd handler keeping every message it receives."""

    port: int = 0
    messages: list[tuple[list[str], Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        import email.policy

        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[SMTPInbox]:
    """An SMTP server on 127.0.0.1 for one test; its inbox."""
    from aiosmtpd.controller import Controller

    inbox = SMTPInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port
    try:
        yield inbox
    finally:
        controller.stop()
