"""The intake rules against real published files (no false refusal) and hand-built edge cases."""

from __future__ import annotations

import pytest

from sinfonia.ingest import intake
from tests.conftest import REFERENCE
from tests.corpus import DIVIPOLA_HEADER, roster_csv, write_csv

PUBLISHED = sorted(p for p in REFERENCE.rglob("*") if p.is_file() and p.suffix.lower() in (".csv", ".xlsx"))


@pytest.mark.skipif(not PUBLISHED, reason="reference files not found beside the checkout")
@pytest.mark.parametrize("path", PUBLISHED, ids=[p.name for p in PUBLISHED])
def test_every_real_published_file_passes_the_intake_rules(path):
    intake.check(path)


def test_names_of_places_are_not_personal_data_but_a_document_with_a_name_is(tmp_path):
    intake.check(write_csv(tmp_path / "DIVIPOLA.csv", DIVIPOLA_HEADER, [["05", "05001", "ANTIOQUIA", "MEDELLÍN", "Municipio"]]))
    intake.check(write_csv(tmp_path / "only_names.csv", ["Nombre", "Valor"], [["Cauca", "1"]]))
    with pytest.raises(intake.RefusedFile, match=r"roster.csv: row 1 holds personal data \(columns Documento, Nombre\)"):
        intake.check(roster_csv(tmp_path / "roster.csv"))
    intake.check(roster_csv(tmp_path / "equipos_2024.csv"), personal_data_expected=True)


def test_a_cell_at_the_limit_passes_and_one_character_more_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SINFONIA_MAX_CELL_CHARS", "10")
    intake.check(write_csv(tmp_path / "ok.csv", ["a", "b"], [["x" * 10, "y"]]))
    with pytest.raises(intake.RefusedFile, match=r"long.csv: row 2, column 'b': a cell of 11 characters; expected at most 10"):
        intake.check(write_csv(tmp_path / "long.csv", ["a", "b"], [["x", "y" * 11]]))


def test_a_limit_that_is_not_a_number_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SINFONIA_MAX_ROWS", "many")
    with pytest.raises(ValueError, match=r"SINFONIA_MAX_ROWS='many': expected a number of rows"):
        intake.check(write_csv(tmp_path / "a.csv", ["a"], [["1"]]))
