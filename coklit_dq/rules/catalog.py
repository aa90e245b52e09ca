"""The findings catalog: expectations/rules/<KODE_TEMUAN>.yaml loaded into a typed form.

Every finding code has one file named after it; this module only reads them.
Producers (rules, linkage) take `tingkat` from here, publishers take the
family (one xlsx sheet each) and the Indonesian title.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from coklit_dq.config import EXPECTATIONS_DIR
from coklit_dq.contract import DITANGANI_OLEH, PRIORITAS, TINGKAT

UNITS = ("pemilih", "tps", "desa", "pantarlih")


@dataclass(frozen=True)
class Rule:
    kode_temuan: str
    keluarga: str
    tingkat: str
    unit: str
    judul: str
    deskripsi: str
    tindakan: str
    parameter: dict[str, Any] = field(default_factory=dict)
    # v1.1 (reports-v1): the order a region works in (1 first) and who acts on a row
    prioritas: int = 2
    ditangani_oleh: str = "PPS"
    # Everything else the file holds (how the rule is checked); read by the
    # rule engine, opaque to everyone else.
    spec: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def butuh_tabel(self) -> tuple[str, ...]:
        """Export tables besides pemilih the rule needs (`periksa.butuh_tabel`)."""
        return tuple((self.spec.get("periksa") or {}).get("butuh_tabel") or ())

    @property
    def peristiwa(self) -> bool:
        """A change between two nights (`periksa.butuh_malam_lalu`): found on one night only.

        It is not a standing state that is later fixed, so it is never "resolved"."""
        return bool((self.spec.get("periksa") or {}).get("butuh_malam_lalu", False))


class CatalogError(ValueError):
    """A rule file that cannot be used: the message starts with the file, then says what
    and where (the YAML line, the key), on one line (it is a night's failure reason)."""


_CORE = ("kode_temuan", "keluarga", "tingkat", "unit", "judul", "deskripsi", "tindakan")
_V11 = ("prioritas", "ditangani_oleh")
_KEYS = (*_CORE, *_V11, "parameter", "periksa")
# a `periksa` block: what it must have, and everything it may have (rules/engine.py)
_PERIKSA_NEEDS = ("tabel", "expectations", "keterangan")
_PERIKSA_KEYS = (
    *_PERIKSA_NEEDS, "nilai", "butuh_tabel", "butuh_malam_lalu", "butuh_dibuat",
    "id_kelompok", "kecuali",
)  # fmt: skip
_EXPECTATION_KEYS = ("type", "kwargs", "alasan")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """The hint ' (did you mean x?)' when `name` looks like a misspelling of one of `known`."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _unknown(keys: Iterable[Any], known: tuple[str, ...], where: str) -> str | None:
    for key in keys:
        if key not in known:
            return f"unknown key {key!r}{where}{did_you_mean(str(key), known)}"
    return None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """PyYAML's error on one line, with its line and column (1-based)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark, begun = exc.problem_mark, exc.context_mark
        text = f"YAML error at line {mark.line + 1}, column {mark.column + 1}: {exc.problem}"
        if exc.context:  # where what it was reading began: often the line to fix
            at = f" at line {begun.line + 1}, column {begun.column + 1}" if begun else ""
            text += f" ({exc.context}{at})"
        return text
    return f"YAML error: {' '.join(str(exc).split())}"


def _periksa_problem(periksa: Any) -> str | None:
    """What is wrong with the shape of a `periksa` block (GX checks the expectations
    themselves: rules/engine.py periksa_of), or None."""
    if not isinstance(periksa, dict):
        return "periksa must be a mapping"
    missing = [k for k in _PERIKSA_NEEDS if not periksa.get(k)]
    if missing:
        return f"periksa: missing {', '.join(missing)}"
    unknown = _unknown(periksa, _PERIKSA_KEYS, " in periksa")
    if unknown:
        return unknown
    expectations = periksa["expectations"]
    if not isinstance(expectations, list):
        return "periksa.expectations must be a list"
    for i, e in enumerate(expectations, 1):
        where = f"periksa.expectations item {i}"
        if not isinstance(e, dict) or not isinstance(e.get("type"), str):
            return f"{where}: needs a type (a Great Expectations expectation)"
        unknown = _unknown(e, _EXPECTATION_KEYS, f" in {where}")
        if unknown:
            return unknown
        if not isinstance(e.get("kwargs") or {}, dict):
            return f"{where}: kwargs must be a mapping"
    return None


def load_rule(path: Path) -> Rule:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: {_yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping")
    missing = [k for k in _CORE if k not in raw]
    if missing:
        raise CatalogError(f"{path}: missing {', '.join(missing)}")
    empty = [k for k in _CORE if not str(raw[k] or "").strip()]
    if empty:
        raise CatalogError(f"{path}: empty {', '.join(empty)}")
    problem = _unknown(raw, _KEYS, "") or (
        _periksa_problem(raw["periksa"]) if "periksa" in raw else None
    )
    if problem:
        raise CatalogError(f"{path}: {problem}")
    if not isinstance(raw.get("parameter") or {}, dict):
        raise CatalogError(f"{path}: parameter must be a mapping")
    if raw["kode_temuan"] != path.stem:
        raise CatalogError(f"{path}: kode_temuan {raw['kode_temuan']!r} differs from file name")
    if raw["tingkat"] not in TINGKAT:
        raise CatalogError(f"{path}: tingkat must be one of {TINGKAT}")
    if raw["unit"] not in UNITS:
        raise CatalogError(f"{path}: unit must be one of {UNITS}")
    if raw.get("prioritas", 2) not in PRIORITAS:
        raise CatalogError(f"{path}: prioritas must be one of {PRIORITAS}")
    if raw.get("ditangani_oleh", "PPS") not in DITANGANI_OLEH:
        raise CatalogError(f"{path}: ditangani_oleh must be one of {DITANGANI_OLEH}")
    spec = {k: v for k, v in raw.items() if k not in (*_CORE, *_V11, "parameter")}
    return Rule(
        **{k: raw[k] for k in _CORE},
        **{k: raw[k] for k in _V11 if k in raw},
        parameter=dict(raw.get("parameter") or {}),
        spec=spec,
        path=path,
    )


@cache
def load_catalog(directory: Path = EXPECTATIONS_DIR) -> dict[str, Rule]:
    rules = [load_rule(p) for p in sorted((directory / "rules").glob("*.yaml"))]
    families = load_families(directory)
    for r in rules:  # one sheet per family: a rule of no family would be on none
        if r.keluarga not in families:
            raise CatalogError(
                f"{r.path}: keluarga {r.keluarga!r} is not in families.yaml"
                f"{did_you_mean(r.keluarga, families)}"
            )
    return {r.kode_temuan: r for r in rules}


@cache
def load_families(directory: Path = EXPECTATIONS_DIR) -> dict[str, str]:
    """Family code -> sheet title, in sheet order."""
    raw = yaml.safe_load((directory / "families.yaml").read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in raw.items()}


# --- settings in rule files ---------------------------------------------------------------
#
# One placeholder syntax: `${source.name}` anywhere in a rule's periksa block (an
# expectation's kwargs, keterangan, alasan, nilai). Sources: `election` (the
# configured election), `parameter` (the rule's own `parameter:`), `kontrak`
# (patterns of the contracts) and `malam` (the night: tanggal, lalu, dibuat).
# A value that is exactly one placeholder becomes the setting itself (a number
# stays a number, a list a list); inside text it is written as text.

PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\.([a-z_][a-z0-9_]*)\}")


def fill_settings(
    value: Any, sources: Mapping[str, Mapping[str, Any]], teks: Callable[[Any], str] = str
) -> Any:
    """`value` with every `${source.name}` of the given sources replaced (recursively).

    `teks` writes a setting that stands inside a longer string (for the texts a
    region reads: `bahasa.teks`, so a date reads `2 Juli 2024`).

    Placeholders of a source not given are left as they are (filled later);
    an unknown name of a given source is an error.
    """
    if isinstance(value, Mapping):
        return {k: fill_settings(v, sources, teks) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [fill_settings(v, sources, teks) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(m: re.Match[str]) -> tuple[bool, Any]:
        source, name = m.group(1), m.group(2)
        if source not in sources:
            return False, m.group(0)
        if name not in sources[source]:
            raise ValueError(f"no {source} setting {name!r} (in {value!r})")
        return True, sources[source][name]

    whole = PLACEHOLDER.fullmatch(value)
    if whole:
        return lookup(whole)[1]
    return PLACEHOLDER.sub(lambda m: teks(lookup(m)[1]), value)
