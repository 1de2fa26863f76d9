"""CGN HISTORICOS.xlsx: categories by year in 'Vigencia', <year> column pairs."""

import openpyxl
import pytest

from sinfonia.ingest.sources import cgn_categories
from sinfonia.ingest.tables import SourceFormatError
from sinfonia.sample import indices
from sinfonia.sample.model import build_world
from tests.helpers import landed


@pytest.fixture(scope="module")
def world():
    return build_world(13, 2020, 2024, municipalities=60)


@pytest.fixture
def workbook(tmp_path, world):
    [(path, _)] = indices.write_categories(world, tmp_path)
    assert path.name == "HISTORICOS.xlsx"
    return path


def test_one_batch_per_year_with_the_world_categories(workbook, world):
    batches = {b.period: b for b in cgn_categories.parse([landed(workbook)])}
    assert set(batches) == {str(y) for y in range(2020, 2026)}
    for year, b in batches.items():
        assert len(b.rows) == len(world.municipal) and not b.rejected
        for r in b.rows:
            assert r[7] == world.category(r[3], int(year))  # ESP/E → E, 6 → '6'
        by = {r[8] for r in b.rows}
        assert by <= ({"AUTOCAT", "INFO CGR"} if year == "2025" else {None})
    assert all(len(r[3]) == 5 for r in batches["2020"].rows)  # numeric codes zero-padded


def test_sin_is_no_category_and_unknown_values_are_quarantined(workbook):
    wb = openpyxl.load_workbook(workbook)
    ws = wb["HISTORIA-CAT-MUNIC"]
    ws.insert_rows(1, 2)  # header now in row 8, data from row 10
    ws.insert_cols(1)
    header = [c.value for c in ws[8]]
    col = next(i for i, v in enumerate(header) if v == "Vigencia" and header[i + 1] == 2022) + 1
    ws.cell(row=10, column=col, value="SIN")
    ws.cell(row=11, column=col, value="7")
    ws.cell(row=12, column=col).value = None
    ws.cell(row=13, column=col, value="Categoría Especial")
    wb.save(workbook)
    b = next(b for b in cgn_categories.parse([landed(workbook)]) if b.period == "2022")
    rows = {r[1]: r for r in b.rows}
    assert rows[10][6:8] == ("SIN", None) and rows[12][6:8] == (None, None) and rows[13][7] == "E"
    [bad] = b.rejected
    assert (bad.row_number, bad.column, bad.value) == (11, "Vigencia 2022", "7")
    assert bad.reason == "expected a category: E or ESP (especial), 1–6 or SIN"  # one wording for both forms


