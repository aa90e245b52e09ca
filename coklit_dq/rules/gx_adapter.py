"""The one module that speaks Great Expectations (1.24).

It turns the typed rule form (a rule's `periksa.expectations`: type + kwargs
each) into GX expectations and suites, validates the night's prepared DuckDB
tables with them and hands back, per finding code and expectation, the row ids
(`rid`) that failed: GX's unexpected rows are the findings. An upgrade of GX
touches this file only.

Engine: GX's SQL engine (SqlAlchemyExecutionEngine) on the night's own DuckDB
connection, through the `duckdb_engine` SQLAlchemy dialect: every expectation
becomes a query that DuckDB runs over the prepared table where it is, nothing
is copied into pandas. Two things GX 1.24 lacks for DuckDB are supplied here
(private API, pinned in constraints.txt, smoke-tested in tests/test_rules_engine.py):

- the connection is borrowed, not owned: GX's queries run on the connection
  that holds the night's TEMP tables, and GX never begins, commits, rolls back
  or closes it (GX reads a query's rows after handing its connection back to
  the pool, which for DuckDB would end the pending result with a rollback);
- a regex for the dialect: GX has none for "duckdb" (it raises), so regex
  expectations use DuckDB's `regexp_matches` (RE2, a search like Python's
  `re.search`, which is what GX's pandas engine does).

Four more private parts cut GX's own cost, not what it decides (same pin, same tests):

- GX's map expectations ask for the failing values even when the result format
  excludes them: one more full-table query per expectation, a third of its queries.
  `install_lean_dependencies` drops that metric (and the index-query text we never
  ask for) from the expectation's dependencies;
- GX asks for the failing ids of every expectation, one more full scan each that
  repeats its condition, even where its own count is 0: `install_ids_without_own_query`
  gives the ids of a regex expectation from GX's bundled count query of its domain (one
  more aggregate, the regex evaluated once), and makes the others wait for GX's count
  and skip their query at 0 (GX's answer for no row, []);
- GX rebuilds an expectation's configuration each time a kwarg is read (a third of
  its Python time here); `configurations_built_once` builds it once per expectation
  object while a suite is validated;
- GX computes the id of every metric's kwargs (JSON conversion, sorted JSON, md5), two per
  metric, thousands per suite, mostly for kwargs it has seen: `metric_ids_computed_once`
  computes each once per content while a suite is validated.

`result_format` COMPLETE with `unexpected_index_column_names: [rid]` returns the
failing row ids; on SQL GX cuts that list at `partial_unexpected_count`, so it
is set above any table's size. `row_condition` is GX's own condition form
(`{type: comparison, column: {name: ...}, operator: '!=', parameter: ...}`,
`nullity`, `and`, `or`), which GX turns into the query's WHERE.
"""

from __future__ import annotations

import json
import logging
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb

from coklit_dq.rules.catalog import did_you_mean

log = logging.getLogger(__name__)

ROW_ID = "rid"
# More than any prepared table holds: GX's SQL engine cuts the failing ids at this.
ALL_ROWS = 10**12
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "unexpected_index_column_names": [ROW_ID],
    "exclude_unexpected_values": True,
    "return_unexpected_index_query": False,
    "partial_unexpected_count": ALL_ROWS,
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
SAMPLE = 20  # failing rows kept per expectation in the report (Data Docs)
DIALECT = "duckdb"


@dataclass(frozen=True)
class Check:
    """One expectation of a rule as GX sees it: its type, its kwargs, the code it reports."""

    kode_temuan: str
    type: str  # e.g. expect_column_values_to_be_in_set
    kwargs: Mapping[str, Any]
    urutan: int = 0  # its place among the rule's expectations

    def gx_kwargs(self) -> dict[str, Any]:
        return dict(self.kwargs)


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
    if not isinstance(cls, type):
        known = [_snake(n) for n in dir(gxe) if n.startswith("Expect")]
        raise ValueError(
            f"unknown Great Expectations expectation {type_name!r}{did_you_mean(type_name, known)}"
        )
    return cls


