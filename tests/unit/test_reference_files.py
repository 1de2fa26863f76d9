"""The extractors against real published files (../shared/reference), quirks and all."""

from collections import Counter

import pytest

from sinfonia.sources import divipola, idf, pdet
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
    assert all(r.reason == "expected a numeric score" for r in batch.rejected)
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
