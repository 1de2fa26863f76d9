"""IDF in every layout DNP publishes: yearly annexes of both methodologies and the consultation
tool's export (issue 15)."""

from collections import Counter

import openpyxl
import pytest

from sinfonia.ingest.sources import idf
from sinfonia.ingest.tables import SourceFormatError, read_xlsx_sheets
from tests.conftest import reference
from tests.helpers import landed

EXPORT_HEADER = ["Código Entidad", "Código FUT", "Entidad", "Departamento", "Cod. Departamento", "Categoría",
                 "Dotación Inicial", "Tipologia", "Ciudad Capital", "Dependencia de las Transferencias",
                 "Resultados", "Gestión", "IDF Sin Bonos", "IDF", "Rango"]
EXPORT_ROWS = [
    ["05001", "210105001", "Medellín", "Antioquia", "05", "E", "C", "A", 1, 29.07, 64.53, 90.67, 80.1234567, 80.2234567, "5. Sostenible (>=80)"],
    ["05002", "210205002", "Abejorral", "Antioquia", "05", 6, "G4", "E", 0, 70.76, 31.21, 97.99, 64.5, 65.0, "3. Vulnerable (>=60 y <70)"],
    ["76001", "217676001", "Cali", "Valle del Cauca", "76", "E", "C", "A", 1, 30.1, 60.2, 88.8, 70.0, 71.5, "4. Solvente (>=70 y <80)"],
]


