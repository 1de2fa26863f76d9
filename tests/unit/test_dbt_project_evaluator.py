"""Stand-in for dbt-project-evaluator: the project's structure rules, checked on the dbt manifest.

dbt-project-evaluator is a dbt package fetched from the dbt package hub or GitHub, which these
machines cannot reach (only the Python, Debian and npm registries are; none of them ships it, as
``pip download dbt-project-evaluator`` and ``npm view dbt-project-evaluator`` confirm). These
tests implement the rules of it that Sinfonía relies on, named after the evaluator's own models
(``fct_undocumented_models``, ``fct_missing_primary_key_tests``, ...), over
``target/manifest.json`` (rebuilt by ``dbt parse`` when a project file changed). Swap them for the
package when the hub is reachable. That every column *in the database* is documented is checked
against information_schema in ``tests/integration/test_pipeline.py``.
"""

from __future__ import annotations

import json
from functools import cache


from sinfonia import dbt

LAYERS = {"staging": 0, "intermediate": 1, "marts": 2}
PREFIXES = {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("fct_", "dim_", "mart_")}


@cache
def manifest() -> dict:
    return json.loads(dbt.ensure_manifest().read_text(encoding="utf-8"))


def models() -> list[dict]:
    return [n for n in manifest()["nodes"].values()
            if n["resource_type"] == "model" and n["package_name"] == "sinfonia"]


def layer(model: dict) -> str:
    return model["fqn"][1]


def checks_on(model: dict) -> list[dict]:
    return [n for n in manifest()["nodes"].values()
            if n["resource_type"] == "test" and model["unique_id"] in n["depends_on"]["nodes"]
            and n.get("attached_node") == model["unique_id"]]


def parents(model: dict) -> list[dict]:
    nodes = {**manifest()["nodes"], **manifest()["sources"]}
    return [nodes[p] for p in model["depends_on"]["nodes"] if p in nodes]


def test_every_model_is_in_a_known_layer_with_its_prefix():
    """fct_model_directories + fct_model_naming_conventions."""
    wrong = [f"{m['original_file_path']} (layer {layer(m)!r})" for m in models()
             if layer(m) not in LAYERS or not m["name"].startswith(PREFIXES[layer(m)])]
    assert not wrong, f"models outside staging/intermediate/marts or without the layer's prefix {PREFIXES}: {wrong}"


def test_staging_models_sit_in_their_source_folder():
    """fct_source_directories: models/staging/<source>/stg_<source>__<entity>.sql."""
    wrong = [m["original_file_path"] for m in models() if layer(m) == "staging"
             and not (len(m["fqn"]) == 4 and m["name"].startswith(f"stg_{m['fqn'][2]}__"))]
    assert not wrong, f"staging models not named stg_<folder>__<entity>: {wrong}"


def test_every_model_and_column_is_documented():
    """fct_undocumented_models + documentation coverage of the columns in yml."""
    missing = [m["name"] for m in models() if not m["description"].strip()]
    assert not missing, f"models without a description: {missing}"
    undocumented = [f"{m['name']}.{c}" for m in models() for c, col in m["columns"].items()
                    if not (col.get("description") or "").strip()]
    assert not undocumented, f"columns without a description: {undocumented}"
    no_columns = [m["name"] for m in models() if not m["columns"]]
    assert not no_columns, f"models with no documented columns: {no_columns}"


def test_every_model_has_a_primary_key_test():
    """fct_missing_primary_key_tests: unique + not_null on one column, or a unique combination."""
    missing = []
    for m in models():
        by_column: dict[str, set[str]] = {}
        combination = False
        for t in checks_on(m):
            meta = t.get("test_metadata") or {}
            if meta.get("name") in ("unique_combination", "unique_combination_of_columns"):
                combination = True
            elif t.get("column_name"):
                by_column.setdefault(t["column_name"], set()).add(meta.get("name"))
        if not combination and not any({"unique", "not_null"} <= names for names in by_column.values()):
            missing.append(m["name"])
    assert not missing, f"models without a primary key test (unique + not_null, or unique_combination): {missing}"


def test_only_staging_reads_sources_and_each_staging_model_one_source():
    """fct_direct_join_to_source, fct_marts_or_intermediate_dependent_on_source,
    fct_staging_dependent_on_staging, fct_multiple_sources_joined."""
    problems = []
    for m in models():
        kinds = [p["resource_type"] for p in parents(m)]
        if layer(m) == "staging":
            if kinds.count("source") != 1 or set(kinds) - {"source"}:
                problems.append(f"{m['name']} reads {kinds} (a staging model reads exactly one source, nothing else)")
        elif "source" in kinds:
            problems.append(f"{m['name']} ({layer(m)}) reads a source directly")
    assert not problems, "\n".join(problems)


def test_no_model_depends_on_a_downstream_layer():
    """fct_rejoining_of_upstream_concepts' cousin: the layers only flow staging → intermediate → marts."""
    wrong = [f"{m['name']} ({layer(m)}) ← {p['name']} ({layer(p)})" for m in models() for p in parents(m)
             if p["resource_type"] == "model" and LAYERS[layer(p)] > LAYERS[layer(m)]]
    assert not wrong, f"models reading a downstream layer: {wrong}"


def test_mart_foreign_keys_have_relationship_tests():
    """Every *_id column of a mart that is the key of a dimension has a relationships test."""
    dim_keys = {}
    for m in models():
        if m["name"].startswith("dim_"):
            for t in checks_on(m):
                if (t.get("test_metadata") or {}).get("name") == "unique" and t.get("column_name"):
                    dim_keys[t["column_name"]] = m["name"]
    missing = []
    for m in models():
        if layer(m) != "marts":
            continue
        related = {t.get("column_name") for t in checks_on(m)
                   if (t.get("test_metadata") or {}).get("name") == "relationships"}
        for column in m["columns"]:
            if column in dim_keys and dim_keys[column] != m["name"] and column not in related:
                missing.append(f"{m['name']}.{column} → {dim_keys[column]}")
    assert not missing, f"foreign keys without a relationships test: {missing}"


def test_exposures_document_the_consumers_of_the_marts():
    """fct_exposure_parents_materializations' intent: the report and BI are declared, on marts only."""
    exposures = list(manifest()["exposures"].values())
    assert {e["type"] for e in exposures} >= {"application", "dashboard"}, \
        "exposures for the report (application) and the BI dashboards (dashboard) are missing"
    nodes = manifest()["nodes"]
    for e in exposures:
        assert e["description"].strip() and e["owner"].get("name"), f"exposure {e['name']} needs a description and owner"
        wrong = [p for p in e["depends_on"]["nodes"] if p not in nodes or layer(nodes[p]) != "marts"]
        assert not wrong, f"exposure {e['name']} depends on non-mart nodes {wrong}"


def test_marts_logic_has_unit_tests():
    """The incremental fact, the lifecycle and the calendar carry dbt unit tests."""
    tested = {u["model"] for u in manifest().get("unit_tests", {}).values()}
    for name in ("fct_technical_assistance", "int_assistances__latest", "int_assistances__state_history", "dim_date"):
        assert name in tested, f"no dbt unit test on {name}"
