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


def test_no_not_null_test_repeats_an_enforced_constraint():
    """Not an evaluator rule, a cost rule: a column whose enforced contract declares NOT NULL cannot
    hold a null (PostgreSQL refuses the row when the table is built, and the build fails before
    any test runs), so a not_null test on it could never fail and cost a dbt node (about 50 ms)
    in every build. Kept only beside ``unique`` on a primary key column, which
    fct_missing_primary_key_tests asks for."""
    repeated = []
    for m in models():
        if not m["config"]["contract"]["enforced"]:
            continue
        tests: dict[str, set[str]] = {}
        for t in checks_on(m):
            if t.get("column_name"):
                tests.setdefault(t["column_name"], set()).add((t.get("test_metadata") or {}).get("name"))
        for name, col in m["columns"].items():
            constrained = any(c["type"] == "not_null" for c in col.get("constraints", []))
            if constrained and "not_null" in tests.get(name, set()) and "unique" not in tests[name]:
                repeated.append(f"{m['name']}.{name}")
    assert not repeated, f"not_null tests on columns the contract already declares NOT NULL: {repeated}"


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


# (model, the downstream model it reads): why.
DOWNSTREAM_EXCEPTIONS = {
    ("int_prioritisation__candidate", "dim_municipality"):
        "the year is computed from the municipality universe as the marts hold it (latest category, PDET, "
        "directorate): the list the planning office reads must rank exactly the municipalities analysts see",
    ("int_prioritisation__candidate", "fct_municipal_indicator"):
        "the indicators as published to analysts (one value per municipality, indicator and year, with "
        "published_on for the point-in-time rule), so that the list can be recomputed from marts alone",
}


def test_no_model_depends_on_a_downstream_layer():
    """fct_rejoining_of_upstream_concepts' cousin: the layers only flow staging → intermediate → marts,
    but for the documented exceptions (each still needed)."""
    found = {(m["name"], p["name"]) for m in models() for p in parents(m)
             if p["resource_type"] == "model" and LAYERS[layer(p)] > LAYERS[layer(m)]}
    wrong = [f"{m} reads {p}" for m, p in sorted(found - set(DOWNSTREAM_EXCEPTIONS))]
    assert not wrong, f"models reading a downstream layer: {wrong}"
    stale = sorted(set(DOWNSTREAM_EXCEPTIONS) - found)
    assert not stale, f"exceptions no longer needed: take them off DOWNSTREAM_EXCEPTIONS: {stale}"


def test_every_model_of_the_marts_layer_is_published():
    """A model in models/marts/ is a mart: built into marts_build and published; the year being
    computed (or any other working table) is an intermediate model, in models/intermediate/."""
    wrong = [f"{m['original_file_path']} (schema {m['schema']})" for m in models()
             if layer(m) == "marts" and m["schema"] != "marts_build"]
    assert not wrong, f"models in marts/ that are not published: {wrong}"


def test_exposures_depend_on_public_models_of_the_published_group_only():
    """fct_exposures_dependent_on_private_models: every model an exposure reads is access public,
    in the group published_marts, and every published mart is."""
    by_id = {m["unique_id"]: m for m in models()}
    wrong = [f"{e['name']} ← {by_id[n]['name']} ({by_id[n]['access']}, group {by_id[n]['group']})"
             for e in manifest()["exposures"].values() for n in e["depends_on"]["nodes"]
             if n in by_id and (by_id[n]["access"] != "public" or by_id[n]["group"] != "published_marts")]
    assert not wrong, f"exposures on models that are not public marts: {wrong}"
    published = [m for m in models() if m["schema"] == "marts_build"]
    assert published and all(m["access"] == "public" and m["group"] == "published_marts" for m in published)
    assert all(m["access"] != "public" for m in models() if m["schema"] != "marts_build"), "only marts are public"


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


