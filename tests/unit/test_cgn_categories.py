"""CGN HISTORICOS.xlsx: categories by year in 'Vigencia', <year> column pairs."""

import openpyxl
import pytest

from sinfonia.sample import indices
from sinfonia.sample.model import build_world
from sinfonia.sources import cgn_categories
from sinfonia.sources._tables import SourceFormatError
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
    assert "E (especial), 1–6 or SIN" in bad.reason


def test_sheet_without_year_pairs_is_a_clear_error(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "HISTORIA-CAT-MUNIC"
    wb.active.append(["CODIGO", "MUNICIPIO", "2024"])
    wb.save(tmp_path / "HISTORICOS.xlsx")
    with pytest.raises(SourceFormatError, match="no header row with pairs 'Vigencia', <year>"):
        cgn_categories.parse([landed(tmp_path / "HISTORICOS.xlsx")])
