"""The one module that speaks Great Expectations (1.24).

It turns the typed rule form (a rule's `periksa.expectations`: type + kwargs
each) into GX expectations and suites, validates pandas batches with them and
hands back, per finding code and expectation, the row ids (`rid`) that failed:
GX's unexpected rows are the findings. An upgrade of GX touches this file only.

Measured on GX 1.24.1: the SQL datasource on DuckDB needs a SQLAlchemy dialect
for DuckDB that GX does not ship (and a regex function for it: private API),
so batches are pandas frames (only the columns the suite reads);
`result_format` COMPLETE with `unexpected_index_column_names` returns every
failing row id on pandas. `row_condition` is pandas query syntax.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

log = logging.getLogger(__name__)

ROW_ID = "rid"
# The batch's index is the row id (named ROW_ID): with exclude_unexpected_values GX
# then hands back every failing id as one list, instead of one dict per failing row
# built with a pandas lookup each (most of GX's time at 1 M records otherwise).
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_ID],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": 0,
}
# Keys of a GX result that hold per-row lists: dropped from what is kept.
_ROW_KEYS = (
    "partial_unexpected_list",
    "partial_unexpected_counts",
    "partial_unexpected_index_list",
    "unexpected_list",
    "unexpected_index_list",
    "unexpected_index_query",
)

KODE_META = "kode_temuan"
URUTAN_META = "urutan"  # the expectation's place in its rule (0, 1, ...)
CONDITION_PARSER = "pandas"
SAMPLE = 20  # failing rows kept per expectation in the report (Data Docs)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Check:
    """One expectation of a rule as GX sees it: its type, its kwargs, the code it reports."""

    kode_temuan: str
    type: str  # e.g. expect_column_values_to_be_in_set
    kwargs: Mapping[str, Any]
    urutan: int = 0  # its place among the rule's expectations

    def columns(self, available: Sequence[str] | None = None) -> list[str]:
        """Columns the expectation reads (those named in its row_condition among `available`)."""
        cols = [str(self.kwargs[k]) for k in ("column", "column_A", "column_B") if k in self.kwargs]
        cols += [str(c) for c in self.kwargs.get("column_list") or ()]
        cond = self.kwargs.get("row_condition")
        if isinstance(cond, str) and available is not None:
            cols += [n for n in _NAME.findall(cond) if n in available]
        return list(dict.fromkeys(cols))

    def gx_kwargs(self) -> dict[str, Any]:
        kw = dict(self.kwargs)
        if kw.get("row_condition"):
            kw.setdefault("condition_parser", CONDITION_PARSER)
        return kw


@dataclass(frozen=True)
class Outcome:
    """What GX said about one check on one batch."""

    kode_temuan: str
    urutan: int
    expectation: str
    success: bool
    element_count: int
    unexpected_count: int
    failed_rids: list[int]
    result_json: str  # the GX result without per-row lists


def expectation_class(type_name: str) -> type:
    """expect_column_values_to_be_in_set -> gx.expectations.ExpectColumnValuesToBeInSet."""
    import great_expectations.expectations as gxe

    camel = "".join(part[:1].upper() + part[1:] for part in type_name.split("_"))
    cls = getattr(gxe, camel, None)
    if cls is None:
        raise ValueError(f"unknown Great Expectations expectation {type_name!r}")
    return cls


class GxRunner:
    """One ephemeral GX context for a run: suites per prepared table, pandas batches."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._gx = gx
        # GX logs each ephemeral context's temporary docs folder at INFO: noise in a night's log
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
        # pandas warns on every regex with groups that GX passes to str.contains
        warnings.filterwarnings(
            "ignore",
            message="This pattern is interpreted as a regular expression",
            category=UserWarning,
        )
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self._source = self.context.data_sources.add_pandas("coklit_dq")
        self._suites: dict[str, Any] = {}
        self._batch_defs: dict[str, Any] = {}
        self._definitions: dict[tuple[str, str], Any] = {}

    def suite(self, name: str, checks: Sequence[Check]) -> Any:
        """The suite of a prepared table: one expectation per rule, tagged with its code."""
        if name in self._suites:
            return self._suites[name]
        suite = self._gx.ExpectationSuite(name=name)
        for c in checks:
            cls = expectation_class(c.type)
            meta = {KODE_META: c.kode_temuan, URUTAN_META: c.urutan}
            suite.add_expectation(cls(**c.gx_kwargs(), meta=meta))
        self._suites[name] = self.context.suites.add(suite)
        return self._suites[name]

    def _batch_definition(self, asset: str) -> Any:
        if asset not in self._batch_defs:
            a = self._source.add_dataframe_asset(asset)
            self._batch_defs[asset] = a.add_batch_definition_whole_dataframe(asset)
        return self._batch_defs[asset]

    def validate(self, asset: str, frame: pd.DataFrame, suite: Any) -> tuple[list[Outcome], str]:
        """Validate one batch: every failing row's `rid` per code, and GX's report as JSON.

        The report is GX's own ExpectationSuiteValidationResult with its per-row
        lists cut to a sample (it is what Data Docs are built from).
        """
        if frame.index.name != ROW_ID:
            frame = frame.set_index(ROW_ID)
        frame._consolidate_inplace()  # once, not in every metric GX computes
        key = (asset, suite.name)
        if key not in self._definitions:  # one validation definition per table, reused
            self._definitions[key] = self._gx.ValidationDefinition(
                data=self._batch_definition(asset), suite=suite, name=f"{asset}:{suite.name}"
            )
        result = self._definitions[key].run(
            batch_parameters={"dataframe": frame}, result_format=RESULT_FORMAT
        )
        outcomes = []
        for r in result.results:
            cfg = r.expectation_config
            kode = str((cfg.meta or {}).get(KODE_META))
            urutan = int((cfg.meta or {}).get(URUTAN_META) or 0)
            res = dict(r.result or {})
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"Great Expectations failed on {kode} ({cfg.type}): "
                    f"{r.exception_info.get('exception_message')}"
                )
            rids = failed_ids(res.get("unexpected_index_list"))
            kept = {k: v for k, v in res.items() if k not in _ROW_KEYS}
            outcomes.append(
                Outcome(
                    kode_temuan=kode,
                    urutan=urutan,
                    expectation=str(cfg.type),
                    success=bool(r.success),
                    element_count=int(res.get("element_count") or 0),
                    unexpected_count=int(res.get("unexpected_count") or 0),
                    failed_rids=rids,
                    result_json=json.dumps(
                        {"kwargs": _plain(cfg.kwargs), "result": _plain(kept)}, sort_keys=True
                    ),
                )
            )
            # the report keeps a sample of the failing rows, not all of them
            if rids:
                r.result["unexpected_index_list"] = [{ROW_ID: rids[:SAMPLE]}]
            for name in ("unexpected_list", "partial_unexpected_list"):
                if isinstance(res.get(name), list):
                    r.result[name] = res[name][:SAMPLE]
            r.result.pop("unexpected_index_query", None)
        return outcomes, json.dumps(_plain(result.to_json_dict()))


