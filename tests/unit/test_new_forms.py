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
    # the optional columns this edition does not publish are named, not silently empty
    assert batch.notices == ["IDF2015.xlsx, sheet 'Hoja1': no column for capacity_group (a header such as "
                             "'dotaciones iniciales'), bono_catastro (a header such as 'bono catastro'); "
                             "loaded without them (empty in raw)"]


def test_a_recognised_column_whose_values_all_fail_to_load_is_an_error(tmp_path, monkeypatch):
    # a mapping that loses every value of a recognised optional column (here: every category)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Código", "Municipio", "Indicador de desempeño Fiscal", "Categoría"])
    ws.append(["05001", "Medellín", 80.5, "E"])
    wb.save(tmp_path / "IDF 2019.xlsx")
    from sinfonia.ingest.sources import contract

    real = contract.RowContract._value
    monkeypatch.setattr(contract.RowContract, "_value",
                        lambda self, f, raw: (None, None) if f.name == "category" else real(self, f, raw))
    with pytest.raises(SourceFormatError, match=r"column 'Categoría' \(read as category\): none of its 1 "
                                                r"published values could be loaded \(first at row 2: 'E'\)"):
        idf.parse([landed(tmp_path / "IDF 2019.xlsx")])


# --- DANE's DIVIPOLA workbook (generated: no reference copy) -------------------------------------

def dane_divipola_book(path, *, updated="Actualizado al 31 de diciembre de 2024", coordinates=True):
    """DANE's geoportal export: title rows, a group row above a split header row, footnotes."""
    group = ["Departamento", None, "Municipio", None, "Tipo"] + (["Localización", None] if coordinates else [])
    header = ["Código", "Nombre", "Código", "Nombre", "Tipo: Municipio / Isla / Área no municipalizada"] + (
        ["LATITUD", "LONGITUD"] if coordinates else [])
    data = [["05", "ANTIOQUIA", "05001", "MEDELLÍN", "Municipio", 6.25184, -75.56359],
            ["88", "ARCHIPIÉLAGO DE SAN ANDRÉS", "88001", "SAN ANDRÉS", "Isla", 12.5847, -81.7006],
            ["91", "AMAZONAS", "91263", "EL ENCANTO", "Área no municipalizada", -1.7479, -73.2092]]
    rows = [["DIVISIÓN POLÍTICO-ADMINISTRATIVA DE COLOMBIA - DIVIPOLA"], [updated], [], group, header,
            *[r[:len(header)] for r in data], [], ["Fuente: DANE, Geoportal."], ["Nota: las áreas no municipalizadas …"]]
    return _results_workbook(path, {"Municipios": rows})


def test_dane_divipola_workbook_two_row_header_footnotes_and_its_update_date(tmp_path):
    from datetime import date

    from sinfonia.ingest.sources import divipola

    [batch] = divipola.parse([landed(dane_divipola_book(tmp_path / "DIVIPOLA_Municipios.xlsx"))])
    assert batch.period == "2024" and batch.published_on == date(2024, 12, 31)
    assert not batch.rejected and batch.notes_skipped == 2  # the two footnotes
    cols = ("file_name", "row_number", *divipola.COLUMNS)
    got = {r[3]: dict(zip(cols, r, strict=True)) for r in batch.rows}
    assert set(got) == {"05001", "88001", "91263"}
    assert got["05001"]["municipality_name"] == "MEDELLÍN" and got["05001"]["department_name"] == "ANTIOQUIA"
    assert got["91263"]["entity_type"] == "area_no_municipalizada" and got["88001"]["row_number"] == 7
    if "latitude" in divipola.COLUMNS:  # the coordinates, when the raw table carries them
        assert float(got["05001"]["latitude"]) == 6.25184 and float(got["05001"]["longitude"]) == -75.56359
    assert batch.headers[("DIVIPOLA_Municipios.xlsx", "municipality_code")] == "Municipio: Código"


def test_dane_divipola_workbook_is_found_in_a_divipola_folder(tmp_path):
    from sinfonia.ingest.extract import discover

    dane_divipola_book(tmp_path / "divipola" / "DIVIPOLA.xlsx") if (tmp_path / "divipola").mkdir() is None else None
    assert [p.name for p in discover(tmp_path, "divipola")] == ["DIVIPOLA.xlsx"]


def test_an_update_date_that_cannot_be_read_is_named(tmp_path):
    from sinfonia.ingest.sources import divipola

    path = dane_divipola_book(tmp_path / "DIVIPOLA.xlsx", updated="Actualizado al día de hoy")
    with pytest.raises(SourceFormatError, match=r"DIVIPOLA.xlsx: cannot read the date of 'Actualizado al día de hoy'"):
        divipola.parse([landed(path)])


# --- delimited text as .txt, the code in two columns, the real header row -------------------------

def test_pipe_separated_txt_with_decimal_commas_and_a_title_line_loads_like_csv(tmp_path):
    from sinfonia.ingest.extract import discover
    from sinfonia.ingest.sources import SOURCES

    folder = tmp_path / "mdm"
    folder.mkdir()
    (folder / "mdm_socrata.txt").write_text(
        "Medición de desempeño municipal\n"
        "codigo_entidad|entidad|departamento|indicador|dato|anio\n"
        "05001|Medellín|Antioquia|MDM|80,58|2018\n"
        "05002|Abejorral|Antioquia|MDM|45,5|2018\n", encoding="cp1252")
    assert [p.name for p in discover(tmp_path, "mdm")] == ["mdm_socrata.txt"]
    assert "*.txt" in SOURCES["mdm"].patterns and "asistencias*.txt" in SOURCES["esap_asistencias"].patterns
    [batch] = mdm.parse([landed(folder / "mdm_socrata.txt")])
    assert not batch.rejected
    assert _mdm_values(batch, "05001") == {"mdm": "80.58"} and _mdm_values(batch, "05002") == {"mdm": "45.5"}


def _idf_with_two_codes(path, second):
    rows = [["Código", "Municipio", "Indicador de desempeño Fiscal", "Código"],
            [5001, "Medellín", 80.5, "05001"], [5002, "Abejorral", 60.25, second]]
    return _results_workbook(path, {"Municipios 2019": rows})


def test_the_same_code_in_two_columns_is_accepted_when_every_row_agrees(tmp_path):
    [batch] = idf.parse([landed(_idf_with_two_codes(tmp_path / "IDF 2019.xlsx", "05002"))])
    assert [r[4] for r in batch.rows] == ["05001", "05002"] and not batch.rejected


def test_two_code_columns_that_disagree_are_refused_naming_the_first_row_that_does(tmp_path):
    with pytest.raises(SourceFormatError, match=r"header row 1 has 'Código' twice, in columns A and D, and they "
                                                r"disagree at row 3 \('5002' and '05004'\)"):
        idf.parse([landed(_idf_with_two_codes(tmp_path / "IDF 2019.xlsx", "05004"))])


def test_a_refusal_names_the_real_header_row_not_a_data_row_that_reads_like_a_header(tmp_path):
    # the header lacks the score; row 2's entity type 'Municipio' matches an alias of the name column
    rows = [["Código", "Departamento", "Tipo", "Valor"], ["05001", "Antioquia", "Municipio", 80.5]]
    path = _results_workbook(tmp_path / "IDF 2019.xlsx", {"Hoja1": rows})
    with pytest.raises(SourceFormatError, match=r"header row 1 lacks idf_score"):
        idf.parse([landed(path)])
