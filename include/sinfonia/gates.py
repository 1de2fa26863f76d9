"""Great Expectations gates: validate warehouse tables against the suites in ``expectations/``.

Each suite file (GX's suite JSON) carries ``meta.asset``: a ``schema``/``table`` or a ``query``
to validate. Every expectation has a GX severity: a failed ``critical`` one fails the gate (and
so the Airflow task and the run); ``warning`` ones are recorded and reported. Every result goes
to ``meta.gate_result``, queryable by suite, asset and run, and each suite's summary (passed and
failed expectations with their observed values, duration) to ``meta.gate_run``.

A suite whose rows have not changed since it last passed is not validated again: each suite's
fingerprint (its own text, Great Expectations' version and, row by row, every table its asset and
its queries read) is recorded in ``meta.gate_run``; when an earlier run of the same suite with the
same fingerprint passed every expectation, this run records that run's results (``reused_from``)
instead of asking PostgreSQL the same questions of the same rows. The expectations are
deterministic functions of those rows (none reads the clock), so the answer cannot differ. A suite
that failed or warned is always validated again.

The GX context is ephemeral (nothing written into the committed project at run time); Data Docs
are built from the stored suites by ``make docs``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import re
import sys
import threading
import time
import types
from dataclasses import dataclass, field
from importlib.metadata import version

from psycopg import sql

from sinfonia import config, db

# Where `make docs` builds the GX Data Docs (named in every gate's log line).
DATA_DOCS_INDEX = config.ROOT / "docs-site" / "data_docs" / "index.html"


class GateFailed(RuntimeError):
    """A critical expectation failed; the message names each one."""


@dataclass
class Outcome:
    suite: str
    asset: str
    expectation: str
    column: str | None
    severity: str
    success: bool
    observed: dict

    def describe(self) -> str:
        col = f" on {self.column}" if self.column else ""
        seen = self.observed.get("observed_value", self.observed.get("unexpected_count"))
        sample = self.observed.get("partial_unexpected_list") or self.observed.get("details", {}).get("unexpected_rows")
        extra = f" (observed {seen})" if seen is not None else ""
        if sample:
            extra += f", e.g. {json.dumps(sample[:3], default=str, ensure_ascii=False)}"
        return f"{self.suite}: {self.expectation}{col}{extra}"


@dataclass
class GateReport:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def critical_failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity == "critical"]

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success and o.severity != "critical"]

    def summary(self) -> str:
        ok = sum(o.success for o in self.outcomes)
        return (f"{ok}/{len(self.outcomes)} expectations passed, "
                f"{len(self.critical_failures)} critical failed, {len(self.warnings)} warnings")


@dataclass
class SuiteRun:
    suite: str
    asset: str
    outcomes: list[Outcome]
    seconds: float
    fingerprint: str | None = None
    reused_from: int | None = None

    def row(self, run_id: str | None, gate: str) -> tuple:
        failed = [o for o in self.outcomes if not o.success]
        return (
            run_id, gate, self.suite, self.asset, sum(o.success for o in self.outcomes),
            sum(o.severity == "critical" for o in failed), sum(o.severity != "critical" for o in failed),
            [o.describe().split(": ", 1)[1] for o in failed],
            json.dumps({_key(o): _observed(o) for o in self.outcomes}, default=str, ensure_ascii=False),
            round(self.seconds, 3), self.fingerprint, self.reused_from,
        )


GATE_RUN_COLUMNS = ("run_id", "gate", "suite", "asset", "passed", "failed_critical", "failed_warning",
                    "failed_expectations", "observed", "seconds")


def _key(o: Outcome) -> str:
    return o.expectation + (f" on {o.column}" if o.column else "")


def _observed(o: Outcome):
    """The observed value of an expectation in one cell: the value, or the count of unexpected rows."""
    r = o.observed
    if "observed_value" in r:
        return r["observed_value"]
    return {k: r[k] for k in ("unexpected_count", "unexpected_percent", "element_count") if k in r} or None


def _exception(result) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any."""
    info = result.exception_info or {}
    infos = [info] if "raised_exception" in info else list(info.values())
    for i in infos:
        if isinstance(i, dict) and i.get("raised_exception"):
            return str(i.get("exception_message") or "unknown error").strip().splitlines()[0][:300]
    return None


def _remap(text: str, schema_map: dict[str, str]) -> str:
    for old, new in schema_map.items():
        text = re.sub(rf"\b{re.escape(old)}\.", f"{new}.", text)
    return text


def suite_files(prefix: str) -> list:
    return sorted((config.EXPECTATIONS_DIR / "expectations").glob(f"{prefix}*.json"))