def _export(path, department="Antioquia", year=2024, rows=None, sheet="Hoja1", codes_as_numbers=False):
    """DNP's IDF consultation export: metadata block in rows 8–13 from column B, header row 17."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    for _ in range(7):
        ws.append([])
    for label, value in (("Indice de Desempeño Fiscal - IDF", None), ("Año", year),
                         ("Periodo", "Anual - (Enero - Diciembre)"), ("Departamento", department),
                         ("Entidad", "Todos"), ("Tipo Reporte", "IDF - Municipios")):
        ws.append([None, label, value])
    for _ in range(3):
        ws.append([])
    ws.append([None, *EXPORT_HEADER])
    for r in rows if rows is not None else [r for r in EXPORT_ROWS if department == "Todos" or r[3] == department]:
        r = list(r)
        if codes_as_numbers:
            r[0], r[1] = int(r[0]), int(r[1])
        ws.append([None, *r])
    wb.save(path)
    return path


@pytest.mark.parametrize("department,codes", [("Antioquia", ["05001", "05002"]), ("Todos", ["05001", "05002", "76001"])])
def test_consultation_export_for_one_department_or_all(tmp_path, department, codes):
    [b] = idf.parse([landed(_export(tmp_path / "ReporteIDF.xlsx", department))])
    assert b.period == "2024-nueva" and not b.rejected and [r[4] for r in b.rows] == codes
    medellin = b.rows[0]
    assert medellin[1] == 18  # header row 17
    assert medellin[2:] == ("2024", "nueva", "05001", "Antioquia", "Medellín", "80.2234567",
                            "5. Sostenible (>=80)", "E", "C", None)  # no Bono Catastro in the export


def test_export_codes_stored_as_numbers_are_read_as_divipola(tmp_path):
    [b] = idf.parse([landed(_export(tmp_path / "ReporteIDF.xlsx", "Todos", codes_as_numbers=True))])
    assert [r[4] for r in b.rows] == ["05001", "05002", "76001"]


def test_export_year_comes_from_the_metadata_block_or_year_argument_and_conflicts_are_named(tmp_path):
    [b] = idf.parse([landed(_export(tmp_path / "ReporteIDF.xlsx", year=2025))])
    assert b.period == "2025-nueva"
    [b] = idf.parse([landed(_export(tmp_path / "ReporteIDF.xlsx", year=None))], period="2024")
    assert b.period == "2024-nueva"
    with pytest.raises(SourceFormatError, match=r"IDF 2023\.xlsx: the file name .* says 2023 but the title cells B9–C9 "
                                                r"\('Año' '2024'\) .* says 2024"):
        idf.parse([landed(_export(tmp_path / "IDF 2023.xlsx", year=2024))])


def test_implausible_year_quarantines_every_row_with_the_reason(tmp_path):
    [b] = idf.parse([landed(_export(tmp_path / "ReporteIDF.xlsx", year=2099))])
    assert not b.rows and len(b.rejected) == 2
    assert all("year 2099 outside the plausible range" in r.reason for r in b.rejected)


def test_export_scores_a_hundred_times_too_large_are_refused(tmp_path):
    rows = [[*r[:12], r[12] * 100, r[13] * 100, r[14]] for r in EXPORT_ROWS]
    with pytest.raises(SourceFormatError, match=r"column 'IDF': 3 of 3 values are outside the published range 0–100"):
        idf.parse([landed(_export(tmp_path / "ReporteIDF.xlsx", "Todos", rows=rows))])


def _annex(path, sheet="Municipios 2019", title_rows=7, department_header="Departamento", start_col=1, order=None):
    header = ["Código", department_header, "Municipio", "Indicador de desempeño Fiscal 7/", "Rango Clasificación",
              "Categoría Ley 617 de 2000"]
    rows = [["05001", "Antioquia", "Medellín", 83.1074237062075, "5.Solvente (>=80)", "E"],
            [5002, "Antioquia", "Abejorral", 65.5, "3. Vulnerable (>=60 y <70)", 6],
            ["Fuente: DNP", None, None, None, None, None]]
    order = order or list(range(len(header)))
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([None] * (start_col - 1) + ["Evaluación del desempeño fiscal de los municipios"])
    for _ in range(title_rows - 1):
        ws.append([])
    for r in [header, *rows]:
        ws.append([None] * (start_col - 1) + [r[i] for i in order])
    wb.save(path)
    return path


@pytest.mark.parametrize("variant", [
    {}, {"department_header": "Depto."}, {"department_header": "Nombre del Departamento"},
    {"sheet": "Hoja de resultados", "title_rows": 3, "start_col": 4}, {"order": [3, 2, 0, 5, 4, 1]},
])
def test_older_annex_variants_load_the_same_rows(tmp_path, variant):
    """An older year whose department column is headed differently (not needed: DIVIPOLA says
    which department), a renamed sheet with the header elsewhere, columns in another order."""
    [b] = idf.parse([landed(_annex(tmp_path / "Anexos Desempeno Fiscal 2019.xlsx", **variant))])
    assert b.period == "2019-anterior" and not b.rejected and b.notes_skipped == 1
    assert [(r[4], r[7], r[8], r[9]) for r in b.rows] == [
        ("05001", "83.1074237062075", "5.Solvente (>=80)", "E"), ("05002", "65.5", "3. Vulnerable (>=60 y <70)", "6")]


REFERENCE = {  # file → (sheet, period, rows read, quarantined, score header, municipalities checked)
    "Anexos Desempeno Fiscal 2018.xlsx": ("Municipios 2018", "2018-anterior", 1101, 4,
                                          "Indicador de desempeño Fiscal 7/", ("05001", "76001", "15500")),
    "Anexos Desempeño Fiscal 2020_Nueva Metodología.xlsx": ("Municipios 2020", "2020-nueva", 1101, 4, "Nuevo IDF",
                                                            ("05001", "11001", "70221")),
    "IDF_2021_Nueva_Metodologia.xlsx": ("Municipios 2021", "2021-nueva", 1102, 4, "Nuevo IDF", ("05001", "05002", "76001")),
    "ResultadosIDF_Nueva_MetodologIa_2023_Act.xlsx": ("Municipios 2023", "2023-nueva", 1102, 0, "Nuevo IDF",
                                                      ("05001", "25214", "76001")),
}


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_reference_annexes_counts_and_values_match_the_file(name):
    sheet, period, read, quarantined, score_header, checked = REFERENCE[name]
    path = reference("idf", name)
    [b] = idf.parse([landed(path)])
    assert (b.period, b.rows_read, len(b.rejected), len(b.rows)) == (period, read, quarantined, read - quarantined)
    rows = read_xlsx_sheets(path)[sheet]
    header_row = next(i for i, r in enumerate(rows) if any(str(v).strip() == score_header for v in r if v))
    header = [" ".join(str(v).split()) if v else None for v in rows[header_row]]
    score, code = header.index(score_header), 0
    published = {str(r[code]).zfill(5): r for r in rows[header_row + 1:] if r[code]}
    loaded = {r[4]: r for r in b.rows}
    for municipality in checked:
        assert round(float(loaded[municipality][7]), 4) == round(float(published[municipality][score]), 4)
        assert loaded[municipality][1] == list(published).index(municipality) + header_row + 2


@pytest.mark.parametrize(("name", "bonus"), [("Anexos Desempeño Fiscal 2020_Nueva Metodología.xlsx", 33),
                                             ("IDF_2021_Nueva_Metodologia.xlsx", 38),
                                             ("ResultadosIDF_Nueva_MetodologIa_2023_Act.xlsx", 99)])
def test_the_new_methodology_cadastral_bonus_is_kept_as_published(name, bonus):
    """'Bono Catastro' (2020 on): 0 or 2 points; every loaded row has it, as the annex publishes it."""
    [b] = idf.parse([landed(reference("idf", name))])
    values = Counter(r[idf.COLUMNS.index("bono_catastro") + 2] for r in b.rows)
    assert set(values) == {"0", "2"} and values["2"] == bonus, values


def test_the_old_methodology_has_no_cadastral_bonus():
    [b] = idf.parse([landed(reference("idf", "Anexos Desempeno Fiscal 2018.xlsx"))])
    assert {r[idf.COLUMNS.index("bono_catastro") + 2] for r in b.rows} == {None}


def test_reference_2023_categories_match_sources_md():
    [b] = idf.parse([landed(reference("idf", "ResultadosIDF_Nueva_MetodologIa_2023_Act.xlsx"))])
    assert Counter(r[9] for r in b.rows) == {"6": 967, "5": 42, "4": 16, "3": 25, "2": 19, "1": 27, "E": 6}


def test_a_departmental_sheet_with_the_same_columns_is_not_read_as_municipalities(tmp_path):
    path = _annex(tmp_path / "Anexos Desempeno Fiscal 2019.xlsx")
    wb = openpyxl.load_workbook(path)
    ws = wb.create_sheet("Departamentos 2019", 0)
    ws.append(["Código", "Departamento", "Municipio", "Indicador de desempeño Fiscal 7/", "Rango Clasificación",
               "Categoría Ley 617 de 2000"])
    ws.append(["05000", "Antioquia", None, 80.5, "5.Solvente (>=80)", "E"])
    ws.append(["76000", "Valle", None, 70.5, "4. Sostenible (>=70 y <80)", "1"])
    wb.save(path)
    [b] = idf.parse([landed(path)])
    assert [r[4] for r in b.rows] == ["05001", "05002"] and not b.rejected
    del wb["Municipios 2019"]
    wb.save(path)
    with pytest.raises(SourceFormatError, match="only departments"):
        idf.parse([landed(path)])
