"""Settings, resolved in one place and never at import time.

Precedence: explicit arguments > environment (COKLIT_DQ_*) > files in config/.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
LINKAGE_DIR = PROJECT_ROOT / "linkage"

DEFAULT_ELECTION = "pilkada-2024"
DEFAULT_WAREHOUSE = "coklit-dq.duckdb"
DEFAULT_OUTBOX = "outbox"
DEFAULT_INBOX = "inbox"


@dataclass(frozen=True)
class Election:
    """The election the coklit is for (export-v1 "Election settings")."""

    kode: str
    nama: str
    hari_pemungutan: date
    maks_pemilih_per_tps: int
    usia_minimum: int
    kode_tms_valid: tuple[int, ...]

    @property
    def lahir_paling_lambat(self) -> date:
        """The last birth date that is of age on polling day (29 Feb -> 28 Feb)."""
        d = self.hari_pemungutan
        year = d.year - self.usia_minimum
        try:
            return d.replace(year=year)
        except ValueError:  # polling day on 29 Feb, target year not leap
            return date(year, 2, 28)


def load_elections(path: Path | None = None) -> dict[str, Election]:
    raw: dict[str, dict[str, Any]] = yaml.safe_load(
        (path or CONFIG_DIR / "elections.yaml").read_text(encoding="utf-8")
    )
    out = {}
    for kode, v in raw.items():
        hari = v["hari_pemungutan"]
        out[kode] = Election(
            kode=kode,
            nama=v["nama"],
            hari_pemungutan=hari if isinstance(hari, date) else date.fromisoformat(hari),
            maks_pemilih_per_tps=int(v["maks_pemilih_per_tps"]),
            usia_minimum=int(v["usia_minimum"]),
            kode_tms_valid=tuple(int(x) for x in v["kode_tms_valid"]),
        )
    return out


@dataclass(frozen=True)
class Settings:
    """Everything a night needs to know that is not in the export."""

    election: Election
    warehouse: str = DEFAULT_WAREHOUSE
    outbox: str = DEFAULT_OUTBOX
    quarantine: str | None = None  # default: <warehouse dir>/quarantine (never in the outbox)
    mask_ids: bool = True  # reports-v1: nik/nkk masked unless configured otherwise
    linkage_backend: str = "duckdb"  # or "spark"
    linkage_full: bool = False  # re-link every record tonight instead of only what changed
    recipients_file: Path = field(default=CONFIG_DIR / "recipients.yaml")
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "coklit-dq@kpu.go.id"
    storage_options: dict[str, Any] = field(default_factory=dict)
    # --- issue 9 (operations) -----------------------------------------------------
    source: str | None = None  # export root; a deployment reads it at run time (PATH_ENV)
    duckdb_memory_limit: str = "2GB"  # DuckDB memory_limit of the night (warehouse + Splink)
    duckdb_threads: int | None = None  # DuckDB's threads; None: DuckDB's default (all cores)
    # Nights whose snapshots are kept, counted back from the newest loaded night;
    # None keeps every night (the whole coklit period): a rerun of any earlier
    # night then gives its first run's findings. See docs/operations.md.
    snapshot_retention_nights: int | None = None
    # A province file with fewer records than this fraction of its last loaded
    # night (a header-only or truncated dump) is set aside, not taken as real.
    collapse_threshold: float = 0.5
    pusdatin_email: str | None = None  # who is mailed when a night fails
    # the Great Expectations Data Docs root (<root>/<date>/index.html) the national page
    # links to; None: <warehouse dir>/datadocs
    data_docs: str | None = None
    inbox: str = DEFAULT_INBOX  # tanggapan-v1: regions' responses (any fsspec root)
    # Spark backend of the linkage (full re-link). Defaults fit this 2-core machine in
    # local mode; on a cluster (docs/stages.md) e.g. master "yarn", driver memory 8g,
    # 400 shuffle partitions (~2-4 per executor core over the 205 M records).
    linkage_spark_master: str = "local[2]"
    linkage_spark_driver_memory: str = "3g"
    linkage_spark_partitions: int = 8


class SettingsError(ValueError):
    """Settings that cannot be used; the message names each wrong one by its variable."""


# How each setting's value is read, from its variable's text or from an override (a
# flag, a parameter): the typed value, or ValueError saying what the value must be.
# Every value is checked when the settings are resolved, so a typo in the worker's
# environment stops a night before any step runs, naming the variable, never an
# hour in, in a library's words.


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be 1/0, true/false, yes/no or on/off")


def _whole(low: int, high: int | None = None) -> Callable[[Any], int]:
    what = f"a whole number from {low}" + (f" to {high}" if high is not None else " up")

    def parse(value: Any) -> int:
        if isinstance(value, bool | float):
            raise ValueError(f"must be {what}")
        try:
            n = int(value)
        except ValueError:
            raise ValueError(f"must be {what}") from None
        if n < low or (high is not None and n > high):
            raise ValueError(f"must be {what}")
        return n

    return parse


def _fraction(value: Any) -> float:
    """A fraction strictly between 0 and 1 (0.5 is half), not a percent."""
    try:
        x = float(value)
    except ValueError:
        x = float("nan")
    if not 0 < x < 1:  # also NaN
        raise ValueError(
            "must be a fraction between 0 and 1, exclusive (0.5 is half), not a percent"
        )
    return x


LINKAGE_BACKENDS = ("duckdb", "spark")


def _backend(value: Any) -> str:
    text = str(value).strip().lower()
    if text not in LINKAGE_BACKENDS:
        raise ValueError(f"must be one of {', '.join(LINKAGE_BACKENDS)}")
    return text


# DuckDB's memory sizes (SET memory_limit): a number and a unit of 1000 (KB, MB, GB,
# TB; K, M, G, T; kilobytes ...) or 1024 (KiB, MiB, GiB, TiB), or a percent of the
# machine's memory. (tests/test_config.py checks that DuckDB takes what passes.)
_DUCKDB_SIZE = re.compile(
    r"(?P<n>[0-9]+(\.[0-9]*)?|\.[0-9]+)\s*([KMGT]B?|[KMGT]iB|(kilo|mega|giga|tera)bytes?|%)",
    re.IGNORECASE | re.ASCII,  # DuckDB reads ASCII digits only ('２GB' is refused there)
)


def duckdb_size(value: Any) -> str:
    """A DuckDB memory size such as 2GB, 512MiB or 80% (the setting duckdb_memory_limit)."""
    text = str(value).strip()
    m = _DUCKDB_SIZE.fullmatch(text)
    if m is None or float(m["n"]) <= 0:
        raise ValueError("must be a DuckDB memory size such as 2GB, 512MiB or 80%")
    return text


def _jvm_size(value: Any) -> str:
    """A JVM memory size (Spark's driver memory): 3g, 512m, 8192k."""
    text = str(value).strip()
    if not re.fullmatch(r"[1-9]\d*\s*[kmgtp]?b?", text, re.IGNORECASE):
        raise ValueError("must be a JVM memory size such as 3g or 512m")
    return text


def _address(value: Any) -> str:
    text = str(value).strip()
    if not re.fullmatch(r"[^@\s,]+@[^@\s,]+", text):
        raise ValueError("must be an email address (name@domain)")
    return text


def _addresses(value: Any) -> str:
    """One or more email addresses, comma-separated."""
    for part in str(value).split(","):
        if part.strip():
            _address(part)
        else:
            raise ValueError("must be email addresses separated by commas")
    return str(value).strip()


# Each setting's environment variable and how its value is read; a variable unset or
# empty leaves the setting at its default, which lives once, in `Settings` above.
# (A new setting: its field at the end of Settings, its variable at the end here.)
ENV: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "warehouse": ("COKLIT_DQ_WAREHOUSE", str),
    "outbox": ("COKLIT_DQ_OUTBOX", str),
    "quarantine": ("COKLIT_DQ_QUARANTINE", str),
    "mask_ids": ("COKLIT_DQ_MASK_IDS", _flag),
    "linkage_backend": ("COKLIT_DQ_LINKAGE_BACKEND", _backend),
    "linkage_full": ("COKLIT_DQ_LINKAGE_FULL", _flag),
    "recipients_file": ("COKLIT_DQ_RECIPIENTS", Path),
    "smtp_host": ("COKLIT_DQ_SMTP_HOST", str),
    "smtp_port": ("COKLIT_DQ_SMTP_PORT", _whole(1, 65535)),
    "mail_from": ("COKLIT_DQ_MAIL_FROM", _address),
    "source": ("COKLIT_DQ_SOURCE", str),
    "duckdb_memory_limit": ("COKLIT_DQ_DUCKDB_MEMORY_LIMIT", duckdb_size),
    "duckdb_threads": ("COKLIT_DQ_DUCKDB_THREADS", _whole(1)),
    "snapshot_retention_nights": ("COKLIT_DQ_SNAPSHOT_RETENTION_NIGHTS", _whole(1)),
    "collapse_threshold": ("COKLIT_DQ_COLLAPSE_THRESHOLD", _fraction),
    "pusdatin_email": ("COKLIT_DQ_PUSDATIN_EMAIL", _addresses),
    "data_docs": ("COKLIT_DQ_DATA_DOCS", str),
    "inbox": ("COKLIT_DQ_INBOX", str),
    "linkage_spark_master": ("COKLIT_DQ_SPARK_MASTER", str),
    "linkage_spark_driver_memory": ("COKLIT_DQ_SPARK_DRIVER_MEMORY", _jvm_size),
    "linkage_spark_partitions": ("COKLIT_DQ_SPARK_PARTITIONS", _whole(1)),
}


