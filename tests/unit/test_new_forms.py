"""The forms publishers put out beside the ones first supported: DNP's yearly MDM results, the IDF
with its Ley 617 category under another header, and no optional column lost without a word."""

from collections import Counter

import openpyxl
import pytest

from sinfonia.ingest.sources import idf, mdm
from sinfonia.ingest.tables import SourceFormatError
from tests.conftest import reference
from tests.helpers import landed

COLS = ("file_name", "row_number", *mdm.COLUMNS)


def _mdm_values(batch, code: str) -> dict[str, str]:
    rows = [dict(zip(COLS, r, strict=True)) for r in batch.rows]
    return {r["indicator"]: r["value"] or r["value_label"] for r in rows if r["entity_code"] == code}


def test_dnp_yearly_mdm_results_2018_load_every_score_exact():
    [batch] = mdm.parse([landed(reference("mdm", "ResultadosMDM2018.xlsx"))])
    assert batch.period == "2018" and not batch.rejected
    medellin = _mdm_values(batch, "05001")
    assert round(float(medellin["mdm"]), 4) == 80.5844
    assert round(float(medellin["mdm_gestion"]), 4) == 81.2977
    assert medellin["capacity_group"] == "Ciudades"
    # the current year's results, not the previous year's column beside it
    assert {r[COLS.index("published_indicator")] for r in batch.rows
            if r[COLS.index("indicator")] == "mdm_resultados"} == {"Puntaje Resultados 2018"}
    assert len({r[COLS.index("entity_code")] for r in batch.rows}) == 1101


def _results_workbook(path, sheets: dict[str, list[list]]):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_yearly_results_with_short_headers_one_sheet_per_year(tmp_path):
    def sheet(year, score):
        return [["Resultados de la Medición del Desempeño Municipal"], [],
                ["Código DANE", "Departamento", "Municipio", "Grupo", f"Gestión {year}",
                 f"Resultados {year - 1}", f"Resultados {year}", "Ajuste por Resultados", f"MDM {year}", "Puesto"],
                ["05001", "Antioquia", "Medellín", "C", 70.5, 60.1, 61.25, 1.01, score, 1],
                ["5002", "Antioquia", "Abejorral", "G4", 50.0, 40.0, 41.0, 0.99, 45.5, 300],
                ["Fuente: DNP"]]
    path = _results_workbook(tmp_path / "ResultadosMDM.xlsx", {"2019": sheet(2019, 72.25), "2020": sheet(2020, 73.5)})
    batches = {b.period: b for b in mdm.parse([landed(path)])}
    assert set(batches) == {"2019", "2020"}
    assert _mdm_values(batches["2020"], "05001") == {
        "mdm": "73.5", "mdm_gestion": "70.5", "mdm_resultados": "61.25", "capacity_group": "C"}
    assert _mdm_values(batches["2019"], "05002")["mdm"] == "45.5"
    assert not any(b.rejected for b in batches.values())


def test_yearly_results_whose_header_and_file_name_disagree_name_both(tmp_path):
    rows = [["Código DANE", "Municipio", "Puntaje Gestión", "Puntaje Resultados 2021", "Puntaje MDM 2021"],
            ["05001", "Medellín", 70, 60, 65]]
    path = _results_workbook(tmp_path / "ResultadosMDM2020.xlsx", {"Hoja1": rows})
    with pytest.raises(SourceFormatError, match=r"the header 'Puntaje MDM 2021' says 2021 but the file name "
                                                r"'ResultadosMDM2020.xlsx' says 2020"):
        mdm.parse([landed(path)])


def test_idf_2015_category_under_its_own_header_loads_with_the_published_values():
    [batch] = idf.parse([landed(reference("idf", "IDF2015.xlsx"))])
    cols = ("file_name", "row_number", *idf.COLUMNS)
    rows = [dict(zip(cols, r, strict=True)) for r in batch.rows]
    medellin = next(r for r in rows if r["municipality_code"] == "05001")
    assert round(float(medellin["idf_score"]), 4) == 83.7331 and medellin["category"] == "E"
    assert Counter(r["category"] for r in rows)["6"] == 968
    # the one optional column this edition does not publish is named, not silently empty
    assert batch.notices == ["IDF2015.xlsx, sheet 'Hoja1': no column for capacity_group (a header such as "
                             "'dotaciones iniciales'); loaded without it (empty in raw)"]


def test_a_recognised_column_whose_values_all_fail_to_load_is_an_error(tmp_path, monkeypatch):
    # a parser that maps no value of a recognised optional column (here: one that drops every category)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Código", "Municipio", "Indicador de desempeño Fiscal", "Categoría"])
    ws.append(["05001", "Medellín", 80.5, "E"])
    wb.save(tmp_path / "IDF 2019.xlsx")
    real = idf.cell_text
    monkeypatch.setattr(idf, "cell_text", lambda v: None if v == "E" else real(v))
    with pytest.raises(SourceFormatError, match=r"column 'Categoría' \(read as category\): none of its 1 "
                                                r"published values could be loaded \(first at row 2: 'E'\)"):
        idf.parse([landed(tmp_path / "IDF 2019.xlsx")])