# Deliberate exceptions to the rules below, each with its reason.
# fct_source_directories / fct_model_directories: a dbt source has one schema, and ESAP's
# person-level team members live in the `restricted` schema (Ley 1581 de 2012), never in `raw`;
# they are ESAP's system all the same, so the source `restricted` sits in staging/esap/ and its
# staging model is stg_esap__team_members.
SOURCE_FOLDER_EXCEPTIONS = {"restricted": "esap"}
# Published marts whose key cannot be a primary key constraint (its columns must be not null).
PRIMARY_KEY_EXCEPTIONS = {
    # One row per outcome, method and event time, where event_time is null for the overall
    # effect: the key is checked by its unique_combination test instead.
    "mart_impact_estimates",
}


def sources() -> list[dict]:
    return [s for s in manifest()["sources"].values() if s["package_name"] == "sinfonia"]


# Sources declared so that the docs site documents them, not for a model to read: exempt from
# fct_unused_sources and fct_sources_without_freshness, each with its reason.
DOCUMENTATION_SOURCES = {
    "meta": "the pipeline's own bookkeeping, written by Python as it runs (no publisher, so no freshness); "
            "declared so that dbt docs shows its tables and columns, whose comments in the warehouse are the "
            "same descriptions (sinfonia.bootstrap.comment_meta); no model reads it",
}


def loaded_sources() -> list[dict]:
    return [s for s in sources() if s["source_name"] not in DOCUMENTATION_SOURCES]


def test_documentation_sources_stay_unread_and_fully_described():
    """The exception holds only while no model reads them, and every table and column is described."""
    read = children()
    for s in sources():
        if s["source_name"] in DOCUMENTATION_SOURCES:
            assert not read.get(s["unique_id"]), f"a model reads {s['source_name']}.{s['name']}: not documentation only"
            assert s["description"] and s["columns"] and all(c["description"] for c in s["columns"].values()), s["name"]


def folder(node: dict) -> str:
    return node["original_file_path"].rsplit("/", 1)[0]


def children() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for m in models():
        for p in m["depends_on"]["nodes"]:
            out.setdefault(p, set()).add(m["unique_id"])
    return out


def test_each_source_system_has_one_source_defined_in_its_staging_folder():
    """fct_source_directories: source <name> is defined in models/staging/<name>/, one source per
    system, and fct_model_directories: a staging model sits in its source's folder."""
    wrong = [f"{s['source_name']}.{s['name']} defined in {s['original_file_path']}" for s in sources()
             if folder(s) != f"models/staging/{SOURCE_FOLDER_EXCEPTIONS.get(s['source_name'], s['source_name'])}"]
    assert not wrong, f"sources not defined in models/staging/<source name>/: {wrong}"
    files: dict[str, set[str]] = {}
    for s in sources():
        files.setdefault(s["source_name"], set()).add(s["original_file_path"])
    assert all(len(f) == 1 for f in files.values()), f"a source defined in several files: {files}"
    misplaced = []
    for m in models():
        for p in parents(m):
            if p["resource_type"] == "source":
                expected = SOURCE_FOLDER_EXCEPTIONS.get(p["source_name"], p["source_name"])
                if m["fqn"][2] != expected:
                    misplaced.append(f"{m['original_file_path']} reads source {p['source_name']}")
    assert not misplaced, f"staging models outside models/staging/<their source>/: {misplaced}"


def test_every_source_has_a_load_timestamp_and_freshness():
    """fct_sources_without_freshness: loaded_at_field and a warn_after or error_after."""
    missing = [f"{s['source_name']}.{s['name']}" for s in loaded_sources()
               if not s.get("loaded_at_field")
               or not any((s["freshness"] or {}).get(k, {}).get("count") for k in ("warn_after", "error_after"))]
    assert not missing, f"sources without loaded_at_field and freshness: {missing}"
    raw = [s for s in sources() if s["schema"] in ("raw", "restricted")]
    assert raw and all(s["loaded_at_field"] == "_loaded_at" for s in raw), \
        "the loaded sources' freshness is the loader's _loaded_at lineage column"


