"""IPM census 2018: DANE's annex (displaced headers, privations sheet) and the five-column CSV."""

import csv

import openpyxl
import pytest

from sinfonia.ingest.sources import ipm
from sinfonia.ingest.tables import SourceFormatError
from sinfonia.sample import indices
from sinfonia.sample.model import build_world
from tests.conftest import reference
from tests.helpers import landed


def _annex(path, rows, header_row=8, first_col=2, total_header="Total"):
    """An annex workbook in DANE's layout holding ``rows`` (code, name, total, cabecera, rural)."""
    wb = openpyxl.Workbook()
    wb.active.title = "Índice"
    ws = wb.create_sheet("4_IPM Mpio dominios")
    ws.cell(row=1, column=first_col, value="Medida de Pobreza Multidimensional Municipal de Fuente Censal 2018")
    header = ["ID", "Municipio", total_header, "Cabeceras", "Centros poblados y rural disperso"]
    for j, h in enumerate(header):
        ws.cell(row=header_row, column=first_col + j, value=h)
    for i, row in enumerate(rows, start=header_row + 1):
        for j, v in enumerate(row):
            ws.cell(row=i, column=first_col + j, value=v)
    ws.cell(row=header_row + len(rows) + 2, column=first_col, value="Fuente: DANE, CNPV 2018.")
    wb.save(path)
    return landed(path)


def test_reference_csv_loads_every_row():
    [b] = ipm.parse([landed(reference("ipm", "ipm_municipios.csv"))])
    assert b.source == "ipm" and b.period == "2018"
    assert b.rows_read == 1122 and len(b.rows) == 1122 and not b.rejected
    medellin = next(r for r in b.rows if r[4] == "05001")
    assert medellin[6:9] == ("12.8", "12.6", "22.9")


def test_annex_layout_agrees_with_the_reference_csv(tmp_path):
    """The derived CSV was extracted from the annex: the same values in the annex's layout (title
    rows, header in row 8 from column B, footnote) must parse to the same rows."""
    path = reference("ipm", "ipm_municipios.csv")
    with open(path, encoding="utf-8") as fh:
        rows = [(r["cod_municipio"], r["municipio"], float(r["ipm_total"]),
                 float(r["ipm_cabecera"]) if r["ipm_cabecera"] else "-", float(r["ipm_rural"]))
                for r in csv.DictReader(fh)]
    [from_csv] = ipm.parse([landed(path)])
    [from_annex] = ipm.parse([_annex(tmp_path / "anexo-censal-pobreza-municipal-2018.xlsx", rows)])
    assert from_annex.notes_skipped == 1 and not from_annex.rejected
    key = lambda b: {r[4]: tuple(float(v) if v else None for v in r[6:9]) for r in b.rows}  # noqa: E731
    assert key(from_annex) == key(from_csv)


@pytest.mark.parametrize("header_row,first_col", [(1, 1), (8, 2), (12, 3)])
def test_annex_header_is_found_wherever_it_moved(tmp_path, header_row, first_col):
    rows = [("05001", "Medellín", 12.8, 12.6, 22.9), (5002, "Abejorral", "40,6", 24.1, 51.4),
            ("94663", "Mapiripana", 90.1, "-", 90.1), ("05004", "Abriaquí", "N.D.", 30.0, 50.0),
            ("05001", "Medellín", 12.8, 12.6, 22.9)]
    [b] = ipm.parse([_annex(tmp_path / "a.xlsx", rows, header_row, first_col)])
    assert [r[4] for r in b.rows] == ["05001", "05002", "94663"]
    assert b.rows[1][6] == "40.6"
    assert b.rows[2][7] is None and "'-' recorded as missing" in b.rows[2][9]
    # the row contract's wordings (sources.contract): a duplicate key names the row of the first
    assert [(r.column, r.reason) for r in b.rejected] == [("Total", "expected a number"),
                                                          ("ID", f"duplicate ID 05001: first at row {b.rows[0][1]}")]
    assert b.rows_read == 5


def test_annex_without_the_domains_sheet_is_a_clear_error(tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "2_IPM Mpio y Dpt"
    wb.save(tmp_path / "anexo.xlsx")
    with pytest.raises(SourceFormatError, match=r"anexo.xlsx: no sheet has a header row with the columns entity_code.*ipm_cabecera"):
        ipm.parse([landed(tmp_path / "anexo.xlsx")])


def test_sample_annex_gives_domains_and_the_15_privations(tmp_path):
    world = build_world(5, 2019, 2021, municipalities=50)
    [(path, meta)] = indices.write_ipm(world, tmp_path)
    assert path.name == "anexo-censal-pobreza-municipal-2018.xlsx" and meta["source"] == "ipm"
    batches = {b.source: b for b in ipm.parse([landed(path)])}
    domains, privations = batches["ipm"], batches["ipm_privations"]
    assert len(domains.rows) == len(world.entities) and not domains.rejected
    assert domains.notes_skipped == 2  # the source line and the note under the data
    codes = {e.code for e in world.entities if e.entity_type == "area_no_municipalizada"}
    anm = [r for r in domains.rows if r[4] in codes]
    assert anm and all(r[7] is None and r[9] for r in anm)  # no cabecera: recorded as missing
    assert len(ipm.PRIVATIONS) == 15 and len(privations.columns) == 15 + 5
    levels = {r[3] for r in privations.rows}
    assert levels == {"departamento", "municipio"} and not privations.rejected
    assert all(0 <= float(v) <= 100 for r in privations.rows for v in r[6:21])


def test_domains_sheet_is_found_under_any_name(tmp_path):
    rows = [("05001", "Medellín", 9.2, 8.1, 25.3), (5002, "Abejorral", 35.5, 20.1, 45.2)]
    path = tmp_path / "anexo.xlsx"
    _annex(path, rows)
    wb = openpyxl.load_workbook(path)
    wb["4_IPM Mpio dominios"].title = "Hoja1"
    wb.save(path)
    [b] = ipm.parse([landed(path)])
    assert [(r[4], r[6]) for r in b.rows] == [("05001", "9.2"), ("05002", "35.5")]


def test_percentages_out_of_range_are_quarantined_or_refuse_the_file(tmp_path):
    rows = [("05001", "Medellín", 12.8, 12.6, 22.9)] + [(5002 + i, "x", 40.6, 24.1, 51.4) for i in range(150)]
    [b] = ipm.parse([_annex(tmp_path / "a.xlsx", [*rows, ("05200", "y", 40.6, 124.1, 51.4)])])
    [bad] = b.rejected
    assert (bad.column, bad.value, bad.reason) == ("Cabeceras", "124.1", "outside the published range 0–100")
    scaled = [(c, n, t * 100, u * 100, r * 100) for c, n, t, u, r in rows]
    with pytest.raises(SourceFormatError, match=r"column 'Total': 151 of 151 values are outside the published range 0–100.*100 times"):
        ipm.parse([_annex(tmp_path / "b.xlsx", scaled)])