# The paths a deployment needs, and the environment variable of each. A
# deployed run resolves them at run time (flow parameter > Prefect Variable of
# the same name in lower case > the worker's environment), so moving a path
# needs no redeploy (docs/operations.md). The inbox is one of them: its default,
# ./inbox, would be the worker's checkout, where no region's answer ever lands.
PATH_ENV = {
    "source": "COKLIT_DQ_SOURCE",
    "outbox": "COKLIT_DQ_OUTBOX",
    "warehouse": "COKLIT_DQ_WAREHOUSE",
    "inbox": "COKLIT_DQ_INBOX",
}


def select_election(code: str | None = None) -> Election:
    """The election named `code`, else COKLIT_DQ_ELECTION, else Pilkada 2024.

    Raises ValueError naming the configured ones when there is no such election.
    """
    code = code or os.environ.get("COKLIT_DQ_ELECTION") or DEFAULT_ELECTION
    elections = load_elections()
    if code not in elections:
        raise ValueError(f"unknown election {code!r}; configured: {', '.join(sorted(elections))}")
    return elections[code]


def resolve_settings(**overrides: Any) -> Settings:
    """The one Settings: config files, then COKLIT_DQ_* variables (ENV), then overrides.

    Overrides whose value is None or "" are ignored, so CLI flags and deployment
    parameters can be passed as-is. Every value is checked (ENV's readers): a wrong
    one raises SettingsError naming its variable, with every other wrong one.
    """
    settings, problems = _read(overrides)
    if problems:
        raise SettingsError("; ".join(problems))
    return settings


