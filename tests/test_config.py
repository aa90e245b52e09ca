import re
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


@pytest.fixture
def clean_env(monkeypatch):
    from coklit_dq.config import ENV

    for variable, _parse in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.delenv("COKLIT_DQ_ELECTION", raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    ("variable", "text", "said"),
    [
        ("COKLIT_DQ_SMTP_PORT", "abc", "whole number from 1 to 65535"),
        ("COKLIT_DQ_DUCKDB_MEMORY_LIMIT", "banana", "DuckDB memory size"),
        ("COKLIT_DQ_DUCKDB_THREADS", "0", "whole number from 1"),
        ("COKLIT_DQ_LINKAGE_BACKEND", "sparkk", "one of duckdb, spark"),
        ("COKLIT_DQ_COLLAPSE_THRESHOLD", "50", "fraction between 0 and 1"),
        ("COKLIT_DQ_COLLAPSE_THRESHOLD", "0,5", "fraction between 0 and 1"),
        ("COKLIT_DQ_SNAPSHOT_RETENTION_NIGHTS", "7d", "whole number from 1"),
        ("COKLIT_DQ_SPARK_PARTITIONS", "eight", "whole number from 1"),
        ("COKLIT_DQ_SPARK_DRIVER_MEMORY", "3 gigs", "JVM memory size"),
        ("COKLIT_DQ_MASK_IDS", "maybe", "true/false"),
        ("COKLIT_DQ_PUSDATIN_EMAIL", "pusdatin", "email address"),
    ],
)
def test_a_wrong_setting_is_refused_when_resolved_naming_its_variable(
    clean_env, variable, text, said
):
    from coklit_dq.config import SettingsError

    clean_env.setenv(variable, text)
    with pytest.raises(SettingsError) as err:
        resolve_settings()
    assert f"{variable}={text!r}: " in str(err.value)
    assert said in str(err.value)


def test_every_wrong_setting_is_named_at_once_and_overrides_are_checked_too(clean_env):
    from coklit_dq.config import SettingsError

    clean_env.setenv("COKLIT_DQ_SMTP_PORT", "abc")
    clean_env.setenv("COKLIT_DQ_DUCKDB_THREADS", "-2")
    with pytest.raises(SettingsError) as err:
        resolve_settings(collapse_threshold=1.0)
    message = str(err.value)
    for named in ("COKLIT_DQ_SMTP_PORT", "COKLIT_DQ_DUCKDB_THREADS", "COLLAPSE_THRESHOLD"):
        assert named in message


def test_what_can_be_read_of_wrong_settings_is_enough_to_mail(clean_env):
    """The failure mail needs only the mail settings (flows.runtime.mail_failure)."""
    from coklit_dq.config import readable_settings

    clean_env.setenv("COKLIT_DQ_SMTP_HOST", "mail.kpu.example")
    clean_env.setenv("COKLIT_DQ_SMTP_PORT", "2525")
    clean_env.setenv("COKLIT_DQ_PUSDATIN_EMAIL", "pusdatin@kpu.example")
    clean_env.setenv("COKLIT_DQ_DUCKDB_THREADS", "0")
    clean_env.setenv("COKLIT_DQ_ELECTION", "pemilu-1955")
    settings, wrong = readable_settings()
    assert (settings.smtp_host, settings.smtp_port) == ("mail.kpu.example", 2525)
    assert settings.pusdatin_email == "pusdatin@kpu.example"
    assert settings.duckdb_threads is None  # the default in place of the wrong value
    assert len(wrong) == 2 and "pemilu-1955" in wrong[0] and "COKLIT_DQ_DUCKDB_THREADS" in wrong[1]


@pytest.mark.parametrize(
    "size", ["2GB", "2 GB", "512MiB", "1.5gb", "3G", "4 gigabytes", "80%", "700MB", ".5TB"]
)
def test_a_memory_limit_that_passes_is_one_duckdb_takes(size):
    import duckdb

    from coklit_dq.config import duckdb_size

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{duckdb_size(size)}'")
    con.close()


@pytest.mark.parametrize("size", ["banana", "2", "0GB", "2GB; DROP TABLE runs", "-1"])
def test_a_memory_limit_duckdb_would_refuse_or_take_for_no_limit_does_not_pass(size):
    from coklit_dq.config import duckdb_size

    with pytest.raises(ValueError, match="DuckDB memory size"):
        duckdb_size(size)


def test_the_operations_guide_lists_every_setting():
    """An operator sets what docs/operations.md lists: a setting missing there is one a
    deployment never sets (the inbox was: answers were read from the checkout)."""
    from coklit_dq.config import ENV, PATH_ENV, PROJECT_ROOT

    guide = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    table = guide.split("Every setting (", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"`(COKLIT_DQ_[A-Z_]+)`", table))
    assert {variable for variable, _parse in ENV.values()} | {"COKLIT_DQ_ELECTION"} <= listed
    for variable in PATH_ENV.values():  # the deployment's Variables, step 4
        assert f"prefect variable set {variable.lower()} " in guide
