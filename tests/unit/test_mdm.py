"""MDM: datos.gov.co long format (JSON pages, CSV export) and DNP's workbook (municipal and MDD)."""

import json

import openpyxl
import pytest

from sinfonia.ingest.sources import mdm
from sinfonia.ingest.tables import SourceFormatError
from sinfonia.sample import indices
from sinfonia.sample.model import build_world
from tests.conftest import reference
from tests.helpers import landed


def _page(path, records):
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return landed(path)


def _rec(code="05001", indicator="MDM", dato="75,3", anio="2019"):
    return {"codigo_entidad": code, "entidad": "Medellín", "departamento": "Antioquia",
            "indicador": indicator, "dato": dato, "anio": anio}


def test_socrata_page_reads_decimal_commas_and_quarantines_text(tmp_path):
    f = _page(tmp_path / "nkjx-rsq7_page_0001.json", [
        _rec(), _rec(indicator="Componente de gestión", dato="70.1"),
        _rec(indicator="Componente de resultados", dato="ND"), _rec(code="5002", dato="40"),
        _rec(code="ABC"), _rec(anio="20x9"),
    ])
    batches = {b.period: b for b in mdm.parse([f])}
    b = batches["2019"]
    assert [(r[4], r[7], r[9]) for r in b.rows] == [("05001", "mdm", "75.3"), ("05001", "mdm_gestion", "70.1"),
                                                    ("05002", "mdm", "40")]
    reasons = {(r.row_number, r.column): r.reason for b in batches.values() for r in b.rejected}
    # the row contract's wordings (sources.contract)
    assert reasons[(3, "dato")] == "expected a number"
    assert "expected a DANE municipality code" in reasons[(5, "codigo_entidad")]
    assert "expected a year" in reasons[(6, "anio")]
    assert sum(b.rows_read for b in batches.values()) == 6


def test_empty_final_socrata_page_is_no_rows(tmp_path):
    assert mdm.parse([_page(tmp_path / "p.json", [])]) == []


def test_html_error_page_instead_of_json_is_a_clear_error(tmp_path):
    path = tmp_path / "nkjx-rsq7_page_0001.json"
    path.write_text("<html><body>503 Service Unavailable</body></html>")
    with pytest.raises(SourceFormatError, match="nkjx-rsq7_page_0001.json: not a Socrata JSON page"):
        mdm.parse([landed(path)])


def test_csv_export_with_display_headers_semicolons_and_latin1(tmp_path):
    path = tmp_path / "Medici_n_del_Desempe_o_Municipal.csv"
    path.write_bytes("Código Entidad;Entidad;Departamento;Indicador;Dato;Año\n"
                     "05001;Medellín;Antioquia;MDM;75,3;2019\n"
                     "05001;Medellín;Antioquia;Componente de resultados;Sin información;2019\n".encode("latin-1"))
    [b] = mdm.parse([landed(path)])
    assert [(r[1], r[7], r[9]) for r in b.rows] == [(2, "mdm", "75.3")]
    assert [(r.row_number, r.column) for r in b.rejected] == [(3, "dato")]


@pytest.fixture(scope="module")
def world():
    return build_world(3, 2019, 2022, municipalities=40)


def test_workbook_layout_parses_with_moved_header_and_extra_leading_column(tmp_path, world):
    values = indices.mdm_values(world, {}, 0.0)
    path = indices.write_mdm_workbook(world, tmp_path / "Base de datos - mdm (Oct 24).xlsx", values)
    plain = {b.period: b for b in mdm.parse([landed(path)])}
    wb = openpyxl.load_workbook(path)
    ws = wb["Base"]
    ws.insert_rows(1, 3)
    ws.insert_cols(1)
    ws["B1"] = "Medición de Desempeño Municipal - resultados 2019-2021"
    wb.save(path)
    moved = {b.period: b for b in mdm.parse([landed(path)])}
    assert set(plain) == set(moved) == {"2019", "2020", "2021"}
    for period, b in plain.items():
        assert [r[2:] for r in b.rows] == [r[2:] for r in moved[period].rows]
        assert [r[1] + 3 for r in b.rows] == [r[1] for r in moved[period].rows]
        assert len(b.rows) == 11 * len(world.municipal) and not b.rejected
    code = world.municipal[0].code
    got = {(r[7], r[9]) for r in plain["2020"].rows if r[4] == code}
    assert got == {(mdm.INDICATORS[k], str(v)) for k, v in values[(code, 2020)].items()}


