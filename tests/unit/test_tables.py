from sinfonia.sources._tables import (
    Column, SourceFormatError, dane_code, normalise, number_text, table_from_rows,
)
import pytest


def test_normalise_drops_accents_case_footnote_marks_and_extra_spaces():
    assert normalise("  Indicador de desempeño Fiscal 7/ ") == "indicador de desempeno fiscal"
    assert normalise("1/ Autofinanciación de los gastos") == "autofinanciacion de los gastos"
    assert normalise("Código\nDANE   Municipio") == "codigo dane municipio"


@pytest.mark.parametrize("value,expected", [
    (5475, "05475"), ("5475", "05475"), (5475.0, "05475"), ("'05001", "05001"), ("05001", "05001"),
    ("abc", None), (None, None), ("123456", None), (12.5, None),
])
def test_dane_code_keeps_five_digit_text(value, expected):
    assert dane_code(value) == expected


@pytest.mark.parametrize("value,expected", [
    (83.5, "83.5"), ("83,5", "83.5"), ("1.234,5", "1234.5"), ("N.D.", None), ("", None), (70, "70"),
    ("Sin información", None), (True, None),
])
def test_number_text_accepts_decimal_commas_and_rejects_text(value, expected):
    assert number_text(value) == expected


COLUMNS = [Column("code", ("codigo",)), Column("score", ("nuevo idf",))]


def test_header_row_is_found_when_it_moves():
    for title_rows in (0, 5, 7):
        rows = [("Título",)] * title_rows + [("Código", "Nuevo IDF (sin bonos)", "Nuevo IDF")] + [("05001", 1, 2)]
        table = table_from_rows("f.xlsx", "s", rows, COLUMNS)
        assert table.header_row == title_rows + 1
        assert table.positions == {"code": 0, "score": 2}
        assert list(table.records()) == [(title_rows + 2, {"code": "05001", "score": 2})]


def test_missing_column_error_names_file_sheet_row_and_column():
    rows = [("Código", "Departamento"), ("05001", "Antioquia")]
    with pytest.raises(SourceFormatError, match=r"f\.xlsx, sheet 'Municipios 2020': header row 1 lacks score"):
        table_from_rows("f.xlsx", "Municipios 2020", rows, COLUMNS)
