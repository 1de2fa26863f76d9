"""IMRC: DNP's workbook, two sheets, title row then a header with line breaks and double spaces."""

import openpyxl
import pytest

from sinfonia.ingest.sources import imrc
from sinfonia.ingest.tables import SourceFormatError
from sinfonia.sample import indices
from sinfonia.sample.model import build_world
from tests.helpers import landed


@pytest.fixture(scope="module")
def world():
    return build_world(11, 2019, 2025, municipalities=80)


@pytest.fixture
def workbook(tmp_path, world):
    [(path, meta)] = indices.write_imrc(world, tmp_path)
    assert path.name == "IMRC-BASE-DE-DATOS-2024.xlsx" and meta["period"] == "2024"
    return path


def test_both_sheets_give_one_batch_each_with_the_sample_values(workbook, world):
    batches = {b.period: b for b in imrc.parse([landed(workbook)])}
    assert set(batches) == {"2024-exceso", "2024-deficit"}
    values = indices.imrc_values(world)
    for hazard in ("exceso", "deficit"):
        b = batches[f"2024-{hazard}"]
        assert len(b.rows) == len(world.municipal) and not b.rejected
        for r in b.rows:
            expected = values[r[4]][hazard]
            if expected is None:
                assert r[7] is None and "'Sin población expuesta' recorded as missing" in r[9]
            else:
                assert float(r[7]) == pytest.approx(expected)  # decimal commas read as decimals
        assert {r[8] for r in b.rows} <= {"C", "G1", "G2", "G3", "G4", "G5"}


def test_text_in_the_index_is_quarantined_and_headers_are_found_after_moving(workbook):
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Deficit de Lluvias"]
    ws.insert_rows(1, 2)
    ws.insert_cols(1)
    col = [c.value for c in ws[4]].index("Indice de riesgo de desastres ajustado por capacidades  (IMRC_D)") + 1
    ws.cell(row=5, column=col, value="pendiente")
    ws.cell(row=6, column=col, value="No reportado")
    wb.save(workbook)
    b = next(b for b in imrc.parse([landed(workbook)]) if b.period == "2024-deficit")
    [bad] = b.rejected
    assert (bad.row_number, bad.value) == (5, "pendiente") and "(IMRC_D)" in bad.column
    assert bad.reason == ("expected a number or a statement it publishes ('Sin población expuesta', "
                          "'No reportado', 'No aplica')")
    row6 = next(r for r in b.rows if r[1] == 6)
    assert row6[7] is None and "No reportado" in row6[9]
    assert b.rows_read == len(b.rows) + 1


def test_missing_sheet_and_missing_edition_are_clear_errors(tmp_path, workbook):
    wb = openpyxl.load_workbook(workbook)
    del wb["Deficit de Lluvias"]
    wb.save(tmp_path / "IMRC-BASE-DE-DATOS-2024b.xlsx")
    with pytest.raises(SourceFormatError, match=r"no sheet like 'Deficit de Lluvias'.*lacks imrc"):
        imrc.parse([landed(tmp_path / "IMRC-BASE-DE-DATOS-2024b.xlsx")])
    renamed = tmp_path / "IMRC.xlsx"
    renamed.write_bytes(workbook.read_bytes())
    with pytest.raises(SourceFormatError, match="cannot tell the IMRC edition"):
        imrc.parse([landed(renamed)])


def test_sheets_renamed_and_reordered_give_the_same_rows(tmp_path, workbook):
    plain = {b.period: [r[2:] for r in b.rows] for b in imrc.parse([landed(workbook)])}
    wb = openpyxl.load_workbook(workbook)
    wb["Exceso de Lluvias"].title = "Hoja2"
    wb["Deficit de Lluvias"].title = "Hoja1"
    wb.move_sheet("Hoja1", offset=-1)
    wb.save(tmp_path / "IMRC-BASE-DE-DATOS-2024.xlsx")
    renamed = {b.period: [r[2:] for r in b.rows] for b in imrc.parse([landed(tmp_path / "IMRC-BASE-DE-DATOS-2024.xlsx")])}
    assert renamed == plain and all(plain.values())


def test_index_a_hundred_times_too_large_refuses_the_file(tmp_path, workbook):
    wb = openpyxl.load_workbook(workbook)
    ws = wb["Exceso de Lluvias"]
    col = next(c.column for c in ws[2] if c.value and "IMRC_E" in str(c.value))
    for (cell,) in ws.iter_rows(min_row=3, min_col=col, max_col=col):
        if isinstance(cell.value, (int, float)):
            cell.value = cell.value * 100
    wb.save(tmp_path / "IMRC-BASE-DE-DATOS-2024.xlsx")
    with pytest.raises(SourceFormatError, match=r"sheet 'Exceso de Lluvias', column .*IMRC_E.*outside the published range 0–100"):
        imrc.parse([landed(tmp_path / "IMRC-BASE-DE-DATOS-2024.xlsx")])


def test_a_sheet_without_the_capacity_group_column_names_it(tmp_path, workbook):
    wb = openpyxl.load_workbook(workbook)
    for ws in wb.worksheets:
        column = None
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str) and "grupo de capacidad" in cell.value.lower():
                    column = cell.column
        ws.delete_cols(column)
    wb.save(tmp_path / "IMRC-BASE-DE-DATOS-2024.xlsx")
    batches = imrc.parse([landed(tmp_path / "IMRC-BASE-DE-DATOS-2024.xlsx")])
    assert all(b.rows for b in batches)
    for b in batches:
        assert any("no column for" in n and "capacity_group (a header such as 'grupo de capacidad')" in n
                   and "; loaded without" in n for n in b.notices), b.notices
