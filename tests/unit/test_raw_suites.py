"""The raw gates cannot silently weaken: every range, key and code expectation of every raw
suite stops the run (issue 22 found the MDM range expectation could become a mere warning)."""

import json
from pathlib import Path

import pytest

SUITES = sorted((Path(__file__).resolve().parents[2] / "expectations" / "expectations").glob("raw_*.json"))
RANGE = {"expect_column_values_to_be_between"}
KEY = {"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
       "expect_column_values_to_not_be_null"}
CODE = {"expect_column_values_to_match_regex", "expect_column_values_to_be_in_set"}


def _kind(expectation: dict) -> str | None:
    kind, kwargs = expectation["type"], expectation["kwargs"]
    if kind in RANGE:
        return "range"
    if kind in KEY:
        return "key"
    if kind in CODE:
        return "code"
    query = kwargs.get("unexpected_rows_query", "")
    if "divipola" in query or "_code" in query:
        return "code"  # codes that must exist in DIVIPOLA, code lengths
    return None  # row counts and other plausibility checks may warn


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_every_range_key_and_code_expectation_of_a_raw_suite_is_critical(path):
    suite = json.loads(path.read_text(encoding="utf-8"))
    weak = [(e["type"], e["kwargs"]) for e in suite["expectations"]
            if _kind(e) and e.get("severity") != "critical"]
    assert not weak, f"{path.name}: not critical: {weak}"


@pytest.mark.parametrize("suite,column", [
    ("raw_mdm", "value"), ("raw_idf", "idf_score"), ("raw_imrc", "imrc"), ("raw_ipm", "ipm"), ("raw_idf", "year"),
    ("raw_mdm", "year"), ("raw_cgn_categories", "year"),
])
def test_published_scores_and_years_have_a_critical_range(suite, column):
    expectations = json.loads((SUITES[0].parent / f"{suite}.json").read_text(encoding="utf-8"))["expectations"]
    assert any(e["type"] in RANGE and e["kwargs"].get("column") == column and e.get("severity") == "critical"
               for e in expectations)


@pytest.mark.parametrize("path", [p for p in SUITES if p.stem not in ("raw_divipola", "raw_esap_metas", "raw_esap_equipos")],
                         ids=lambda p: p.stem)
def test_every_raw_suite_with_municipality_codes_checks_them_against_divipola(path):
    expectations = json.loads(path.read_text(encoding="utf-8"))["expectations"]
    assert any("raw.divipola" in e["kwargs"].get("unexpected_rows_query", "") and e.get("severity") == "critical"
               for e in expectations)


def test_the_classification_catches_a_range_expectation_turned_into_a_warning():
    weakened = {"type": "expect_column_values_to_be_between", "kwargs": {"column": "value"}, "severity": "warning"}
    assert _kind(weakened) == "range" and weakened["severity"] != "critical"
