from datetime import date

import pytest

from coklit_dq.config import load_elections, resolve_settings


def test_default_election_is_pilkada_2024(monkeypatch):
    monkeypatch.delenv("COKLIT_DQ_ELECTION", raising=False)
    s = resolve_settings()
    assert s.election.kode == "pilkada-2024"
    assert s.election.hari_pemungutan == date(2024, 11, 27)
    assert s.election.maks_pemilih_per_tps == 600
    # born on or before 27 Nov 2007 is of age on polling day
    assert s.election.lahir_paling_lambat == date(2007, 11, 27)


def test_pemilu_2024_is_available_by_env_and_override(monkeypatch):
    monkeypatch.setenv("COKLIT_DQ_ELECTION", "pemilu-2024")
    assert resolve_settings().election.maks_pemilih_per_tps == 300
    monkeypatch.delenv("COKLIT_DQ_ELECTION")
    s = resolve_settings(election="pemilu-2024", outbox=None, warehouse="x.duckdb")
    assert s.election.lahir_paling_lambat == date(2007, 2, 14)
    assert s.warehouse == "x.duckdb"
    assert s.outbox == "outbox"  # None overrides are ignored


def test_unknown_election_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown election 'pilpres-2099'"):
        resolve_settings(election="pilpres-2099")


def test_every_election_has_the_contract_tms_codes():
    for e in load_elections().values():
        assert set(range(1, 9)) <= set(e.kode_tms_valid)


def test_mask_ids_can_be_turned_off_by_env(monkeypatch):
    monkeypatch.setenv("COKLIT_DQ_MASK_IDS", "false")
    assert resolve_settings().mask_ids is False


def test_every_setting_is_read_from_its_variable_typed(monkeypatch):
    """One table (config.ENV) names each setting's variable; the default lives in Settings."""
    import dataclasses
    from pathlib import Path

    from coklit_dq.config import ENV, Settings

    names = {f.name for f in dataclasses.fields(Settings)}
    assert set(ENV) <= names
    assert names - set(ENV) == {"election", "storage_options"}  # chosen otherwise / code only
    for _name, (variable, _parse) in ENV.items():
        monkeypatch.delenv(variable, raising=False)
    defaults = resolve_settings()
    assert defaults == Settings(election=defaults.election)  # nothing set: the defaults
    monkeypatch.setenv("COKLIT_DQ_SMTP_PORT", "2525")
    monkeypatch.setenv("COKLIT_DQ_COLLAPSE_THRESHOLD", "0.25")
    monkeypatch.setenv("COKLIT_DQ_RECIPIENTS", "/etc/coklit/penerima.yaml")
    monkeypatch.setenv("COKLIT_DQ_DUCKDB_THREADS", " ")  # empty: the default
    s = resolve_settings(collapse_threshold=0.75)
    assert (s.smtp_port, s.recipients_file) == (2525, Path("/etc/coklit/penerima.yaml"))
    assert s.collapse_threshold == 0.75  # an override wins over the environment
    assert s.duckdb_threads is None
