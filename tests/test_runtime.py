"""What a flow run resolves when it starts (flows.runtime), without a server.

The Prefect Variables are the deployment's configuration: a run by hand that
reports to the production server (PREFECT_API_URL in the profile, as
docs/operations.md recommends) must never write into the production paths they
name. A run is "deployed" when Prefect's own runtime says so
(prefect.runtime.deployment.id; mocked here through its documented variable
PREFECT__RUNTIME__DEPLOYMENT__ID).
"""

from __future__ import annotations

from typing import ClassVar

import pytest

from coklit_dq.config import DEFAULT_OUTBOX, DEFAULT_WAREHOUSE, ENV
from flows import runtime

PRODUCTION = {
    "coklit_dq_source": "/srv/coklit/export",
    "coklit_dq_outbox": "/srv/coklit/outbox",
    "coklit_dq_warehouse": "/srv/coklit/coklit-dq.duckdb",
    "coklit_dq_inbox": "/srv/coklit/inbox",
}


@pytest.fixture
def variables(monkeypatch) -> dict[str, str]:
    """The server's Prefect Variables (those of a production deployment), as
    Variable.get reads them; the environment holds no COKLIT_DQ_* setting."""
    from prefect.variables import Variable

    held = dict(PRODUCTION)

    def get(cls: type, name: str, default: object = None) -> object:
        return held.get(name, default)

    monkeypatch.setattr(Variable, "get", classmethod(get))
    for variable, _parse in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("COKLIT_DQ_ELECTION", raising=False)
    return held


@pytest.fixture
def deployed(monkeypatch) -> None:
    monkeypatch.setenv("PREFECT__RUNTIME__DEPLOYMENT__ID", "5e1f6a52-0000-4000-8000-000000000001")


def test_a_run_by_hand_never_uses_the_deployments_variables(variables):
    s = runtime.settings_for_run(source="/tmp/test-export")
    assert (s.outbox, s.warehouse) == (DEFAULT_OUTBOX, DEFAULT_WAREHOUSE)
    assert s.source == "/tmp/test-export"


def test_a_deployed_run_reads_its_paths_from_the_variables(variables, deployed):
    assert runtime._deployed()
    s = runtime.settings_for_run()
    assert (s.source, s.outbox, s.warehouse) == (
        PRODUCTION["coklit_dq_source"],
        PRODUCTION["coklit_dq_outbox"],
        PRODUCTION["coklit_dq_warehouse"],
    )
    assert s.inbox == PRODUCTION["coklit_dq_inbox"]
    assert runtime.settings_for_run(outbox="/elsewhere").outbox == "/elsewhere"  # a parameter


def test_a_deployed_run_without_an_inbox_fails_naming_it(variables, deployed):
    """Without it the regions' answers were read from ./inbox in the worker's checkout,
    where none ever lands: every answer silently ignored."""
    del variables["coklit_dq_inbox"]
    with pytest.raises(runtime.SettingsMissing, match=r"inbox.*coklit_dq_inbox.*COKLIT_DQ_INBOX"):
        runtime.settings_for_run()


def test_a_deployed_run_with_only_the_source_set_fails_naming_what_to_set(variables, deployed):
    del variables["coklit_dq_outbox"], variables["coklit_dq_warehouse"]
    with pytest.raises(runtime.SettingsMissing) as err:
        runtime.settings_for_run()
    message = str(err.value)
    assert "coklit_dq_outbox" in message and "COKLIT_DQ_OUTBOX" in message
    assert "coklit_dq_warehouse" in message and "COKLIT_DQ_WAREHOUSE" in message
    assert "coklit_dq_source" not in message


def test_a_deployed_run_takes_a_path_from_the_workers_environment(variables, deployed, monkeypatch):
    del variables["coklit_dq_warehouse"]
    monkeypatch.setenv("COKLIT_DQ_WAREHOUSE", "/data/w.duckdb")
    assert runtime.settings_for_run().warehouse == "/data/w.duckdb"


class _Mailbox:
    """Stands in for smtplib.SMTP: keeps where each message went."""

    sent: ClassVar[list[tuple[str, int, object]]] = []

    def __init__(self, host: str, port: int, timeout: float = 0) -> None:
        self.host, self.port = host, port

    def __enter__(self) -> _Mailbox:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def send_message(self, msg: object) -> None:
        self.sent.append((self.host, self.port, msg))


def test_a_run_stopped_by_a_wrong_setting_still_mails_pusdatin_saying_so(monkeypatch):
    """COKLIT_DQ_SMTP_PORT=abc fails every night; the failure hook used to fail on the
    same error, so no mail went out. Now it mails with what can be read (port 25)."""
    import smtplib
    from types import SimpleNamespace
    from uuid import uuid4

    for variable, _parse in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("COKLIT_DQ_SMTP_HOST", "mail.kpu.example")
    monkeypatch.setenv("COKLIT_DQ_SMTP_PORT", "abc")
    monkeypatch.setenv("COKLIT_DQ_PUSDATIN_EMAIL", "pusdatin@kpu.example")
    monkeypatch.setattr(smtplib, "SMTP", _Mailbox)
    _Mailbox.sent.clear()
    flow_run = SimpleNamespace(
        id=uuid4(), parameters={"tanggal": "2024-07-01"}, name="nightly-2024-07-01"
    )
    state = SimpleNamespace(message="Flow run encountered an exception: SettingsError: ...")
    runtime.mail_failure(None, flow_run, state)  # type: ignore[arg-type]
    ((host, port, msg),) = _Mailbox.sent
    assert (host, port, msg["To"]) == ("mail.kpu.example", 25, "pusdatin@kpu.example")
    body = msg.get_content()
    assert "pengaturan salah" in body and "COKLIT_DQ_SMTP_PORT='abc'" in body
    assert "1 Juli 2024" in msg["Subject"]