def test_every_model_folder_has_its_yml_and_tests_live_beside_their_model():
    """fct_test_directories, and one yml per model folder: a model is documented, and tested, by
    a yml in its own folder."""
    wrong = [f"{m['original_file_path']} documented in {m.get('patch_path')}" for m in models()
             if not m.get("patch_path") or m["patch_path"].split("://", 1)[1].rsplit("/", 1)[0] != folder(m)]
    assert not wrong, f"models without a yml in their own folder: {wrong}"
    by_id = {m["unique_id"]: m for m in models()}
    misplaced = [f"{t['name']} ({t['original_file_path']}) tests {by_id[t['attached_node']]['original_file_path']}"
                 for t in manifest()["nodes"].values()
                 if t["resource_type"] == "test" and t.get("attached_node") in by_id
                 and t["original_file_path"].endswith(".yml")
                 and folder(t) != folder(by_id[t["attached_node"]])]
    misplaced += [f"unit test {u['name']} ({u['original_file_path']})"
                  for u in manifest().get("unit_tests", {}).values()
                  if folder(u) != folder(by_id[u["depends_on"]["nodes"][0]])]
    assert not misplaced, f"tests outside their model's folder: {misplaced}"


def test_every_published_mart_has_an_enforced_contract_with_a_primary_key():
    """The published marts (built into marts_build, copied to marts) are the analysts' contract:
    dbt model contracts enforced, every column typed, a primary key whose columns are not null."""
    published = [m for m in models() if m["schema"] == "marts_build"]
    assert len(published) >= 10, "the published marts are the models built into marts_build"
    problems = []
    for m in published:
        if not m["config"]["contract"]["enforced"]:
            problems.append(f"{m['name']}: contract not enforced")
            continue
        untyped = [c for c, col in m["columns"].items() if not col.get("data_type")]
        if untyped:
            problems.append(f"{m['name']}: columns without data_type {untyped}")
        keys = [c["columns"] for c in m.get("constraints", []) if c["type"] == "primary_key"]
        keys += [[name] for name, col in m["columns"].items()
                 for c in col.get("constraints", []) if c["type"] == "primary_key"]
        if m["name"] in PRIMARY_KEY_EXCEPTIONS:
            assert not keys, f"{m['name']} has a primary key now: take it off PRIMARY_KEY_EXCEPTIONS"
            continue
        if len(keys) != 1:
            problems.append(f"{m['name']}: {len(keys)} primary keys (expected one)")
            continue
        nullable = [c for c in keys[0] if not any(x["type"] == "not_null"
                                                   for x in m["columns"][c].get("constraints", []))]
        if nullable:
            problems.append(f"{m['name']}: primary key columns without a not_null constraint {nullable}")
    assert not problems, "\n".join(problems)


def test_no_source_is_unused():
    """fct_unused_sources: every declared source table is read by a model, but the documentation
    sources (DOCUMENTATION_SOURCES, each with its reason)."""
    found = unused_sources(manifest())
    holds("fct_unused_sources", {s.split(".")[0] for s in found}, DOCUMENTATION_SOURCES)


def test_no_model_rejoins_an_upstream_concept():
    """fct_rejoining_of_upstream_concepts: parent → child → grandchild and parent → grandchild,
    where the child feeds nothing else (the child's logic belongs in the grandchild, or the
    parent's columns should pass through the child)."""
    kids = children()
    rejoined = [f"{p} → {c} → {g}, and {p} → {g}"
                for p, cs in kids.items() for c in cs for g in kids.get(c, ())
                if g in cs and kids[c] == {g}]
    assert not rejoined, f"models rejoining an upstream concept: {rejoined}"


def _code(model: dict) -> str:
    """A model's SQL without comments and whitespace, to compare shapes."""
    import re

    text = re.sub(r"--[^\n]*|\{#.*?#\}", "", model["raw_code"], flags=re.S)
    return re.sub(r"\s+", " ", text).strip()


