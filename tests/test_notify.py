"""Stage 7: one Bahasa Indonesia email per kabupaten/kota, through a real local SMTP server."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from flow_fixtures import free_port
from test_publish_support import N2, file_text, two_night_warehouse

from coklit_dq.config import resolve_settings
from coklit_dq.privacy import mask_id
from coklit_dq.publish import publish_night
from coklit_dq.publish.notify import load_recipients, notify_regions

pytestmark = pytest.mark.server


@pytest.fixture
def smtp(smtp_server):
    """The real SMTP server of tests/servers.py: (its inbox, its port)."""
    return smtp_server, smtp_server.port


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    base = tmp_path_factory.mktemp("notify")
    con, pem = two_night_warehouse(base / "w.duckdb")
    settings = resolve_settings(outbox=str(base / "outbox"), warehouse=str(base / "w.duckdb"))
    result = publish_night(con, N2, settings)
    # each test mails a fresh copy: notify records what it sent on the result
    yield base, con, lambda: replace(result, notified=[]), pem
    con.close()


def _recipients(path) -> None:
    path.write_text(
        "nasional: [pusdatin@example.kpu.go.id]\n"
        "kabupaten:\n"
        "  '3101': [kpu-3101@example.kpu.go.id, ppk-3101@example.kpu.go.id]\n"
        "  3271: kpu-3271@example.kpu.go.id\n",  # unquoted code, one address
        encoding="utf-8",
    )


def _mail_settings(base, tmp_path, port: int | None):
    """Settings mailing the test recipients through 127.0.0.1:port (None: no SMTP host)."""
    _recipients(tmp_path / "r.yaml")
    smtp = {"smtp_host": "127.0.0.1", "smtp_port": port} if port is not None else {}
    return resolve_settings(
        outbox=str(base / "outbox"), recipients_file=tmp_path / "r.yaml", **smtp
    )


def test_each_region_with_recipients_gets_its_counts_and_where_the_files_are(
    smtp, published, tmp_path
):
    inbox, port = smtp
    base, con, fresh, pem = published
    result = fresh()
    settings = _mail_settings(base, tmp_path, port)
    sent = notify_regions(con, N2, result, settings)
    assert sorted(sent.sent) == ["3101", "3271", "nasional"]
    assert sorted(sent.without_recipients) == ["3171", "3201"]
    by_to = {tuple(sorted(to)): msg for to, msg in inbox.messages}
    assert len(inbox.messages) == 3

    msg = by_to[("kpu-3101@example.kpu.go.id", "ppk-3101@example.kpu.go.id")]
    body = msg.get_content()
    region = result.region("3101")
    assert msg["From"] == settings.mail_from
    assert "Kab 3101" in msg["Subject"] and f"{region.n_temuan} temuan" in msg["Subject"]
    assert f"Temuan malam ini     : {region.n_temuan}" in body
    assert f"tingkat TINGGI     : {region.n_tinggi}" in body
    assert f"baru               : {region.n_baru}" in body
    assert f"{result.night_url}/31/3101/temuan.xlsx" in body
    assert (base / "outbox" / N2.isoformat() / "31" / "3101" / "temuan.xlsx").is_file()
    assert "Yth. KPU Kab 3101" in body and "sudah tersedia" in body

    quiet = by_to[("kpu-3271@example.kpu.go.id",)].get_content()
    assert "Tidak ada temuan malam ini." in quiet

    nat = by_to[("pusdatin@example.kpu.go.id",)]
    assert "Ringkasan nasional" in nat["Subject"]
    assert f"{result.night_url}/nasional/ringkasan.html" in nat.get_content()

    # counts and paths only: no nik, nkk or voter name in any message
    every = "\n".join(f"{m['Subject']}\n{m.get_content()}" for _, m in inbox.messages)
    for frame in pem.values():
        for nik in frame["nik"].head(300):
            assert nik not in every
    assert "Pemilih " not in every


def test_no_smtp_host_skips_with_a_log_line(published, tmp_path, caplog):
    base, con, fresh, _ = published
    result = fresh()
    settings = _mail_settings(base, tmp_path, None)
    assert settings.smtp_host is None
    with caplog.at_level(logging.INFO, logger="coklit_dq.publish.notify"):
        sent = notify_regions(con, N2, result, settings)
    assert sent.skipped and not sent.sent
    assert "no SMTP host" in caplog.text


def test_unreachable_server_is_an_error_the_flow_can_retry(published, tmp_path):
    base, con, fresh, _ = published
    result = fresh()
    settings = _mail_settings(base, tmp_path, free_port())  # nobody listens there
    with pytest.raises(OSError):
        notify_regions(con, N2, result, settings)


def test_project_recipients_file_has_the_expected_shape():
    r = load_recipients(resolve_settings().recipients_file)
    assert r.nasional  # the shipped file names the national list
    assert isinstance(r.kabupaten, dict)


def test_a_retry_does_not_mail_the_regions_already_notified(smtp, published, tmp_path):
    inbox, port = smtp
    base, con, fresh, _ = published
    result = fresh()
    settings = _mail_settings(base, tmp_path, port)
    result.notified.append("3101")  # as if the first try failed after mailing 3101
    again = notify_regions(con, N2, result, settings)
    assert sorted(again.sent) == ["3271", "nasional"]
    assert len(inbox.messages) == 2
    assert notify_regions(con, N2, result, settings).sent == []  # nothing left to send
    assert len(inbox.messages) == 2


def test_a_line_break_in_a_region_name_never_stops_the_mail(smtp, published, tmp_path):
    """The region's name comes from the export: a CR/LF (or U+2028) in it is no header
    injection and no error that would leave every region unmailed."""
    inbox, port = smtp
    base, con, fresh, _ = published
    result = fresh()
    for region in result.regions:
        if region.kode_kab == "3101":
            region.nama_kab = "KAB EVIL\r\nBcc: attacker@evil.example\u2028X"
    sent = notify_regions(con, N2, result, _mail_settings(base, tmp_path, port))
    assert sorted(sent.sent) == ["3101", "3271", "nasional"]
    evil = next(m for to, m in inbox.messages if "kpu-3101@example.kpu.go.id" in to)
    assert evil["Subject"].startswith("[Coklit] KAB EVIL Bcc: attacker@evil.example X:")
    assert evil["Bcc"] is None
    assert all("attacker@evil.example" not in to for to, _ in inbox.messages)


def test_a_region_name_from_the_export_is_shown_masked_and_on_one_line(smtp, tmp_path):
    """review-priv F4, F9: region names come from the export's wilayah table. A nik in one
    is shown masked, and a line break in one forges no line, on the pages, in the workbook
    and in the mail (the subject was safe already; the body took the name as it was)."""
    inbox, port = smtp
    kab_nik, desa_nik = "3171011204900007", "3273016208850004"
    con, _ = two_night_warehouse(tmp_path / "w.duckdb")
    con.execute(
        "UPDATE wilayah SET nama_kab = ? WHERE kode_kab = '3101'",
        [f"KAB {kab_nik}\r\nBcc: evil@evil.example\u2028X: =cmd"],
    )
    (desa,) = con.execute("SELECT min(kode_desa) FROM wilayah WHERE kode_kab = '3101'").fetchone()
    con.execute("UPDATE wilayah SET nama_desa = ? WHERE kode_desa = ?", [f"DESA {desa_nik}", desa])
    settings = _mail_settings(tmp_path, tmp_path, port)
    result = publish_night(con, N2, settings)
    notify_regions(con, N2, result, settings)
    con.close()

    one_line_name = f"KAB {mask_id(kab_nik)}\\r\\nBcc: evil@evil.example\\u2028X: =cmd"
    root = tmp_path / "outbox" / N2.isoformat()
    shown = {str(p.relative_to(root)): file_text(p) for p in root.rglob("*") if p.is_file()}
    mails = {to[0]: f"{m['Subject']}\n{m.get_content()}" for to, m in inbox.messages}
    for where in ("31/3101/ringkasan.html", "31/ringkasan.html", "31/3101/temuan.xlsx"):
        assert one_line_name in shown[where], where
    assert f"DESA {mask_id(desa_nik)}" in shown["31/3101/ringkasan.html"]
    assert f"Yth. KPU {one_line_name}," in mails["kpu-3101@example.kpu.go.id"]
    assert mails["kpu-3101@example.kpu.go.id"].startswith(f"[Coklit] {one_line_name}: ")
    for where, text in {**shown, **mails}.items():
        assert kab_nik[6:14] not in text and desa_nik[6:14] not in text, where
        assert not [ln for ln in text.splitlines() if ln.startswith(("Bcc:", "X: =cmd"))], where


def test_a_recipients_file_that_is_not_there_is_an_error_naming_it(published, tmp_path):
    base, con, fresh, _ = published
    settings = replace(
        _mail_settings(base, tmp_path, free_port()), recipients_file=tmp_path / "nope.yaml"
    )
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        notify_regions(con, N2, fresh(), settings)