def test_socrata_pages_and_workbook_together_are_not_double_counted(tmp_path, world):
    values = indices.mdm_values(world, {}, 0.0)
    pages = indices.write_mdm_pages(world, tmp_path, values)
    book = indices.write_mdm_workbook(world, tmp_path / "mdm" / "Base de datos - mdm (Oct 24).xlsx", values)
    batches = mdm.parse([landed(p) for p, _ in pages] + [landed(book)])
    for b in batches:
        keys = [(r[4], r[2], r[7]) for r in b.rows]
        assert len(keys) == len(set(keys)) == 11 * len(world.municipal)  # the dimensions only in the workbook
        assert len(b.rejected) == 3 * len(world.municipal)
        assert all(r.reason.startswith("duplicate") and "first at nkjx-rsq7" in r.reason for r in b.rejected)


def test_departmental_mdd_workbook_is_read_as_departments_not_municipalities():
    """The real MDD release: the same 'Base' shape with cdpto/ndpto/mdd. It is recognised by
    its headers and kept apart (entity_level 'departamento', periods '<year>-departamentos'),
    so the municipal marts never see it, and a folder holding it still loads."""
    batches = mdm.parse([landed(reference("mdm", "Base de datos - mdd (oct 24) Departamentos.xlsx"))])
    assert sorted(b.period for b in batches) == [f"{y}-departamentos" for y in range(2020, 2024)]
    for b in batches:
        assert not b.rejected and b.rows_read == len(b.rows)
        assert {r[3] for r in b.rows} == {"departamento"}
        assert all(len(r[4]) == 2 for r in b.rows)
        assert {r[7] for r in b.rows} == {"mdm", "mdm_gestion", "mdm_resultados", "mdm_movilizacion",
                                          "mdm_ejecucion", "mdm_gobierno_abierto", "mdm_educacion", "mdm_salud",
                                          "mdm_servicios", "mdm_seguridad"}  # MDD has planeacion, not ot
        assert len({r[4] for r in b.rows}) == 32  # 32 departments (Bogotá is not in the MDD)
    antioquia = {r[7]: float(r[9]) for b in batches if b.period == "2020-departamentos" for r in b.rows if r[4] == "05"}
    assert abs(antioquia["mdm"] - 81.8023) < 1e-3