def test_sheet_without_year_pairs_is_a_clear_error(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "HISTORIA-CAT-MUNIC"
    wb.active.append(["CODIGO", "MUNICIPIO", "2024"])
    wb.save(tmp_path / "HISTORICOS.xlsx")
    with pytest.raises(SourceFormatError, match="no header row with pairs 'Vigencia', <year>"):
        cgn_categories.parse([landed(tmp_path / "HISTORICOS.xlsx")])


# --- CGN's yearly report CT01 (issue 15) -----------------------------------------------------

from collections import Counter  # noqa: E402

from tests.conftest import reference  # noqa: E402

CT01_2021 = ("cgn", "CT01 Categorizacion 2021.xlsx")


@pytest.fixture(scope="module")
def ct01_2021():
    [batch] = cgn_categories.parse([landed(reference(*CT01_2021))])
    return batch


def test_ct01_2021_loads_the_municipal_sheet_and_quarantines_the_historic_one(ct01_2021):
    """1,101 rows in 'Categorización por Municipio' load; Talaigua Nuevo in 'Categoría con
    historicos' (a category carried from before 2018) is read and quarantined with the reason; the
    32 departments of the departmental sheet are not municipalities."""
    b = ct01_2021
    assert b.period == "2021" and b.rows_read == 1102 and len(b.rows) == 1101
    assert len({r[3] for r in b.rows}) == 1101 and "13780" not in {r[3] for r in b.rows}
    assert Counter(r[7] for r in b.rows) == {"6": 957, "5": 49, "1": 25, "4": 23, "2": 22, "3": 19, "E": 6}
    [held] = b.rejected
    assert (held.file_name, held.row_number, held.column, held.value) == (CT01_2021[1], 9, "Categoría", "6")
    assert "historic sheet 'Categoría con historicos'" in held.reason and "before 2018" in held.reason
    assert "not one set for vigencia 2021" in held.reason and "does not list 13780" in held.reason
    assert held.record["sheet"] == "Categoría con historicos" and held.record["Municipio"] == "TALAIGUA NUEVO"
    assert str(b.published_on) == "2020-11-30"


@pytest.mark.parametrize("code,row,category,published,department", [
    ("05001", 431, "E", "ESP", "DEPARTAMENTO DE ANTIOQUIA"),  # 210105001
    ("70221", 9, "5", "5", "DEPARTAMENTO DE SUCRE"),  # 89970221: 8 digits, the leading zero fell off
    ("15500", 10, "6", "6", "DEPARTAMENTO DE BOYACA"),  # 210015500
    ("23815", 413, "6", "6", "DEPARTAMENTO DE CORDOBA"),  # 923271490: a code that embeds no DIVIPOLA code
    ("19300", 1086, "5", "5", "DEPARTAMENTO DE CAUCA"),  # 923270346: not Sucre's 70346
])
def test_ct01_2021_values_match_the_file(ct01_2021, code, row, category, published, department):
    [r] = [r for r in ct01_2021.rows if r[3] == code]
    assert (r[1], r[7], r[6], r[4]) == (row, category, published, department)


def test_ct01_sections_become_who_categorised(ct01_2021):
    by = Counter(r[8] for r in ct01_2021.rows)
    assert by["Entidades categorizadas por el ministerio del interior"] == 405
    assert by["Categorizadas por la Contaduría con información del CGR"] == 674
    assert by["Categorizadas con información del cgr de un año anterior"] == 22


def _ct01(path, year_title="2022", sheet="Categorización por Municipio", start_col=1, header_row=8,
          order=None, codes_as_text=False, rows=None):
    header = ["Código CGN", "Municipio", "Nombre", "Población DANE", "Categoría"]
    rows = rows or [(210105001, "MEDELLIN", "DEPARTAMENTO DE ANTIOQUIA", 2500000, "ESP"),
                    (89970221, "COVEÑAS", "DEPARTAMENTO DE SUCRE", 18892, 5),
                    (210015500, "OICATA", "DEPARTAMENTO DE BOYACA", 2858, 6)]
    order = order or list(range(len(header)))
    wb = openpyxl.Workbook()
    dept = wb.active
    dept.title = "Categorización por Departamen"
    dept.append(["Código CGN", "Nombre", "Categoría"])
    dept.append([110505000, "DEPARTAMENTO DE ANTIOQUIA", "ESP"])
    ws = wb.create_sheet(sheet)
    pad = [None] * (start_col - 1)
    ws.append(pad + [None, None, None, "CT01 - Categorización de Municipios"])
    ws.append(pad + [None, None, None, " Categorización por Municipios"])
    ws.append(pad + [None, None, None, year_title])
    for _ in range(header_row - 5):
        ws.append([])
    ws.append(pad + ["1 - Entidades categorizadas por el ministerio del interior"])
    ws.append(pad + [header[i] for i in order])
    for r in rows:
        r = [str(r[0]) if codes_as_text else r[0], *r[1:]]
        ws.append(pad + [r[i] for i in order])
    ws.append(pad + ["Reporte generado en: 25/11/2021 - 9:29:12"])
    wb.save(path)
    return path


@pytest.mark.parametrize("variant", [
    {}, {"sheet": "Hoja1", "start_col": 3, "header_row": 12}, {"order": [4, 2, 0, 3, 1]}, {"codes_as_text": True},
])
def test_generated_ct01_variants_give_the_same_categories(tmp_path, variant):
    path = _ct01(tmp_path / "CT01 Categorizacion 2022.xlsx", **variant)
    [b] = cgn_categories.parse([landed(path)])
    assert b.period == "2022" and not b.rejected and b.rows_read == 3
    assert {r[3]: r[7] for r in b.rows} == {"05001": "E", "70221": "5", "15500": "6"}
    assert {r[8] for r in b.rows} == {"Entidades categorizadas por el ministerio del interior"}


def test_ct01_without_year_in_file_name_takes_the_title_or_year_argument(tmp_path):
    [b] = cgn_categories.parse([landed(_ct01(tmp_path / "CT01.xlsx", year_title="2024"))])
    assert b.period == "2024"
    [b] = cgn_categories.parse([landed(_ct01(tmp_path / "CT01.xlsx", year_title=None))], period="2023")
    assert b.period == "2023"


def test_ct01_title_contradicting_the_file_name_is_an_error_naming_both(tmp_path):
    path = _ct01(tmp_path / "CT01 Categorizacion 2022.xlsx", year_title="2021")
    with pytest.raises(SourceFormatError, match=r"the file name .* says 2022 but the title cell D3 \('2021'\).* says 2021"):
        cgn_categories.parse([landed(path)])


def test_ct01_codes_not_resolving_to_divipola_are_quarantined_with_the_reason(tmp_path):
    rows = [(210105001, "MEDELLIN", "X", 1, "ESP"), (923279999, "NUEVO", "X", 1, 6), (210100001, "Y", "X", 1, 6),
            ("abc", "Z", "X", 1, 6), (210105002, "W", "X", 1, "7"), (210105001, "MEDELLIN", "X", 1, "ESP")]
    [b] = cgn_categories.parse([landed(_ct01(tmp_path / "CT01 2022.xlsx", rows=rows))])
    assert [r[3] for r in b.rows] == ["05001"]
    reasons = {r.row_number: r.reason for r in b.rejected}
    assert "CGN code 923279999 embeds no DIVIPOLA code" in reasons[10]
    assert "00 is no DANE department" in reasons[11]
    assert "expected a DANE municipality code" in reasons[12]
    assert "expected a category" in reasons[13]
    assert reasons[14] == "duplicate municipality code 05001: first at row 9"  # the row contract's wording
    assert b.rows_read == 6


def test_a_ct01_sheet_without_the_department_names_says_so_and_loads_the_categories(tmp_path):
    [b] = cgn_categories.parse([landed(_ct01(tmp_path / "CT01 2022.xlsx", order=[0, 1, 4]))])
    assert [r[3] for r in b.rows] == ["05001", "70221", "15500"] and all(r[4] is None for r in b.rows)
    [notice] = [n for n in b.notices if "no column for" in n]
    assert "department_name (a header such as 'nombre')" in notice and "loaded without it" in notice
    [full] = cgn_categories.parse([landed(_ct01(tmp_path / "CT01 2023.xlsx", year_title="2023"))])
    assert not [n for n in full.notices if "no column for" in n]