def _asset_sql(asset: dict, schema_map: dict[str, str]) -> tuple[str, str]:
    """(label, query) of an asset, with schemas remapped (marts → marts_build before publish)."""
    if "query" in asset:
        query = _remap(asset["query"], schema_map)
        return asset.get("label", query[:60]), query
    schema = schema_map.get(asset["schema"], asset["schema"])
    table = sql.SQL("select * from {}").format(sql.Identifier(schema, asset["table"]))
    return f"{schema}.{asset['table']}", table.as_string()


# A relation a suite's SQL names, quoted or not (schema.table: every suite qualifies its tables, a
# test checks it); an alias's column (``d.directorate_id``) matches too, and is dropped for not
# being a relation.
_QUALIFIED = re.compile(r'(?<![\w"])"?([a-z_][a-z0-9_]*)"?\."?([a-z_][a-z0-9_]*)"?(?![\w"])', re.IGNORECASE)


def _reads(query: str, spec: dict) -> list[str]:
    """Every schema.table the suite's asset and its expectations' queries name."""
    texts = [query, *(e["kwargs"]["unexpected_rows_query"] for e in spec["expectations"]
                      if "unexpected_rows_query" in e.get("kwargs", {}))]
    return sorted({f"{schema}.{table}" for text in texts for schema, table in _QUALIFIED.findall(text)})


def fingerprint(conn, text: str, query: str, spec: dict, tables: dict[str, str | None]) -> str:
    """What a suite's result depends on: its text (schemas remapped), Great Expectations'
    version, and each relation it reads, as its row count and the sum of a 64-bit hash of each
    row (order-free; a changed, added or removed row changes it).

    ``tables`` holds what the gate has hashed so far (None: not a relation): a table several
    suites read (``raw.divipola``, say) is read once per gate, and the names still unknown are
    looked up in one query."""
    reads = _reads(query, spec)
    unknown = [name for name in reads if name not in tables]
    if unknown:
        found = {row[0] for row in conn.execute(
            "select name from unnest(%s::text[]) as name where to_regclass(name) is not null", (unknown,))}
        for name in unknown:  # an alias's column (d.directorate_id) is not a relation
            tables[name] = _row_hash(conn, name) if name in found else None
    parts = [hashlib.sha256(text.encode()).hexdigest(), version("great_expectations")]
    parts += [f"{name}:{tables[name]}" for name in reads if tables[name] is not None]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _row_hash(conn, name: str) -> str:
    schema, table = name.split(".")
    count, total = conn.execute(sql.SQL(
        "select count(*), coalesce(sum(hashtextextended(t::text, 0)), 0) from {} as t").format(
        sql.Identifier(schema, table))).fetchone()
    return f"{count}:{total}"


def _passed_before(conn, suite: str, fingerprint: str) -> tuple[int, dict] | None:
    """The run that validated the latest run of ``suite`` with this fingerprint that passed every
    expectation (itself, or the run it took its results from), and what it observed."""
    return conn.execute(
        """select coalesce(reused_from, gate_run_id), observed from meta.gate_run
           where suite = %s and fingerprint = %s and failed_critical = 0 and failed_warning = 0
           order by gate_run_id desc limit 1""", (suite, fingerprint)).fetchone()


def _reused(spec: dict, label: str, observed: dict, gate_run_id: int) -> list[Outcome]:
    """The outcomes of a suite taken from its earlier passing run: every expectation passed, with
    the value that run observed."""
    outcomes = [Outcome(spec["name"], label, exp.get("description") or exp["type"], exp.get("kwargs", {}).get("column"),
                        exp.get("severity") or "critical", True, {"reused_from_gate_run": gate_run_id})
                for exp in spec["expectations"]]
    for o in outcomes:
        o.observed["observed_value"] = observed.get(_key(o))
    return outcomes


# Great Expectations imports these for one expectation (expect_column_kl_divergence_to_be_less_than,
# which no suite here uses): about a third of its import (2.2 s -> 1.5 s, 2.9-3.6 s -> 1.3-1.7 s on a busier
# machine). They are put off until first used.
DEFERRED_IMPORTS = ("scipy.stats", "altair")


class _Deferred(types.ModuleType):
    """A module not imported yet: the first attribute asked of it imports the real one (which
    takes its place in ``sys.modules``) and every attribute is then the real module's."""

    _lock = threading.Lock()

    def __getattr__(self, attr: str):
        with self._lock:  # two threads asking at once: the first removes it, the import is shared
            if sys.modules.get(self.__name__) is self:
                del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


def _defer_imports(names: tuple[str, ...] = DEFERRED_IMPORTS) -> None:
    for name in names:
        sys.modules.setdefault(name, _Deferred(name))


def _great_expectations():
    """``great_expectations``, imported without what no suite uses (``DEFERRED_IMPORTS``) and
    without the line its documentation decorators log per function they skip (214 of them, at
    INFO: noise in a gate task's log, and 0.2-0.3 s of formatting under Airflow's logging)."""
    _defer_imports()
    logging.getLogger("great_expectations._docs_decorators").setLevel(logging.WARNING)
    import great_expectations

    return great_expectations