def test_workbook_without_either_layout_names_the_expected_columns(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "Base"
    wb.active.append(["ID", "año", "codigo", "nombre", "gestion", "resultados", "total"])
    wb.active.append([1, 2020, "05001", "x", 1, 2, 3])
    path = tmp_path / "Base de datos - mdm.xlsx"
    wb.save(path)
    with pytest.raises(SourceFormatError, match=r"Base de datos - mdm.xlsx: no sheet has a header row.*sheet 'Base': header row 1 lacks entity_code.*cmpio.*nor is it the departmental MDD"):
        mdm.parse([landed(path)])


# --- DNP's municipal base as a planning office hands it over (issue 15) ----------------------

BASE = ("mdm", "Base MDM - DNP.xlsx")
SCORES = ("movilizacion", "ejecucion", "gobierno", "ot", "gestion", "educacion", "salud", "servicios",
          "seguridad", "resultados", "mdm")


def test_base_with_scores_a_hundred_times_too_large_is_refused_saying_why():
    """The reference copy was re-saved with the decimal comma lost (Medellín 2024 mdm 8333 for
    83.33): refused at extract time, nothing rescaled, the message says what and why."""
    with pytest.raises(SourceFormatError) as err:
        mdm.parse([landed(reference(*BASE))])
    message = str(err.value)
    assert "sheet 'Base y diccionario 2024(Bas (2)', column 'mdm'" in message
    assert "9913 of 9913 values are outside the published range 0–100" in message
    assert "100 times a value in range" in message and "decimal separator lost" in message
    assert "Nothing was loaded" in message


@pytest.fixture(scope="module")
def base_rows():
    """The reference base's data sheet, as published (values, not formulas)."""
    from sinfonia.ingest.tables import read_xlsx_sheets

    sheets = read_xlsx_sheets(reference(*BASE))
    [(name, rows)] = [(n, r) for n, r in sheets.items() if r and r[0][:3] == ("ID", "año", "cmpio")]
    return name, rows


@pytest.fixture(scope="module")
def divided_base(base_rows, tmp_path_factory):
    """A copy of the base with every score divided back by 100, under another sheet name with
    the header moved to row 3 (generated here, never committed)."""
    name, rows = base_rows
    header = rows[0]
    scores = [i for i, h in enumerate(header) if h in SCORES]
    wb = openpyxl.Workbook(write_only=True)
    wb.create_sheet("Diccionario").append(["Nombre de la variable", "Descripción"])
    ws = wb.create_sheet("Datos MDM")
    ws.append(["Medición de Desempeño Municipal 2016-2024"])
    ws.append([])
    for row in rows:
        row = list(row)
        for i in scores:
            if isinstance(row[i], (int, float)) and not isinstance(row[i], bool):
                row[i] = row[i] / 100
        ws.append(row)
    path = tmp_path_factory.mktemp("mdm") / "Base MDM - DNP.xlsx"
    wb.save(path)
    return {b.period: b for b in mdm.parse([landed(path)])}


def test_divided_copy_loads_every_value_and_capacity_group(divided_base, base_rows):
    _, rows = base_rows
    header = rows[0]
    assert sorted(divided_base) == [str(y) for y in range(2016, 2025)]
    data = [r for r in rows[1:] if r[2] is not None]
    assert len(data) == 9918
    published = sum(1 for r in data for i, h in enumerate(rows[0]) if h in (*SCORES, "grupo") and r[i] is not None)
    rejected = [r for b in divided_base.values() for r in b.rejected]
    assert sum(len(b.rows) for b in divided_base.values()) + len(rejected) == published
    # DNP's 2024 seguridad holds 14 values just above 100 (100.23, 100.13): published values, loaded
    # as published (never clipped, rescaled or quarantined) and flagged on the load.
    over = [r for r in data if r[1] == 2024 and r[header.index("seguridad")] > 10000]
    assert len(over) == 14 and rejected == []
    loaded_over = sorted((r[4], r[9]) for r in divided_base["2024"].rows if r[7] == "mdm_seguridad" and float(r[9]) > 100)
    assert loaded_over == sorted((f"{r[2]:05d}", str(r[header.index("seguridad")] / 100)) for r in over)
    assert ("27025", "100.13") in loaded_over and ("05004", "100.23") in loaded_over
    [notice] = divided_base["2024"].notices
    assert notice.startswith("14 value(s) above 100 loaded as published (mdm_seguridad: 100.13–100.23; first: ")
    assert "column 'seguridad'" in notice
    assert all(not b.notices for p, b in divided_base.items() if p != "2024")
    groups = [r[10] for b in divided_base.values() for r in b.rows if r[7] == "capacity_group"]
    assert len(groups) == 9918 and set(groups) == {"C", "1", "2", "3", "4", "5"}


@pytest.mark.parametrize("code,year", [("05001", 2024), ("25214", 2024), ("05030", 2024), ("05001", 2016)])
def test_divided_copy_values_match_the_file_to_four_decimals(divided_base, base_rows, code, year):
    _, rows = base_rows
    header = rows[0]
    [published] = [r for r in rows[1:] if r[2] == int(code) and r[1] == year]
    got = {r[7]: r for r in divided_base[str(year)].rows if r[4] == code}
    assert {mdm.INDICATORS[c] for c in SCORES} <= got.keys()
    for column in SCORES:
        assert round(float(got[mdm.INDICATORS[column]][9]), 4) == round(published[header.index(column)] / 100, 4)
    assert got["capacity_group"][10] == str(published[header.index("grupo")])


def test_medellin_and_cota_2024_as_dnp_publishes_them(divided_base):
    got = {(r[4], r[7]): (r[9], r[10]) for r in divided_base["2024"].rows if r[4] in ("05001", "25214")}
    assert got[("05001", "mdm")] == ("83.33", None)
    assert got[("05001", "capacity_group")] == (None, "C")
    assert got[("25214", "capacity_group")] == (None, "1")  # G1 once staged


def test_grupo_as_published_in_every_form_is_kept_for_staging(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Hoja de datos"
    ws.append(["cmpio", "nmpio", "año", "grupo", "gestion", "resultados", "mdm"])
    for i, grupo in enumerate(["C", 1, "2", "G3", 4.0, "G 5"]):
        ws.append([5001 + i, "x", 2023, grupo, 50.5, 60.25, 55.125])
    path = tmp_path / "base.xlsx"
    wb.save(path)
    [b] = mdm.parse([landed(path)])
    assert [r[10] for r in b.rows if r[7] == "capacity_group"] == ["C", "1", "2", "G3", "4", "G 5"]
    assert {r[4] for r in b.rows} == {"05001", "05002", "05003", "05004", "05005", "05006"}


def test_scores_just_over_100_load_as_published_and_a_file_off_by_100_is_still_refused(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["cmpio", "nmpio", "año", "gestion", "resultados", "mdm", "seguridad"])
    for i in range(100):  # 40 % of seguridad just over 100: DNP's own values, not a scale error
        ws.append([5001 + i, "x", 2024, 50, 60, 55, 100.23 if i % 5 < 2 else 80])
    path = tmp_path / "base.xlsx"
    wb.save(path)
    [b] = mdm.parse([landed(path)])
    assert not b.rejected and len([r for r in b.rows if r[9] == "100.23"]) == 40
    assert b.notices and "40 value(s) above 100 loaded as published" in b.notices[0]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["cmpio", "nmpio", "año", "gestion", "resultados", "mdm", "seguridad"])
    for i in range(100):  # the same, 100 times off: refused, 10023 recognised as 100 × 100.23
        ws.append([5001 + i, "x", 2024, 50, 60, 55, 10023 if i % 5 < 2 else 8000])
    wb.save(path)
    with pytest.raises(SourceFormatError, match=r"column 'seguridad'.*every such value is 100 times a value in range"):
        mdm.parse([landed(path)])


def test_the_gates_allow_what_the_extract_loads_as_published():
    """The raw and marts gates take MDM values up to 100 + PUBLISHED_OVERSHOOT (critical above it)."""
    from pathlib import Path

    suites = Path(__file__).resolve().parents[2] / "expectations" / "expectations"
    top = mdm.SCORE_RANGE[1] + mdm.PUBLISHED_OVERSHOOT
    raw = json.loads((suites / "raw_mdm.json").read_text(encoding="utf-8"))["expectations"]
    ranges = {e["severity"]: e["kwargs"]["max_value"] for e in raw
              if e["type"] == "expect_column_values_to_be_between" and e["kwargs"]["column"] == "value"}
    assert ranges == {"critical": top}  # values above 100 are flagged at extract (meta.load_run.message)
    marts = (suites / "marts_fct_municipal_indicator.json").read_text(encoding="utf-8")
    assert f"not (indicator like 'mdm%' and value <= {top:g})" in marts


def test_isolated_score_out_of_range_and_implausible_years_are_quarantined(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["cmpio", "nmpio", "año", "gestion", "resultados", "mdm"])
    for i in range(200):
        ws.append([5001 + i, "x", 2023, 50, 60, 55])
    ws.append([5300, "x", 2023, 50, 60, 155])
    ws.append([5301, "x", 2099, 50, 60, 55])
    path = tmp_path / "base.xlsx"
    wb.save(path)
    batches = {b.period: b for b in mdm.parse([landed(path)])}
    [bad] = batches["2023"].rejected
    assert (bad.row_number, bad.column, bad.value) == (202, "mdm", "155")
    assert "outside the published range 0–100" in bad.reason
    assert {r.reason for r in batches["2099"].rejected} == {
        f"year 2099 outside the plausible range 2000–{__import__('datetime').date.today().year + 1}"}
    assert not batches["2099"].rows
