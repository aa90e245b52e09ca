"""Stages 2-3: the deterministic rules of reports-v1, run by Great Expectations.

`run_rules(con, tanggal, settings)` is the stage's entry point (`run_rules_night`
also writes the night's Data Docs beside the warehouse and says where); the catalog
(`load_catalog`, `load_families`, `Rule`) is read by every other stage too.
"""

from coklit_dq.rules.catalog import Rule, load_catalog, load_families
from coklit_dq.rules.engine import RulesResult, run_rules, run_rules_night

__all__ = [
    "Rule", "RulesResult", "load_catalog", "load_families", "run_rules", "run_rules_night",
]  # fmt: skip