def readable_settings() -> tuple[Settings, list[str]]:
    """What can be read when `resolve_settings` fails: each value that is right, the
    default for each that is not (the default election for an unknown one), and what
    is wrong. For telling someone that the settings are wrong (the failure mail, which
    needs only the mail settings); a night never runs on these."""
    return _read({})


def _read(overrides: dict[str, Any]) -> tuple[Settings, list[str]]:
    problems: list[str] = []
    try:
        election = select_election(overrides.pop("election", None))
    except ValueError as exc:
        problems.append(str(exc))
        election = load_elections()[DEFAULT_ELECTION]
    values: dict[str, Any] = {"election": election}
    for name, (variable, parse) in ENV.items():
        text = os.environ.get(variable, "").strip()
        if text:
            try:
                values[name] = parse(text)
            except ValueError as exc:
                problems.append(f"{variable}={text!r}: {exc}")
    for name, given in overrides.items():
        if given is None or given == "":
            continue
        if name not in ENV:  # code only (storage_options)
            values[name] = given
            continue
        try:
            values[name] = ENV[name][1](given)
        except ValueError as exc:
            problems.append(f"{name}={given!r} (setting of {ENV[name][0]}): {exc}")
    return Settings(**values), problems


def origin(name: str) -> str:
    """Where `resolve_settings` takes setting `name` from when no override gives it: its
    environment variable when that is set, else "default" (so a command can say which
    warehouse it writes, and why)."""
    variable = ENV[name][0]
    return variable if os.environ.get(variable, "").strip() else "default"