def test_no_two_models_are_the_same_code():
    """One shape, written once: models whose SQL is the same (comments and spaces aside) are a
    macro waiting to happen (stg_impact__estimates and stg_prioritisation__certainty are the macro
    typed_computed_source over their own source)."""
    seen: dict[str, str] = {}
    twins = []
    for m in models():
        code = _code(m)
        if code in seen:
            twins.append(f"{seen[code]} = {m['name']}")
        seen[code] = m["name"]
    assert not twins, f"models with the same SQL: {twins}"
    computed = [m["name"] for m in models() if "typed_computed_source(" in m["raw_code"]]
    assert sorted(computed) == ["stg_impact__estimates", "stg_prioritisation__certainty"]


# The names of the need score's indicators may appear in the candidate's SQL only in its one list,
# but for these: the line that selects the published rows the indicators are made of, and the
# branch that reads IMRC from its own step (IMRC is computed from its two published components,
# excess and deficit of rain, as the rule imrc_component says).
INDICATOR_LITERAL_EXCEPTIONS = ("where indicator in ('mdm', 'idf', 'imrc_exceso', 'imrc_deficit', 'ipm')",
                                "{%- if i == 'imrc' %}")


def test_the_indicator_pivots_are_generated_from_one_list():
    [candidate] = [m for m in models() if m["name"] == "int_prioritisation__candidate"]
    code = _code(candidate)
    for line in INDICATOR_LITERAL_EXCEPTIONS:
        assert line in code, f"exception no longer needed: {line}"
        code = code.replace(line, "")
    for name in ("mdm", "idf", "imrc", "ipm"):
        assert code.count(f"'{name}'") == 1, f"'{name}' spelled outside the indicators' list"
        spelled = [f"{name}_{part}" for part in ("value", "year", "percentile", "contribution") if f"{name}_{part}" in code]
        assert not spelled, f"columns of {name} spelled by hand: {spelled}"


# -- the evaluator's DAG rules, as functions of a manifest ----------------------------------------
# Each takes the manifest (a dict) and returns what breaks the rule, so that the tests below can
# feed it a made-up manifest and see it found. The thresholds are the evaluator's defaults.
FANOUT_THRESHOLD = 3  # models_fanout_threshold: more direct leaf children than this is a fanout
JOINS_THRESHOLD = 7  # too_many_joins_threshold: this many direct parents or more (the evaluator's >=)


def _models_of(man: dict) -> dict[str, dict]:
    return {k: n for k, n in man["nodes"].items() if n["resource_type"] == "model" and n["package_name"] == "sinfonia"}


def _children_of(man: dict) -> dict[str, set[str]]:
    """Each node's direct child models."""
    out: dict[str, set[str]] = {}
    for uid, m in _models_of(man).items():
        for p in m["depends_on"]["nodes"]:
            out.setdefault(p, set()).add(uid)
    return out


def _kind(man: dict, uid: str) -> str:
    node = man["nodes"].get(uid) or man["sources"].get(uid) or {}
    return node.get("resource_type", uid.split(".", 1)[0])


def root_models(man: dict) -> set[str]:
    """fct_root_models: models with no parent; stricter, so are models whose only parents are seeds
    (the evaluator does not count them: a seed is a parent), each of which must be written down."""
    return {m["name"] for m in _models_of(man).values()
            if all(_kind(man, p) == "seed" for p in m["depends_on"]["nodes"])}


def model_fanout(man: dict) -> dict[str, list[str]]:
    """fct_model_fanout: models with more than FANOUT_THRESHOLD direct children that feed no model."""
    models, kids = _models_of(man), _children_of(man)
    out = {}
    for uid, m in models.items():
        leaves = sorted(models[c]["name"] for c in kids.get(uid, ()) if not kids.get(c))
        if len(leaves) > FANOUT_THRESHOLD:
            out[m["name"]] = leaves
    return out


