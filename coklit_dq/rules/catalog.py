"""The findings catalog: expectations/rules/<KODE_TEMUAN>.yaml loaded into a typed form.

Every finding code has one file named after it; this module only reads them.
Producers (rules, linkage) take `tingkat` from here, publishers take the
family (one xlsx sheet each) and the Indonesian title.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
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
    pass


_CORE = ("kode_temuan", "keluarga", "tingkat", "unit", "judul", "deskripsi", "tindakan")
_V11 = ("prioritas", "ditangani_oleh")


def load_rule(path: Path) -> Rule:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise CatalogError(f"{path}: expected a mapping")
    missing = [k for k in _CORE if k not in raw]
    if missing:
        raise CatalogError(f"{path}: missing {', '.join(missing)}")
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
