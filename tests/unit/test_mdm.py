"""MDM: datos.gov.co long format (JSON pages, CSV export) and DNP's workbook (municipal and MDD)."""

import json

import openpyxl
import pytest

from sinfonia.sample import indices
from sinfonia.sample.model import build_world
from sinfonia.sources import mdm
from sinfonia.sources._tables import SourceFormatError
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
    assert "text is never turned into a number" in reasons[(3, "dato")]
    assert "5-digit DANE code" in reasons[(5, "codigo_entidad")]
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
        assert len(b.rows) == 3 * len(world.municipal) and not b.rejected
    code = world.municipal[0].code
    got = {(r[7], r[9]) for r in plain["2020"].rows if r[4] == code}
    assert got == {(k, str(v)) for k, v in (("mdm", values[(code, 2020)]["mdm"]),
                                           ("mdm_gestion", values[(code, 2020)]["gestion"]),
                                           ("mdm_resultados", values[(code, 2020)]["resultados"]))}


def test_socrata_pages_and_workbook_together_are_not_double_counted(tmp_path, world):
    values = indices.mdm_values(world, {}, 0.0)
    pages = indices.write_mdm_pages(world, tmp_path, values)
    book = indices.write_mdm_workbook(world, tmp_path / "mdm" / "Base de datos - mdm (Oct 24).xlsx", values)
    batches = mdm.parse([landed(p) for p, _ in pages] + [landed(book)])
    for b in batches:
        keys = [(r[4], r[2], r[7]) for r in b.rows]
        assert len(keys) == len(set(keys)) == 3 * len(world.municipal)
        assert len(b.rejected) == 3 * len(world.municipal)
        assert all(r.reason.startswith("duplicate") and "first in nkjx-rsq7" in r.reason for r in b.rejected)


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
        assert {r[7] for r in b.rows} == {"mdm", "mdm_gestion", "mdm_resultados"}
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
    with pytest.raises(SourceFormatError, match=r"Base de datos - mdm.xlsx, sheet 'Base'.*entity_code.*cmpio.*nor is it the departmental MDD"):
        mdm.parse([landed(path)])