def failed_ids(index_list: Any) -> list[int]:
    """Row ids from GX's unexpected_index_list: [{rid: [ids...]}] (ids excluded from values),
    or one {rid: id} per row."""
    out: list[int] = []
    for item in index_list or []:
        value = item[ROW_ID] if isinstance(item, Mapping) else item
        if isinstance(value, list | tuple):
            out.extend(int(v) for v in value)
        else:
            out.append(int(value))
    return out


def _plain(value: Any) -> Any:
    """JSON-friendly copy of a GX dict (numpy scalars to Python)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    return value


# --- Data Docs, offline ---------------------------------------------------------------

# GX's page templates load Bootstrap, jQuery, Vega and Font Awesome from CDNs.
# The pages are rendered with GX's own renderer, then those tags are removed and
# GX's local stylesheets plus a few plain rules are inlined, so a page opens
# without network (less styled than online; charts are not drawn).
_CDN_TAG = re.compile(
    r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>"
    r"|<link[^>]*\bhref=\"https?://[^>]*>|<img[^>]*\bsrc=\"https?://[^>]*>",
    re.IGNORECASE,
)
_OFFLINE_CSS = """
body { font-family: system-ui, sans-serif; margin: 1rem 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
td, th { border: 1px solid #ccc; padding: .25rem .5rem; vertical-align: top; }
.container-fluid, .row, .col-12, .col-md-12 { display: block; width: 100%; }
.card { border: 1px solid #ddd; margin: .75rem 0; padding: .5rem; }
.text-danger { color: #b00020; } .text-success { color: #1b7f3b; }
.collapse:not(.show) { display: block; }
"""


def render_offline_page(report_json: str) -> str:
    """One GX validation report (JSON from `validate`) as a self-contained HTML page."""
    from importlib.resources import files

    from great_expectations.core.expectation_validation_result import (
        expectationSuiteValidationResultSchema,
    )
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    result = expectationSuiteValidationResultSchema.load(json.loads(report_json))
    html = DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result))
    html = _CDN_TAG.sub("", html)
    styles = files("great_expectations.render.view") / "static" / "styles"
    css = _OFFLINE_CSS + styles.joinpath("data_docs_default_styles.css").read_text("utf-8")
    return html.replace("</head>", f"<style>{css}</style></head>", 1)