def _snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def check_expectation(check: Check) -> None:
    """Raise ValueError, on one line, unless GX takes `check` as it is written: a known
    expectation, only kwargs it has (a misspelt `max_valu` named, with the likely one),
    each of a type it accepts. Run when a rule is read, so a broken rule file is named
    before any table is prepared."""
    cls = expectation_class(check.type)
    fields: Mapping[str, Any] = getattr(cls, "__fields__", {})  # pydantic v1 (GX 1.24)
    for name in check.kwargs:
        if name not in fields:
            raise ValueError(f"{check.type} has no kwarg {name!r}{did_you_mean(name, fields)}")
    try:
        cls(**check.gx_kwargs())
    except Exception as exc:  # GX's pydantic ValidationError: one entry per field and type
        errors = getattr(exc, "errors", None)
        if not callable(errors):
            raise ValueError(f"{check.type}: {' '.join(str(exc).split())}") from None
        said: dict[str, str] = {}
        for e in errors():
            field = ".".join(str(x) for x in e.get("loc", ()) if x != "__root__")
            said.setdefault(field, str(e.get("msg", "")))
        told = []
        for f, m in said.items():  # a field's first error (a union type gives one per member)
            if f in check.kwargs:
                told.append(f"{f}={check.kwargs[f]!r}: {m}")
            else:
                told.append(f"{f}: {m}" if f else m)
        raise ValueError(f"{check.type}: {'; '.join(told)}") from None


# --- what GX 1.24 lacks for DuckDB (private API: pinned and smoke-tested) --------------


def _duckdb_regex(original: Any) -> Any:
    """GX's get_dialect_regex_expression, with DuckDB's regexp_matches for "duckdb"."""
    import sqlalchemy as sa

    def regex_expression(column: Any, regex: str, dialect: Any, positive: bool = True) -> Any:
        if getattr(dialect, "name", None) == DIALECT:
            found = sa.func.regexp_matches(column, sa.literal(regex))
            return found if positive else sa.not_(found)
        return original(column, regex, dialect, positive)

    regex_expression.coklit_duckdb = True  # type: ignore[attr-defined]
    return regex_expression


def install_duckdb_regex() -> None:
    """Give GX's regex metrics a regex for DuckDB (once per process)."""
    from great_expectations.expectations.metrics.column_map_metrics import (
        column_values_match_regex,
        column_values_not_match_regex,
    )

    for module in (column_values_match_regex, column_values_not_match_regex):
        fn = module.get_dialect_regex_expression
        if not getattr(fn, "coklit_duckdb", False):
            module.get_dialect_regex_expression = _duckdb_regex(fn)  # type: ignore[attr-defined]


# Metrics GX computes for a map expectation whatever the result_format excludes: the failing
# values (one more query per expectation, over the whole table) and the text of a query for
# the failing rows (which, on SQL, leaves out the row_condition: not one to run).
_UNASKED = (".unexpected_values", ".unexpected_index_query")


def _lean(original: Any) -> Any:
    """A map expectation's get_validation_dependencies without the metrics the result
    format excludes (`exclude_unexpected_values`, `return_unexpected_index_query: False`)."""

    def get_validation_dependencies(
        self: Any, execution_engine: Any = None, runtime_configuration: Any = None
    ) -> Any:
        deps = original(
            self, execution_engine=execution_engine, runtime_configuration=runtime_configuration
        )
        fmt = deps.result_format
        if fmt.get("exclude_unexpected_values") and not fmt.get("return_unexpected_index_query"):
            for name in deps.get_metric_names():
                if name.endswith(_UNASKED):
                    deps.remove_metric_configuration(name)
        return deps

    get_validation_dependencies.coklit_lean = True  # type: ignore[attr-defined]
    return get_validation_dependencies