def _validator(dsn: str):
    """A function validating one suite's expectations on its asset's query with Great
    Expectations (one ephemeral context and data source for the whole gate)."""
    gx = _great_expectations()
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # they flood task logs
    source = context.data_sources.add_postgres("warehouse", connection_string=dsn)

    def validate(spec: dict, label: str, query: str) -> list[Outcome]:
        batch = source.add_query_asset(spec["name"], query=query).add_batch_definition_whole_table("all").get_batch()
        result = batch.validate(ExpectationSuite(name=spec["name"], expectations=spec["expectations"],
                                                 meta=spec.get("meta")))
        outcomes = []
        for r in result.results:
            cfg = r.expectation_config
            observed = json.loads(json.dumps(r.result, default=str))
            error = _exception(r)
            if error:  # the check itself could not run (e.g. a bad query): say why
                observed["observed_value"] = f"error: {error}"
            outcomes.append(Outcome(
                spec["name"], label, cfg.description or cfg.type, cfg.kwargs.get("column"),
                str(getattr(cfg.severity, "value", cfg.severity) or "critical"), bool(r.success), observed,
            ))
        return outcomes

    return validate


def _exists(conn, query: str) -> bool:
    try:
        with conn.transaction():
            # the query is the asset's SQL from the repository's suite files (or built above)
            conn.execute(sql.SQL("select 1 from ({}) q limit 0").format(sql.SQL(query)))
        return True
    except Exception:  # noqa: BLE001 - a missing table or column: the asset is not there
        return False


def run_gate(prefix: str, dsn: str, run_id: str | None = None,
             schema_map: dict[str, str] | None = None, raise_on_failure: bool = True) -> GateReport:
    """Validate every suite whose name starts with ``prefix`` (or take the results of its last
    passing run on the same rows); record; raise on critical failure."""
    schema_map = schema_map or {}
    report = GateReport()
    runs: list[SuiteRun] = []
    validate = None  # Great Expectations (seconds to import): only when a suite must be validated
    tables: dict[str, str | None] = {}  # the relations the suites read, each hashed once (fingerprint)
    with db.connect(dsn, autocommit=True) as conn:
        reuse = conn.execute("""select count(*) = 2 from pg_attribute where attrelid = to_regclass('meta.gate_run')
                                and attname in ('fingerprint', 'reused_from') and not attisdropped""").fetchone()[0]
        for path in suite_files(prefix):
            started = time.perf_counter()
            written = path.read_text(encoding="utf-8")
            spec = json.loads(written)
            label, query = _asset_sql(spec["meta"]["asset"], schema_map)
            if not _exists(conn, query):
                missing = Outcome(spec["name"], label, "asset exists", None, "warning", False,
                                  {"observed_value": "table not loaded"})
                report.outcomes.append(missing)
                runs.append(SuiteRun(spec["name"], label, [missing], time.perf_counter() - started))
                continue
            for exp in spec["expectations"]:  # queries into other marts read them where they are built
                if "unexpected_rows_query" in exp.get("kwargs", {}):
                    exp["kwargs"]["unexpected_rows_query"] = _remap(exp["kwargs"]["unexpected_rows_query"], schema_map)
            seen = fingerprint(conn, _remap(written, schema_map), query, spec, tables) if reuse else None
            before = _passed_before(conn, spec["name"], seen) if seen else None
            if before:
                outcomes = _reused(spec, label, before[1], before[0])
            else:
                validate = validate or _validator(dsn)
                outcomes = validate(spec, label, query)
            report.outcomes.extend(outcomes)
            runs.append(SuiteRun(spec["name"], label, outcomes, time.perf_counter() - started, seen,
                                 before[0] if before else None))
        columns = [*GATE_RUN_COLUMNS, *(("fingerprint", "reused_from") if reuse else ())]
        with conn.cursor() as cur:
            insert = sql.SQL("insert into meta.gate_run ({}) values ({})").format(
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join([sql.Placeholder()] * len(columns)))
            cur.executemany(insert, [r.row(run_id, prefix)[:len(columns)] for r in runs])
            cur.executemany(
                """insert into meta.gate_result
                   (run_id, suite, asset, severity, expectation, column_name, success, observed)
                   values (%s, %s, %s, %s, %s, %s, %s, %s)""",
                [(run_id, o.suite, o.asset, o.severity, o.expectation, o.column, o.success,
                  json.dumps(o.observed, default=str)) for o in report.outcomes],
            )
    if raise_on_failure and report.critical_failures:
        raise GateFailed(
            f"gate {prefix!r} failed: {report.summary()}; critical expectations failed:\n"
            + "\n".join(" - " + o.describe() for o in report.critical_failures)
            + f"\nDetails: meta.gate_run and meta.gate_result (run {run_id}); Data Docs: {DATA_DOCS_INDEX} (make docs)"
        )
    return report