def too_many_joins(man: dict) -> dict[str, int]:
    """fct_too_many_joins: models reading JOINS_THRESHOLD or more distinct nodes (models, sources, seeds)."""
    return {m["name"]: len(set(m["depends_on"]["nodes"])) for m in _models_of(man).values()
            if len(set(m["depends_on"]["nodes"])) >= JOINS_THRESHOLD}


def direct_joins_to_source(man: dict) -> set[str]:
    """fct_direct_join_to_source: models reading both a source and a model."""
    return {m["name"] for m in _models_of(man).values()
            if {"source", "model"} <= {_kind(man, p) for p in m["depends_on"]["nodes"]}}


def staging_on_staging(man: dict) -> set[tuple[str, str]]:
    """fct_staging_dependent_on_staging: (staging model, the staging model it reads)."""
    models = _models_of(man)
    return {(m["name"], models[p]["name"]) for m in models.values() if m["fqn"][1] == "staging"
            for p in m["depends_on"]["nodes"] if p in models and models[p]["fqn"][1] == "staging"}


def unused_sources(man: dict) -> set[str]:
    """fct_unused_sources: source tables (source.table) that no model reads."""
    kids = _children_of(man)
    return {f"{s['source_name']}.{s['name']}" for uid, s in man["sources"].items()
            if s["package_name"] == "sinfonia" and not kids.get(uid)}


def holds(rule: str, found, exceptions: dict) -> None:
    """What ``rule`` found is exactly its written-down exceptions: anything else breaks the rule,
    and an exception no longer found must be taken off (as DOWNSTREAM_EXCEPTIONS)."""
    found = set(found)
    unlisted = sorted(found - set(exceptions))
    assert not unlisted, f"{rule}: {unlisted} (fix the model, or write the exception down with its reason)"
    stale = sorted(set(exceptions) - found)
    assert not stale, f"{rule}: exceptions no longer needed, take them off: {stale}"


# Written-down exceptions, each with its reason (empty: the project passes the rule as it is).
ROOT_MODEL_EXCEPTIONS = {
    "dim_date": "the calendar is generated (generate_series over the dbt vars date_spine_start and "
                "date_spine_end), not read: no publisher has a calendar, and a seed of days would only "
                "have to be kept in step with the vars",
    "dim_territorial_directorate": "ESAP's territorial directorates are ESAP's own reference list, kept by "
                                   "the project as the seed territorial_directorates (no source publishes it)",
    "dim_thematic_line": "ESAP's thematic lines of assistance are ESAP's own reference list, kept by the "
                         "project as the seed thematic_lines (no source publishes it)",
}
FANOUT_EXCEPTIONS = {
    "fct_technical_assistance": "the star schema's fact of assistances: each reporting mart (coverage, the "
                                "directorates' leaderboard, the impact panel, the municipality profile, the "
                                "teams) reads it for its own readers; a model between them would copy the fact",
    "dim_municipality": "the conformed municipality dimension, read by every mart about municipalities "
                        "(coverage, impact panel, profile, open work) to name and group them, as marts do",
}
TOO_MANY_JOINS_EXCEPTIONS = {
    "mart_municipality_profile": "the characterisation sheet's one row per year and municipality gathers what "
                                 "a team reads before a first visit: the year's list, the municipality, its "
                                 "directorate, the indicators, the assistances, the thematic lines and the "
                                 "rules that suggest them; each input is one section of the sheet, read once",
}
DIRECT_JOIN_TO_SOURCE_EXCEPTIONS: dict[str, str] = {}
STAGING_ON_STAGING_EXCEPTIONS: dict[tuple[str, str], str] = {}


def test_root_models_are_the_written_down_exceptions():
    holds("fct_root_models", root_models(manifest()), ROOT_MODEL_EXCEPTIONS)


