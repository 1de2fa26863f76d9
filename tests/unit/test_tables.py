import pytest

from sinfonia.ingest.tables import (
    Column,
    SourceFormatError,
    dane_code,
    normalise,
    number_text,
    table_from_rows,
)


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


# --- finding tables by content (issue 15) ---------------------------------------------------

from sinfonia.ingest.tables import (  # noqa: E402
    check_scale,
    find_table,
    find_tables,
    header_key,
    municipality_code,
    plausible_year_problem,
    resolve_period,
    years_in_titles,
)


@pytest.mark.parametrize("published,key", [
    ("Cod. Departamento", "codigo departamento"), ("COD_MPIO", "codigo municipio"),
    ("Código\nDANE", "codigo dane"), ("Nombre  Dpto.", "nombre departamento"), ("No. herramientas", "numero herramientas"),
    ("Año", "ano"), ("anio", "ano"), ("Categoría Ley 617 ", "categoria ley 617"),
])
def test_header_key_folds_case_accents_punctuation_line_breaks_and_abbreviations(published, key):
    assert header_key(published) == key


def test_columns_match_abbreviated_headers_against_spelled_out_aliases():
    rows = [("Cod. Dpto", "Cód. DANE", "Nom. Mpio", "Nuevo IDF"), ("05", "05001", "Medellín", 80)]
    cols = [Column("code", ("codigo dane",)), Column("name", ("nombre municipio",)), Column("score", ("nuevo idf",))]
    table = table_from_rows("f.xlsx", "s", rows, cols)
    assert table.positions == {"code": 1, "name": 2, "score": 3}
    assert table.headers == {"code": "Cód. DANE", "name": "Nom. Mpio", "score": "Nuevo IDF"}


def test_table_is_found_in_any_sheet_at_any_row_and_start_column():
    sheets = {
        "Notas": [("Fuente: DNP",), ("Código", "Texto")],
        "Ranking": [("Código", "Nuevo IDF", "Código", "Nuevo IDF")],  # fewer columns than the data sheet
        "Datos (2)": [(None,)] * 16 + [(None, None, "Código", "Departamento", "Nuevo IDF"), (None, None, "05001", "Antioquia", 80)],
    }
    cols = [Column("code", ("codigo",)), Column("dept", ("departamento",), required=False), Column("score", ("nuevo idf",))]
    [table] = find_tables("f.xlsx", sheets, cols)
    assert (table.sheet, table.header_row, table.positions) == ("Datos (2)", 17, {"code": 2, "dept": 3, "score": 4})
    assert list(table.records()) == [(18, {"code": "05001", "dept": "Antioquia", "score": 80})]


def test_no_sheet_with_the_columns_names_every_sheet_and_what_it_lacks():
    sheets = {"A": [("Código", "Municipio")], "B": [("x",)]}
    with pytest.raises(SourceFormatError, match=r"f\.xlsx: no sheet has a header row with the columns code \('codigo'\), "
                                                r"score \('nuevo idf'\).*sheet 'A': header row 1 lacks score.*sheet 'B'"):
        find_table("f.xlsx", sheets, COLUMNS)


def test_a_needed_header_present_twice_is_an_error_naming_both_columns():
    rows = [("Código", "Estado", "Nuevo IDF", "Estado"), ("05001", "a", 1, "b")]
    cols = [*COLUMNS, Column("status", ("estado",))]
    with pytest.raises(SourceFormatError, match=r"f\.csv: header row 1 has 'Estado' twice, in columns B and D"):
        table_from_rows("f.csv", None, rows, cols)


def test_an_unneeded_header_present_twice_is_not_an_error():
    rows = [("Código", "Nota", "Nuevo IDF", "Nota"), ("05001", "a", 1, "b")]
    assert table_from_rows("f.csv", None, rows, COLUMNS).positions == {"code": 0, "score": 2}


@pytest.mark.parametrize("value,expected", [
    ("05001", "05001"), (5001, "05001"), (5001.0, "05001"), ("5001.0", "05001"), ("'05001", "05001"),
    (210105001, "05001"), ("210105001", "05001"), (89970221, "70221"), (210111001, "11001"),
])
def test_municipality_codes_in_every_published_form(value, expected):
    assert municipality_code(value) == (expected, None)


@pytest.mark.parametrize("value,reason", [
    ("ABC", "expected a DANE municipality code"), (None, "empty code"), (1234567, "found 7 digits"),
    (210100001, "00 is no DANE department"), ("05000", "is a department"), (3001, "03 is no DANE department"),
])
def test_codes_that_do_not_resolve_to_divipola_say_why(value, reason):
    code, problem = municipality_code(value)
    assert code is None and reason in problem


def test_period_comes_from_file_name_then_title_then_year_argument():
    assert resolve_period("CT01 Categorizacion 2021.xlsx") == 2021
    titles = [(None, "Indice de Desempeño Fiscal - IDF"), (None, "Año", None, 2024)]
    assert resolve_period("export.xlsx", titles=titles) == 2024
    assert resolve_period("export.xlsx", titles=[("Vigencia 2018",)]) == 2018
    assert resolve_period("export.xlsx", given="2022") == 2022
    assert resolve_period("IDF 2023.xlsx", titles=[("2023",)], sheet="Municipios 2023", given=2023) == 2023


def test_free_text_in_titles_is_not_a_period():
    assert years_in_titles([("Categoría Ley 617 de 2000",), ("Región PND 2018-2022",)]) == {}


@pytest.mark.parametrize("kwargs,message", [
    ({"titles": [(None, "Año", 2024)]}, r"the file name \('IDF 2023.xlsx'\) says 2023 but the title cells B1–C1 \('Año' '2024'\) says 2024"),
    ({"given": 2022}, r"the file name \('IDF 2023.xlsx'\) says 2023 but --year 2022 says 2022"),
    ({"sheet": "Municipios 2021"}, r"says 2023 but the sheet name 'Municipios 2021' says 2021"),
])
def test_a_period_conflict_is_an_error_naming_both(kwargs, message):
    with pytest.raises(SourceFormatError, match=message):
        resolve_period("IDF 2023.xlsx", **kwargs)


def test_no_period_anywhere_asks_for_year():
    with pytest.raises(SourceFormatError, match=r"export.xlsx: cannot tell the year.*pass --year"):
        resolve_period("export.xlsx", titles=[("Indice de Desempeño Fiscal",)])


@pytest.mark.parametrize("year,ok", [(2000, True), (1999, False), (2099, False), ("2021", True), (None, False)])
def test_years_before_2000_or_after_next_year_are_implausible(year, ok):
    assert (plausible_year_problem(year) is None) == ok


def test_scale_check_refuses_a_column_a_hundred_times_too_large_and_tolerates_an_isolated_value():
    check_scale("f.xlsx", "mdm", (0, 100), [(7, "101")], read=1000)  # one typo: the caller quarantines it
    with pytest.raises(SourceFormatError, match=r"f\.xlsx, column 'mdm': 3 of 3 values are outside the published range "
                                                r"0–100 \(from 4935 to 8333; first at row 2: 8333\); every such value is 100 "
                                                r"times a value in range.*decimal separator lost.*Nothing was loaded"):
        check_scale("f.xlsx", "mdm", (0, 100), [(2, "8333"), (3, "4935"), (4, "7009")], read=3)
