"""Great Expectations gates: validate warehouse tables against the suites in ``expectations/``.

Each suite file (GX's suite JSON) carries ``meta.asset``: a ``schema``/``table`` or a ``query``
to validate. Every expectation has a GX severity: a failed ``critical`` one fails the gate (and
so the Airflow task and the run); ``warning`` ones are recorded and reported. Every result goes
to ``meta.gate_result``, queryable by suite, asset and run, and each suite's summary (passed and
failed expectations with their observed values, duration) to ``meta.gate_run``.

The GX context is ephemeral (nothing written into the committed project at run time); Data Docs
are built from the stored suites by ``make docs``.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

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

    def row(self, run_id: str | None, gate: str) -> tuple:
        failed = [o for o in self.outcomes if not o.success]
        return (
            run_id, gate, self.suite, self.asset, sum(o.success for o in self.outcomes),
            sum(o.severity == "critical" for o in failed), sum(o.severity != "critical" for o in failed),
            [o.describe().split(": ", 1)[1] for o in failed],
            json.dumps({o.expectation + (f" on {o.column}" if o.column else ""): _observed(o) for o in self.outcomes},
                       default=str, ensure_ascii=False),
            round(self.seconds, 3),
        )


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
    """Validate every suite whose name starts with ``prefix``; record; raise on critical failure."""
    import great_expectations as gx
    from great_expectations.core import ExpectationSuite
    from great_expectations.data_context.types.base import ProgressBarsConfig

    schema_map = schema_map or {}
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)  # they flood task logs
    source = context.data_sources.add_postgres("warehouse", connection_string=dsn)
    report = GateReport()
    runs: list[SuiteRun] = []
    with db.connect(dsn, autocommit=True) as conn:
        for path in suite_files(prefix):
            started = time.perf_counter()
            spec = json.loads(path.read_text(encoding="utf-8"))
            label, query = _asset_sql(spec["meta"]["asset"], schema_map)
            if not _exists(conn, query):
                missing = Outcome(spec["name"], label, "asset exists", None, "warning", False,
                                  {"observed_value": "table not loaded"})
                report.outcomes.append(missing)
                runs.append(SuiteRun(spec["name"], label, [missing], time.perf_counter() - started))
                continue
            asset = source.add_query_asset(spec["name"], query=query)
            batch = asset.add_batch_definition_whole_table("all").get_batch()
            for exp in spec["expectations"]:  # queries into other marts read them where they are built
                if "unexpected_rows_query" in exp.get("kwargs", {}):
                    exp["kwargs"]["unexpected_rows_query"] = _remap(exp["kwargs"]["unexpected_rows_query"], schema_map)
            suite = ExpectationSuite(name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta"))
            result = batch.validate(suite)
            outcomes = []
            for r in result.results:
                cfg = r.expectation_config
                observed = json.loads(json.dumps(r.result, default=str))
                error = _exception(r)
                if error:  # the check itself could not run (e.g. a bad query): say why
                    observed["observed_value"] = f"error: {error}"
                outcomes.append(Outcome(
                    spec["name"], label, cfg.description or cfg.type, cfg.kwargs.get("column"),
                    str(getattr(cfg.severity, "value", cfg.severity) or "critical"), bool(r.success),
                    observed,
                ))
            report.outcomes.extend(outcomes)
            runs.append(SuiteRun(spec["name"], label, outcomes, time.perf_counter() - started))
        with conn.cursor() as cur:
            cur.executemany(
                """insert into meta.gate_run
                   (run_id, gate, suite, asset, passed, failed_critical, failed_warning,
                    failed_expectations, observed, seconds)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [r.row(run_id, prefix) for r in runs],
            )
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
