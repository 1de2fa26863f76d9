"""The extractors against real published files (../shared/reference), quirks and all."""

from collections import Counter

import pytest

from sinfonia.ingest.sources import divipola, idf, pdet
from tests.conftest import reference
from tests.helpers import landed


def test_divipola_csv_export_loads_every_row_with_types_and_codes_as_text():
    [batch] = divipola.parse([landed(reference("divipola", "DIVIPOLA.csv"))])
    assert batch.rows_read == 1122 and not batch.rejected
    types = Counter(r[6] for r in batch.rows)
    assert types == {"municipio": 1102, "isla": 1, "area_no_municipalizada": 19}
    bogota = next(r for r in batch.rows if r[3] == "11001")
    assert bogota[2:4] == ("11", "11001")


def test_pdet_list_codes_stored_as_integers_are_zero_padded():
    [batch] = pdet.parse([landed(reference("pdet", "MunicipiosPDET.xlsx"))])
    assert len(batch.rows) == 170 and not batch.rejected
    codes = {r[5] for r in batch.rows}
    assert all(len(c) == 5 for c in codes) and "05475" in codes
    assert len({r[2] for r in batch.rows}) == 16


@pytest.mark.parametrize("name,period,data_rows,rejected", [
    ("Anexos Desempeno Fiscal 2018.xlsx", "2018-anterior", 1101, 4),
    ("Anexos Desempeño Fiscal 2020_Nueva Metodología.xlsx", "2020-nueva", 1101, 4),
    ("IDF_2021_Nueva_Metodologia.xlsx", "2021-nueva", 1102, 4),
    ("ResultadosIDF_Nueva_MetodologIa_2023_Act.xlsx", "2023-nueva", 1102, 0),
])
def test_idf_workbooks_of_both_methodologies_reconcile(name, period, data_rows, rejected):
    batches = idf.parse([landed(reference("idf", name))])
    [batch] = [b for b in batches if b.period == period]
    assert batch.rows_read == data_rows
    assert len(batch.rejected) == rejected
    assert all(r.reason == "expected a number" for r in batch.rejected)
    scores = [float(r[7]) for r in batch.rows]
    assert 0 <= min(scores) and max(scores) <= 100


def test_idf_2018_skips_footnotes_and_the_unlabelled_average_row():
    [batch] = idf.parse([landed(reference("idf", "Anexos Desempeno Fiscal 2018.xlsx"))])
    assert batch.notes_skipped >= 9
    medellin = next(r for r in batch.rows if r[4] == "05001")
    assert medellin[3] == "anterior" and medellin[8] == "5.Solvente (>=80)" and medellin[9] == "E"


def test_idf_new_methodology_keeps_capacity_group_and_range_label():
    [batch] = idf.parse([landed(reference("idf", "ResultadosIDF_Nueva_MetodologIa_2023_Act.xlsx"))])
    groups = Counter(r[10] for r in batch.rows)
    assert groups["C"] == 13 and groups["G1"] == 217
    assert Counter(r[8] for r in batch.rows)["4. Solvente (>=70 y <80)"] == 80


# --- values against the file, and generated layouts (issue 15) -------------------------------

import csv  # noqa: E402

import openpyxl  # noqa: E402

from sinfonia.ingest.sources import ipm  # noqa: E402


@pytest.mark.parametrize("code", ["05001", "13780", "94663"])
def test_ipm_reference_values_match_the_file_to_four_decimals(code):
    path = reference("ipm", "ipm_municipios.csv")
    with open(path, encoding="utf-8") as fh:
        published = {r["cod_municipio"].zfill(5): r for r in csv.DictReader(fh)}
    [b] = ipm.parse([landed(path)])
    row = next(r for r in b.rows if r[4] == code)
    for got, column in zip(row[6:9], ("ipm_total", "ipm_cabecera", "ipm_rural"), strict=False):
        assert (got is None and not published[code][column]) or round(float(got), 4) == round(float(published[code][column]), 4)


@pytest.mark.parametrize("code", ["05001", "88001", "94663"])
def test_divipola_reference_rows_match_the_file(code):
    path = reference("divipola", "DIVIPOLA.csv")
    with open(path, encoding="utf-8") as fh:
        published = {r[1].zfill(5): r for r in csv.reader(fh)}
    [batch] = divipola.parse([landed(path)])
    row = next(r for r in batch.rows if r[3] == code)
    assert (row[2], row[4], row[5]) == (published[code][0].zfill(2), published[code][2], published[code][3])
    assert row[6] == {"05001": "municipio", "88001": "isla", "94663": "area_no_municipalizada"}[code]


@pytest.mark.parametrize("variant", ["renamed", "moved", "reordered", "text_codes"])
def test_pdet_generated_layouts_give_the_reference_rows(tmp_path, variant):
    path = reference("pdet", "MunicipiosPDET.xlsx")
    [plain] = pdet.parse([landed(path)])
    wb = openpyxl.load_workbook(path)
    ws = wb.active
    if variant == "renamed":
        ws.title = "Hoja 1 (2)"
        wb.create_sheet("Notas", 0).append(["Listado de municipios PDET"])
    elif variant == "moved":
        ws.insert_rows(1, 4)
        ws.insert_cols(1, 2)
        ws["C2"] = "Municipios PDET - Decreto Ley 893 de 2017"
    elif variant == "reordered":
        ws.move_range("A1:A300", cols=ws.max_column + 1)
        ws.delete_cols(1)
    else:
        for (cell,) in ws.iter_rows(min_row=2, min_col=4, max_col=4):
            cell.value = str(cell.value).zfill(5) if cell.value is not None else None
    out = tmp_path / "MunicipiosPDET.xlsx"
    wb.save(out)
    [b] = pdet.parse([landed(out)])
    assert sorted(r[2:] for r in b.rows) == sorted(r[2:] for r in plain.rows) and not b.rejected
