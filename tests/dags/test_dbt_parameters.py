"""A prioritisation run's parameters reach dbt through its environment, so that a new year costs
dbt a partial parse (the two models that read them) rather than the whole project's."""

import pytest

from sinfonia import dbt


def test_every_parameter_gets_a_variable_holding_its_json_value():
    assert dbt.parameters_env({"prioritisation_year": 2024, "prioritisation_as_of_date": "2024-02-01",
                               "prioritisation_force": True}) == {
        "SINFONIA_PRIORITISATION_YEAR": "2024",
        "SINFONIA_PRIORITISATION_AS_OF_DATE": '"2024-02-01"',
        "SINFONIA_PRIORITISATION_FORCE": "true"}
    # From the JSON text the DAG passes through XCom, the same variables.
    assert dbt.parameters_env('{"prioritisation_year": 2024, "prioritisation_as_of_date": null}') == {
        "SINFONIA_PRIORITISATION_YEAR": "2024", "SINFONIA_PRIORITISATION_AS_OF_DATE": "null",
        "SINFONIA_PRIORITISATION_FORCE": ""}


@pytest.mark.parametrize("given", [None, {}, ""])
def test_a_build_without_parameters_empties_every_variable(given):
    # Empty, not absent: a year set for the build before in the same process never applies.
    assert dbt.parameters_env(given) == dict.fromkeys(
        ("SINFONIA_PRIORITISATION_YEAR", "SINFONIA_PRIORITISATION_AS_OF_DATE", "SINFONIA_PRIORITISATION_FORCE"), "")


def test_an_unknown_parameter_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown prioritisation parameters \['prioritisation_yaer'\].*"
                                         r"prioritisation_year"):
        dbt.parameters_env({"prioritisation_yaer": 2024})


def test_a_new_year_re_parses_only_what_reads_it(tmp_path):
    def reparsed(**parameters) -> tuple[set[str], set[str]]:
        events, files = set(), set()

        def seen(event):
            events.add(event.info.name)
            if event.info.name == "PartialParsingFile":
                files.add(event.data.file_id.removeprefix("sinfonia://"))

        dbt.run(["parse", "--quiet"], target=tmp_path, parameters=parameters, callbacks=[seen])
        return events, files

    reparsed(prioritisation_year=2023)
    events, files = reparsed(prioritisation_year=2024)
    assert "UnableToPartialParse" not in events and "PartialParsingEnabled" in events, events
    assert files == {"models/intermediate/prioritisation/int_prioritisation__candidate.sql"}
    # prioritisation_force is read when the snapshot is built (is_incremental()), not when parsed.
    events, files = reparsed(prioritisation_year=2024, prioritisation_force=True)
    assert "UnableToPartialParse" not in events and not files