def test_model_fanout_is_the_written_down_exceptions():
    found = model_fanout(manifest())
    non_marts = {name: leaves for name, leaves in found.items()
                 if layer(next(m for m in models() if m["name"] == name)) != "marts"}
    assert not non_marts, f"staging or intermediate models with more than {FANOUT_THRESHOLD} leaf children: {non_marts}"
    holds("fct_model_fanout", found, FANOUT_EXCEPTIONS)


def test_too_many_joins_is_the_written_down_exceptions():
    holds("fct_too_many_joins", too_many_joins(manifest()), TOO_MANY_JOINS_EXCEPTIONS)


def test_no_model_joins_a_source_to_a_model():
    holds("fct_direct_join_to_source", direct_joins_to_source(manifest()), DIRECT_JOIN_TO_SOURCE_EXCEPTIONS)


def test_no_staging_model_reads_another():
    holds("fct_staging_dependent_on_staging", staging_on_staging(manifest()), STAGING_ON_STAGING_EXCEPTIONS)


def _made_up_manifest() -> dict:
    """A manifest with one breach of each rule above, to show that the rules can fail."""
    def model(name: str, folder: str, *parents: str) -> tuple[str, dict]:
        return f"model.sinfonia.{name}", {"resource_type": "model", "package_name": "sinfonia", "name": name,
                                          "fqn": ["sinfonia", folder, name],
                                          "depends_on": {"nodes": [p if "." in p else f"model.sinfonia.{p}"
                                                                   for p in parents]}}

    nodes = dict([
        model("stg_a__x", "staging", "source.sinfonia.a.x"),
        model("stg_a__y", "staging", "stg_a__x"),  # staging on staging
        model("int_calendar", "intermediate"),  # a root model
        model("int_codes", "intermediate", "seed.sinfonia.codes"),  # seeds only
        model("int_mixed", "intermediate", "stg_a__x", "source.sinfonia.a.x"),  # a source joined to a model
        *(model(f"fct_{i}", "marts", "int_mixed") for i in range(4)),  # int_mixed fans out to 4 leaves
        model("int_p", "intermediate", "stg_a__x"),
        model("int_q", "intermediate", "stg_a__x"),
        model("mart_wide", "marts", "stg_a__x", "stg_a__y", "int_calendar", "int_codes", "int_p", "int_q",
              "seed.sinfonia.codes"),  # seven parents
    ])
    nodes["seed.sinfonia.codes"] = {"resource_type": "seed", "package_name": "sinfonia", "name": "codes"}
    sources = {f"source.sinfonia.a.{t}": {"resource_type": "source", "package_name": "sinfonia", "source_name": "a",
                                          "name": t} for t in ("x", "unread")}
    return {"nodes": nodes, "sources": sources}


def test_the_rules_find_each_breach_of_a_made_up_manifest():
    """The rules are not vacuous: each finds the breach planted for it, and holds() fails on a
    breach not written down and on an exception no longer needed."""
    man = _made_up_manifest()
    assert root_models(man) == {"int_calendar", "int_codes"}
    assert model_fanout(man) == {"int_mixed": ["fct_0", "fct_1", "fct_2", "fct_3"]}
    assert too_many_joins(man) == {"mart_wide": 7}
    assert direct_joins_to_source(man) == {"int_mixed"}
    assert staging_on_staging(man) == {("stg_a__y", "stg_a__x")}
    assert unused_sources(man) == {"a.unread"}
    holds("fct_root_models", root_models(man), {"int_calendar": "why", "int_codes": "why"})
    try:
        holds("fct_root_models", root_models(man), {"int_calendar": "why"})
    except AssertionError as e:
        assert "int_codes" in str(e) and "write the exception down" in str(e)
    else:
        raise AssertionError("a root model not written down passed")
    try:
        holds("fct_root_models", root_models(man), {"int_calendar": "why", "int_codes": "why", "int_gone": "why"})
    except AssertionError as e:
        assert "int_gone" in str(e) and "no longer needed" in str(e)
    else:
        raise AssertionError("a stale exception passed")