def install_lean_dependencies() -> None:
    """Let GX's map expectations skip the metrics our result format excludes (once)."""
    from great_expectations.expectations.expectation import (
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    for cls in (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation):
        fn = cls.__dict__["get_validation_dependencies"]
        if not getattr(fn, "coklit_lean", False):
            cls.get_validation_dependencies = _lean(fn)  # type: ignore[method-assign]


# GX asks its SQL engine for every map expectation's failing ids with one more query each: a
# full scan that repeats the expectation's condition. Two cuts, by what the condition costs:
# - a regex (RE2, about 70 ms per million rows; nik, nkk, kode_desa and nama each have one or
#   more): the ids are one more aggregate of the query GX already runs per domain (row
#   condition) for the counts, `list(rid) FILTER (WHERE <GX's unexpected condition>)`, and
#   DuckDB evaluates the regex once for both;
# - anything else (a comparison, a set, a null test: a few ms per million rows, less than a
#   FILTER aggregate on every expectation would add to the bundle): GX's own ids query, run
#   only when GX's count of failures is not 0.
_REGEX_METRICS = (
    "column_values.match_regex",
    "column_values.not_match_regex",
    "column_values.match_regex_list",
    "column_values.not_match_regex_list",
)
_INDEX_LIST = ".unexpected_index_list"
_COUNT = ".unexpected_count"
_IDS = ".coklit_unexpected_ids"  # our bundled metric: the failing ids of one condition
_IDS_AGG = _IDS + ".aggregate_fn"  # ... and its aggregate, GX's protocol for bundling
_COUNTED = "coklit_unexpected_count"  # keys of our dependencies, beside GX's own keys
_BUNDLED = "coklit_unexpected_ids"


def _bundled_ids_aggregate(
    cls: Any,
    execution_engine: Any,
    metric_domain_kwargs: dict[str, Any],
    metric_value_kwargs: dict[str, Any],
    metrics: dict[str, Any],
    **kwargs: Any,
) -> tuple[Any, Any, Any]:
    """The failing ids of a column map condition as an aggregate GX bundles with the counts
    of its domain (what GX's `unexpected_count.aggregate_fn` is to the count)."""
    import sqlalchemy as sa

    condition, compute_domain_kwargs, accessor_domain_kwargs = metrics["unexpected_condition"]
    (name,) = metric_value_kwargs["result_format"]["unexpected_index_column_names"]
    return (
        sa.func.list(sa.column(name)).filter(condition),
        compute_domain_kwargs,
        accessor_domain_kwargs,
    )


def _bundles_ids(metric: Any, execution_engine: Any) -> bool:
    """A SQL failing-ids metric of a regex condition, asked for the ids only (one index
    column, values excluded): the bundle answers it."""
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine

    fmt = metric.metric_value_kwargs.get("result_format") or {}
    names = fmt.get("unexpected_index_column_names") or ()
    return (
        isinstance(execution_engine, SqlAlchemyExecutionEngine)
        and metric.metric_name[: -len(_INDEX_LIST)] in _REGEX_METRICS
        and bool(fmt.get("exclude_unexpected_values"))
        and len(names) == 1
    )


def _ids_dependencies(original: Any) -> Any:
    """MapMetricProvider._get_evaluation_dependencies, with the dependencies of our bundled
    ids, and a SQL failing-ids metric depending on them (regex conditions) or on GX's count of
    failures (the others)."""
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.validator.metric_configuration import MetricConfiguration

    def _get_evaluation_dependencies(
        cls: Any,
        metric: Any,
        configuration: Any = None,
        execution_engine: Any = None,
        runtime_configuration: Any = None,
    ) -> Any:
        name = metric.metric_name
        domain = metric.metric_domain_kwargs
        values = metric.metric_value_kwargs
        base = {k: v for k, v in values.items() if k != "result_format"}
        if name.endswith(_IDS):  # bundled: GX computes it in the domain's query from its partial
            return {
                "metric_partial_fn": MetricConfiguration(name + ".aggregate_fn", domain, values)
            }
        if name.endswith(_IDS_AGG):
            condition = name[: -len(_IDS_AGG)] + ".condition"
            return {"unexpected_condition": MetricConfiguration(condition, domain, base)}
        deps = original.__func__(
            cls, metric, configuration, execution_engine, runtime_configuration
        )
        if name.endswith(_INDEX_LIST) and isinstance(execution_engine, SqlAlchemyExecutionEngine):
            stem = name[: -len(_INDEX_LIST)]
            if _bundles_ids(metric, execution_engine):
                deps[_BUNDLED] = MetricConfiguration(stem + _IDS, domain, values)
            else:
                deps[_COUNTED] = MetricConfiguration(stem + _COUNT, domain, base)
        return deps

    _get_evaluation_dependencies.coklit_ids = True  # type: ignore[attr-defined]
    return classmethod(_get_evaluation_dependencies)


def _ids_without_own_query(original: Any) -> Any:
    """A SQL failing-ids metric function: the bundled ids where there are (in GX's shape,
    [{rid: [ids]}], [] for none), none where GX counted no failure, else GX's own query."""

    def index_list(*args: Any, **kwargs: Any) -> Any:
        metrics = kwargs.get("metrics") or {}
        fmt = (kwargs.get("metric_value_kwargs") or {}).get("result_format") or {}
        names = fmt.get("unexpected_index_column_names")
        columns = metrics.get("table.columns") or ()
        # GX raises for an index column the table lacks: leave that to GX's own function
        if names and all(n in columns for n in names):
            if _BUNDLED in metrics:
                ids = sorted(metrics[_BUNDLED] or ())[: fmt["partial_unexpected_count"]]
                return [{names[0]: ids}] if ids else []
            if metrics.get(_COUNTED) == 0:
                return []  # GX's own answer for no failing row
        return original(*args, **kwargs)

    index_list.coklit_ids = True  # type: ignore[attr-defined]
    return index_list


def install_ids_without_own_query() -> None:
    """Give GX's SQL failing ids of a regex condition from its bundled query, and let the
    others wait for GX's count and be skipped at 0. Once per process."""
    from great_expectations.core.metric_function_types import (
        MetricFunctionTypes,
        MetricPartialFunctionTypes,
    )
    from great_expectations.execution_engine import SqlAlchemyExecutionEngine
    from great_expectations.expectations import registry
    from great_expectations.expectations.metrics.map_metric_provider import MapMetricProvider

    deps = MapMetricProvider.__dict__["_get_evaluation_dependencies"]
    if not getattr(deps.__func__, "coklit_ids", False):
        MapMetricProvider._get_evaluation_dependencies = _ids_dependencies(deps)  # type: ignore[method-assign]
    sql = SqlAlchemyExecutionEngine.__name__
    for name, definition in list(registry._registered_metrics.items()):
        providers = definition.get("providers", {})
        if not name.endswith(_INDEX_LIST) or sql not in providers:
            continue
        cls, fn = providers[sql]
        if getattr(fn, "coklit_ids", False):
            continue
        providers[sql] = (cls, _ids_without_own_query(fn))
        stem = name[: -len(_INDEX_LIST)]
        if stem in _REGEX_METRICS:
            keys = tuple(definition.get("metric_domain_keys", ()))
            values = tuple(definition.get("metric_value_keys", ()))
            registry.register_metric(
                stem + _IDS_AGG, keys, values, SqlAlchemyExecutionEngine, cls,
                _bundled_ids_aggregate, MetricPartialFunctionTypes.AGGREGATE_FN,
            )  # fmt: skip
            registry.register_metric(
                stem + _IDS, keys, values, SqlAlchemyExecutionEngine, cls,
                None, MetricFunctionTypes.VALUE,
            )  # fmt: skip


@contextmanager
def configurations_built_once() -> Iterator[None]:
    """While a suite is validated: each GX Expectation object's `configuration` built once.

    GX 1.24 rebuilds an expectation's ExpectationConfiguration (a pydantic `.dict()`, its
    type name from the class name) every time one of its kwargs is read, about a dozen
    times per metric it asks for: a third of GX's own Python time on our suites. The
    expectation objects are not changed while the suite is validated, so the first one
    built is handed out again. Restored on exit.
    """
    from great_expectations.expectations.expectation import Expectation

    prop = Expectation.__dict__["configuration"]
    built: dict[int, tuple[Any, Any]] = {}

    def configuration(self: Any) -> Any:
        hit = built.get(id(self))
        if hit is None or hit[0] is not self:
            hit = built[id(self)] = (self, prop.fget(self))
        return hit[1]

    Expectation.configuration = property(configuration)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        Expectation.configuration = prop  # type: ignore[method-assign]
        built.clear()


# A hashable stand-in for plain JSON data (type and value of each scalar: True, 1 and 1.0 give
# three ids in GX), or None when the data holds anything else.
_PLAIN = (str, int, float, bool, type(None))


def _plain_key(value: Any) -> Any:
    if type(value) in _PLAIN:
        return (type(value), value)
    if isinstance(value, dict):
        items = []
        for k, v in value.items():
            key = _plain_key(v)
            if type(k) is not str or key is None:
                return None
            items.append((k, key))
        return (dict, frozenset(items))
    if type(value) in (list, tuple):
        keys = tuple(_plain_key(v) for v in value)
        return None if None in keys else (list, keys)
    return None


@contextmanager
def metric_ids_computed_once() -> Iterator[None]:
    """While a suite is validated: GX's id of a metric's kwargs computed once per content.

    GX 1.24 builds every MetricConfiguration's id from its domain and value kwargs
    (`IDDict.to_id`: GX's JSON conversion of the dict, sorted JSON, md5), two per metric and
    thousands per suite: a quarter of GX's own Python time on our suites. The kwargs are plain
    JSON data; the same content gets the same id, so it is computed once and looked up by
    content after. Anything not plain goes to GX. Restored on exit.
    """
    from great_expectations.core.id_dict import IDDict

    original = IDDict.__dict__["to_id"]
    ids: dict[Any, Any] = {}

    def to_id(self: Any, id_keys: Any = None, id_ignore_keys: Any = None) -> Any:
        plain = id_keys is None and id_ignore_keys is None and not type(self)._id_ignore_keys
        key = _plain_key(self) if plain else None
        if key is None:
            return original(self, id_keys, id_ignore_keys)
        found = ids.get(key)
        if found is None:
            found = ids[key] = original(self)
        return found

    IDDict.to_id = to_id  # type: ignore[method-assign]
    try:
        yield
    finally:
        IDDict.to_id = original  # type: ignore[method-assign]
        ids.clear()


def borrowed(con: duckdb.DuckDBPyConnection) -> Any:
    """The night's connection as a DB-API connection GX may use but not end."""
    from duckdb_engine import ConnectionWrapper

    class Borrowed(ConnectionWrapper):
        # GX reads only; the caller owns the connection and its transactions
        def begin(self) -> None:
            pass

        def commit(self) -> None:
            pass

        def rollback(self) -> None:
            pass

        def close(self) -> None:
            pass

    return Borrowed(con)


class GxRunner:
    """One ephemeral GX context for a night: a SQL datasource on the night's DuckDB
    connection, one suite and one query asset per prepared table."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from sqlalchemy.pool import StaticPool

        self._gx = gx
        # GX logs each ephemeral context's temporary docs folder at INFO: noise in a night's log
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
        # duckdb_engine warns that DuckDB has no index reflection (GX never needs it)
        warnings.filterwarnings("ignore", message="duckdb-engine doesn't yet support reflection")
        install_duckdb_regex()
        install_lean_dependencies()
        install_ids_without_own_query()
        self.context = gx.get_context(mode="ephemeral")
        self.context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self._holder = [borrowed(con)]
        holder = self._holder
        self._source = self.context.data_sources.add_sql(  # type: ignore[call-arg]
            "coklit_dq",
            connection_string=f"{DIALECT}:///:memory:",  # never opened: `creator` is used
            create_temp_table=False,  # GX reads the prepared table, it copies nothing
            kwargs={"creator": lambda: holder[0], "poolclass": StaticPool},
        )
        self._suites: dict[str, Any] = {}
        self._batch_defs: dict[str, Any] = {}

    def close(self) -> None:
        """Let go of the night's connection (it stays open: it is the caller's).

        GX keeps its last context in a module-level project manager; without this
        that context would hold the connection until the interpreter exits."""
        source = self._source
        for engine in (
            getattr(source, "_engine", None),
            getattr(getattr(source, "_execution_engine", None), "engine", None),
        ):
            if engine is not None:
                engine.dispose()
        self.context.data_sources.delete(source.name)
        self._holder.clear()
        self._suites.clear()
        self._batch_defs.clear()

    def __enter__(self) -> GxRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def suite(self, name: str, checks: Sequence[Check]) -> Any:
        """The suite of a prepared table: one expectation per rule, tagged with its code."""
        if name in self._suites:
            return self._suites[name]
        # given whole: add_expectation compares each new one with all before it
        suite = self._gx.ExpectationSuite(
            name=name,
            expectations=[
                expectation_class(c.type)(
                    **c.gx_kwargs(), meta={KODE_META: c.kode_temuan, URUTAN_META: c.urutan}
                )
                for c in checks
            ],
        )
        self._suites[name] = self.context.suites.add(suite)
        return self._suites[name]

    def _batch_definition(self, asset: str, table: str) -> Any:
        if asset not in self._batch_defs:
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", table):
                raise ValueError(f"not a prepared table name: {table!r}")
            a = self._source.add_query_asset(asset, query=f"SELECT * FROM {table}")
            self._batch_defs[asset] = a.add_batch_definition_whole_table(asset)
        return self._batch_defs[asset]

    def validate(self, asset: str, table: str, suite: Any) -> tuple[list[Outcome], str]:
        """Validate a prepared table where it is: every failing row's `rid` per code, and
        GX's report as JSON.

        The report is GX's own ExpectationSuiteValidationResult with its per-row
        lists cut to a sample (it is what Data Docs are built from).
        """
        batch = self._batch_definition(asset, table).get_batch()
        with configurations_built_once(), metric_ids_computed_once():
            result = batch.validate(suite, result_format=RESULT_FORMAT)
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
            if not r.success and res.get("unexpected_count") is None:
                # GX files an error per metric (not raised_exception) when a query fails
                raise RuntimeError(
                    f"Great Expectations failed on {kode} ({cfg.type}): {_first_error(r)}"
                )
            rids = failed_ids(res.get("unexpected_index_list"))
            if len(rids) != int(res.get("unexpected_count") or 0):
                raise RuntimeError(
                    f"Great Expectations returned {len(rids)} failing rows of "
                    f"{res.get('unexpected_count')} for {kode} ({cfg.type})"
                )
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
            for name in ("unexpected_index_list", "partial_unexpected_index_list"):
                if res.get(name):
                    r.result[name] = [{ROW_ID: failed_ids(res[name])[:SAMPLE]}]
            for name in ("unexpected_list", "partial_unexpected_list"):
                if isinstance(res.get(name), list):
                    r.result[name] = res[name][:SAMPLE]
            r.result.pop("unexpected_index_query", None)
            r.result["partial_unexpected_count"] = SAMPLE
        return outcomes, json.dumps(_plain(result.to_json_dict()))


def _first_error(result: Any) -> str:
    for info in (result.exception_info or {}).values():
        if isinstance(info, Mapping) and info.get("exception_message"):
            return str(info["exception_message"])[:500]
    return "no result"


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

# GX's page templates load Bootstrap, jQuery, Vega and Font Awesome from CDNs, a logo
# from S3 (a CSS url()), a favicon from a static folder that is not written, and link
# to GX's newsletter. The pages are rendered with GX's own renderer (which inlines
# its own stylesheet), then every such reference is removed and a few plain rules
# are added, so a page opens without network and never calls out (less styled than
# online; charts are not drawn).
_OFFLINE_STRIP = re.compile(
    r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>"
    r"|<link[^>]*\bhref=\"(?:https?:)?//[^>]*>|<img[^>]*\bsrc=\"(?:https?:)?//[^>]*>"
    r"|<link[^>]*\brel=\"shortcut icon\"[^>]*>",
    re.IGNORECASE,
)
_CSS_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", re.IGNORECASE)
_LINK_OUT = re.compile(r"<a\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>(.*?)</a>", re.I | re.S)
_OFFLINE_CSS = """
body { font-family: system-ui, sans-serif; margin: 1rem 2rem; }
table { border-collapse: collapse; margin: .5rem 0; }
td, th { border: 1px solid #ccc; padding: .25rem .5rem; vertical-align: top; }
.container-fluid, .row, .col-12, .col-md-12 { display: block; width: 100%; }
.card { border: 1px solid #ddd; margin: .75rem 0; padding: .5rem; }
.text-danger { color: #b00020; } .text-success { color: #1b7f3b; }
.collapse:not(.show) { display: block; }
"""


def offline(html: str) -> str:
    """A GX page without anything it would fetch or link from another host."""
    html = _OFFLINE_STRIP.sub("", html)
    html = _CSS_URL.sub("none", html)
    return _LINK_OUT.sub(r"\1", html)


def render_offline_page(report_json: str) -> str:
    """One GX validation report (JSON from `validate`) as a self-contained HTML page."""
    from great_expectations.core.expectation_validation_result import (
        expectationSuiteValidationResultSchema,
    )
    from great_expectations.render.renderer import ValidationResultsPageRenderer
    from great_expectations.render.view import DefaultJinjaPageView

    result = expectationSuiteValidationResultSchema.load(json.loads(report_json))
    html = offline(DefaultJinjaPageView().render(ValidationResultsPageRenderer().render(result)))
    return html.replace("</head>", f"<style>{_OFFLINE_CSS}</style></head>", 1)
