"""Names, numbers and spreadsheet cells as the planning office hands them out."""

import openpyxl
import pytest

from sinfonia.report.spanish import number, percent, place_name
from sinfonia.report.workbook import category, neutralise, put


@pytest.mark.parametrize("raw, expected", [
    ("VALLE DEL CAUCA", "Valle del Cauca"),
    ("Valle Del Cauca", "Valle del Cauca"),  # what initcap leaves in the warehouse
    ("ARCHIPIÉLAGO DE SAN ANDRÉS, PROVIDENCIA Y SANTA CATALINA",
     "Archipiélago de San Andrés, Providencia y Santa Catalina"),
    ("Bogotá, D.C.", "Bogotá, D.C."),
    ("EL CARMEN DE VIBORAL", "El Carmen de Viboral"),  # a particle that starts the name stays capital
    ("SAN PEDRO DE LOS MILAGROS", "San Pedro de los Milagros"),
    ("LA GUAJIRA", "La Guajira"),
    ("MIRITÍ - PARANÁ", "Mirití - Paraná"),
    ("CARTAGENA DE INDIAS, D.T. Y C.", "Cartagena de Indias, D.T. y C."),
    (None, None),
])
def test_place_names_keep_spanish_particles_in_lower_case(raw, expected):
    assert place_name(raw) == expected


def test_numbers_use_the_decimal_comma_and_the_thousands_point():
    assert number(98.53747714808044, 1) == "98,5"
    assert number(1234567.891, 2) == "1.234.567,89"
    assert number(3) == "3" and number(-0.01, 1) == "0,0"
    assert number(None) == number(float("nan")) == "—"
    assert percent(0.6667) == "66,7\u00a0%" and percent(None) == "—"


@pytest.mark.parametrize("text", ["=Cmd|' /C Calc'!A0", '=Hyperlink("Http://X","Y")', "+1", "-1+2",
                                  "@SUM(A1)", "\t=1", "\r=1"])
def test_text_that_could_start_a_formula_gets_a_single_quote_and_stays_a_string(text, tmp_path):
    assert neutralise(text) == "'" + text
    wb = openpyxl.Workbook()
    put(wb.active, 1, 1, text)
    wb.save(tmp_path / "x.xlsx")
    cell = openpyxl.load_workbook(tmp_path / "x.xlsx").active["A1"]
    # XML parsers normalise a CR to LF (the standard library's does; lxml, when installed, keeps it)
    assert cell.data_type == "s" and cell.value in {"'" + text, "'" + text.replace("\r", "\n")}


def test_ordinary_text_numbers_and_categories_are_written_as_they_are(tmp_path):
    assert neutralise("Medellín") == "Medellín" and neutralise("") == ""
    assert category("6") == 6 and category("E") == "E" and category(None) is None
    wb = openpyxl.Workbook()
    put(wb.active, 1, 1, 98.5, "#,##0.0")
    put(wb.active, 1, 2, True)
    wb.save(tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "x.xlsx").active
    assert (ws["A1"].value, ws["A1"].number_format, ws["B1"].value) == (98.5, "#,##0.0", "Sí")
