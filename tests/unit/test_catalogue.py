"""The source catalogue is the one list of sources: everything else is derived from it."""

import ast
import re
from pathlib import Path

import pytest

from sinfonia.ingest.sources import CATALOGUE, SOURCES, Periods, SourceSpec, get
from sinfonia.ingest.sources.spec import SourceSpec as Spec

REPO = Path(__file__).resolve().parents[2]
NAMES = [s.name for s in CATALOGUE]


def test_every_source_module_declares_its_spec_and_the_catalogue_lists_each_once():
    modules = sorted(p.stem for p in (REPO / "include/sinfonia/ingest/sources").glob("*.py")
                     if not p.stem.startswith("_") and p.stem not in ("spec", "contract"))
    assert sorted(NAMES) == modules and len(set(NAMES)) == len(NAMES)
    assert all(isinstance(s, SourceSpec) for s in CATALOGUE) and list(SOURCES) == NAMES


def test_a_source_comes_after_the_sources_it_needs():
    for i, spec in enumerate(CATALOGUE):
        assert set(spec.after) <= set(NAMES[:i]), spec.name
    assert NAMES[0] == "divipola" and SOURCES["esap_asistencias"].after == ("divipola",)


def test_declarations_that_change_how_a_source_is_handled():
    assert SOURCES["esap_equipos"].schema == "restricted" and SOURCES["esap_equipos"].prepare_for_landing
    assert [s.name for s in CATALOGUE if s.schema != "raw"] == ["esap_equipos"]
    assert [s.name for s in CATALOGUE if s.prepare_for_landing] == ["esap_equipos"]
    assert [s.name for s in CATALOGUE if s.resolves_divipola_names] == ["esap_asistencias"]
    assert {s.name for s in CATALOGUE if s.periods is Periods.PER_FILE} == {"idf", "esap_asistencias"}
    assert {s.name for s in CATALOGUE if s.periods is Periods.GIVEN} == {"divipola", "pdet"}
    assert SOURCES["ipm"].tables.keys() == {"ipm", "ipm_privations"}


def test_the_listing_the_dags_are_laid_out_from_says_what_each_module_declares():
    from sinfonia.ingest.sources import LISTING, Listed, _agree

    assert [s.name for s in LISTING] == NAMES
    for listed, spec in zip(LISTING, CATALOGUE, strict=True):
        assert (listed.after, listed.drives_monitoring, listed.note, listed.task_id) == (
            spec.after, spec.drives_monitoring, spec.note, spec.task_id)
    with pytest.raises(ValueError, match=r"source mdm: drives_monitoring is False in its module's SPEC but True"):
        _agree(Listed("mdm", after=("divipola",), drives_monitoring=True), SOURCES["mdm"])


def test_a_module_whose_spec_carries_another_name_is_refused_naming_both(monkeypatch):
    import dataclasses

    from sinfonia.ingest.sources import _load, pdet

    monkeypatch.setattr(pdet, "SPEC", dataclasses.replace(pdet.SPEC, name="pdet_2024"))
    with pytest.raises(ValueError, match=r"module's name: \{'pdet': 'pdet_2024'\}"):
        _load()


def test_an_unknown_source_is_refused_naming_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown source 'nope'; known: divipola, pdet"):
        get("nope")


def test_a_spec_that_resolves_names_must_come_after_divipola():
    with pytest.raises(ValueError, match=r"source x: resolving DIVIPOLA names needs after=\('divipola',\)"):
        Spec("x", "x", ("*.csv",), ("a",), lambda files: [], resolves_divipola_names=True)


def test_read_passes_a_given_period_and_divipola_names_only_to_the_sources_that_take_them():
    calls = []
    parse = lambda files, **kwargs: calls.append(kwargs) or []  # noqa: E731
    Spec("a", "a", ("*",), ("c",), parse, periods=Periods.GIVEN).read([], period="2020", names={})
    Spec("b", "b", ("*",), ("c",), parse).read([], period="2020", names={})
    Spec("c", "c", ("*",), ("c",), parse, resolves_divipola_names=True, after=("divipola",)).read(
        [], period="2020", names={("x", "y"): "05001"})
    assert calls == [{"period": "2020"}, {}, {"names": {("x", "y"): "05001"}}]


# Deliberate exceptions. MDM, IDF, IPM and IMRC are also the indicators the prioritisation ranks
# by and the impact estimates use as outcomes: a list of those indicators is not a list of
# sources. locations.py keys the publishers' locations known for some sources (a per-source
# fact read by `sinfonia extract --from published`), not the list of sources.
INDICATORS = {"mdm", "idf", "ipm", "imrc"}
ALLOWED_FILES = {"include/sinfonia/ingest/locations.py"}


def _string_lists_of_sources(path: Path) -> list[str]:
    """Tuples, lists, sets and dict keys in ``path`` that spell two or more source names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        items = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else (
            node.keys if isinstance(node, ast.Dict) else [])
        names = {i.value for i in items if isinstance(i, ast.Constant) and i.value in SOURCES}
        if len(names) >= 2 and not names <= INDICATORS:
            found.append(f"{path.relative_to(REPO)}:{node.lineno} {sorted(names)}")
    return found


def test_grep_finds_one_list_of_sources():
    """No second hand-kept list of source names in the package or the DAGs (the catalogue in
    sources/__init__.py lists modules, not strings), and no dispatch on a source's name."""
    files = [f for f in [*(REPO / "include/sinfonia").rglob("*.py"), *(REPO / "dags").glob("*.py")]
             if str(f.relative_to(REPO)) not in ALLOWED_FILES]
    lists = [hit for f in files for hit in _string_lists_of_sources(f)]
    assert not lists, f"a second list of sources: {lists}"
    dispatch = re.compile(rf"""(source|name)\s*==\s*["']({"|".join(NAMES)})["']""")
    hits = [f"{f.relative_to(REPO)}: {m.group(0)}" for f in files for m in dispatch.finditer(f.read_text())]
    assert not hits, f"dispatch on a source's name: {hits}"
    probing = [str(f.relative_to(REPO)) for f in files
               if re.search(r"getattr\((module|REGISTRY)|inspect\.signature", f.read_text())]
    assert not probing, f"optional attributes probed: {probing}"


def test_bootstrap_sql_defines_no_source_table():
    """The sources' tables come from the catalogue (db.bootstrap), not from a second definition."""
    sql = (REPO / "include/sinfonia/sql/bootstrap.sql").read_text()
    created = set(re.findall(r"create table if not exists (\w+)\.(\w+)", sql))
    assert {schema for schema, _ in created} == {"meta"}
    assert not {t for _, t in created} & {t for s in CATALOGUE for t in s.tables}
