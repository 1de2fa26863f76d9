"""`make docs`: the dbt docs (one static page) and the GX Data Docs, into ``docs-site/`` (git-ignored).

dbt: ``dbt docs generate --static`` against the warehouse (the catalog reads information_schema),
copied to ``docs-site/dbt/index.html``. GX: a file-backed context in a temporary folder (nothing
is written into the committed ``expectations/`` project) gets every suite of
``expectations/expectations/``; each suite whose table is in the warehouse is validated there,
so the Data Docs show the latest results beside the suites; the site is copied to
``docs-site/data_docs/`` and rewritten to render with no network (``docs_offline``: GX's pages
load their CSS and JS from CDNs). The gates' log lines point at ``docs-site/data_docs/index.html``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from sinfonia import config, dbt
from sinfonia.docs_offline import make_offline
from sinfonia.gates import _asset_sql, _exists, suite_files

SITE = config.ROOT / "docs-site"


def build_dbt_docs(dsn: str, out: Path = SITE) -> Path:
    dbt.run(["docs", "generate", "--static", "--quiet"], dsn)
    target = out / "dbt"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(dbt.target_dir() / "static_index.html", target / "index.html")
    return target / "index.html"


def build_data_docs(dsn: str | None, out: Path = SITE) -> tuple[Path, int]:
    """Suites (and, where the table exists, a fresh validation) into a Data Docs site."""
    from datetime import UTC, datetime

    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.core import ExpectationSuite
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from sinfonia import db

    validated = 0
    now = datetime.now(UTC)
    run_id = RunIdentifier(run_name=f"sinfonia docs {now:%Y-%m-%d %H:%M} UTC", run_time=now)  # not "__none__"
    with tempfile.TemporaryDirectory(prefix="sinfonia-gx-") as tmp:
        context = gx.get_context(mode="file", project_root_dir=tmp)
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        source = context.data_sources.add_postgres("warehouse", connection_string=dsn) if dsn else None
        conn = db.connect(dsn, autocommit=True) if dsn else None
        try:
            for path in suite_files(""):
                spec = json.loads(path.read_text(encoding="utf-8"))
                suite = context.suites.add(ExpectationSuite(
                    name=spec["name"], expectations=spec["expectations"], meta=spec.get("meta")))
                if source is None:
                    continue
                _, query = _asset_sql(spec["meta"]["asset"], {})
                if not _exists(conn, query):
                    continue
                batch_def = source.add_query_asset(spec["name"], query=query).add_batch_definition_whole_table("all")
                validation = context.validation_definitions.add(
                    gx.ValidationDefinition(name=spec["name"], data=batch_def, suite=suite))
                checkpoint = context.checkpoints.add(gx.Checkpoint(
                    name=spec["name"], validation_definitions=[validation],
                    actions=[UpdateDataDocsAction(name="docs")]))
                checkpoint.run(run_id=run_id)
                validated += 1
        finally:
            if conn is not None:
                conn.close()
        context.build_data_docs()
        site = Path(tmp) / "gx" / "uncommitted" / "data_docs" / "local_site"
        target = out / "data_docs"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(site, target)
    make_offline(target)
    return target / "index.html", validated


def build(dsn: str | None, out: Path = SITE) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    pages = {}
    if dsn:
        pages["dbt"] = build_dbt_docs(dsn, out)
    pages["data_docs"], validated = build_data_docs(dsn, out)
    index = out / "index.html"
    index.write_text(index_html(pages, out, validated), encoding="utf-8")
    pages["index"] = index
    return pages


PAGES = {  # name -> (title, what it shows)
    "dbt": ("dbt docs", "every model, source, seed and test of the warehouse with its columns, descriptions and "
                        "lineage graph; start with the overview, then the schema marts"),
    "data_docs": ("Great Expectations Data Docs", "the expectation suites that gate every load (raw_*) and every "
                                                  "publication (marts_*), with the latest validation of each"),
}


def index_html(pages: dict[str, Path], out: Path, validated: int) -> str:
    """The docs site's front page: what each site holds, styled like the report, no network."""
    import html

    from sinfonia.report import STYLE

    items = "".join(
        f"<li><a href='{html.escape(str(p.relative_to(out)))}'>{html.escape(PAGES.get(name, (name, ''))[0])}</a>"
        f": {html.escape(PAGES.get(name, (name, ''))[1])}.</li>" for name, p in pages.items())
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Sinfonía: documentation</title>"
            f"<style>{STYLE} li {{ margin: .6rem 0; }}</style></head><body><h1>Sinfonía: documentation</h1>"
            "<p>The data pipeline and warehouse of ESAP's territorial technical assistance strategy. Analysts "
            "read the schema <code>marts</code>.</p>"
            f"<ul>{items}</ul><p class='note'>Data Docs: {validated} suites validated against the warehouse "
            "when this site was written.</p></body></html>")
