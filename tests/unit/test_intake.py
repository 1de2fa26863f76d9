"""The intake rules against real published files (no false refusal) and hand-built edge cases."""

from __future__ import annotations

import pytest

from sinfonia.ingest import intake
from tests.conftest import REFERENCE
from tests.corpus import DIVIPOLA_HEADER, roster_csv, write_csv

PUBLISHED = sorted(p for p in REFERENCE.rglob("*") if p.is_file() and p.suffix.lower() in (".csv", ".xlsx"))


@pytest.mark.skipif(not PUBLISHED, reason="reference files not found beside the checkout")
@pytest.mark.parametrize("path", PUBLISHED, ids=[p.name for p in PUBLISHED])
def test_every_real_published_file_passes_the_intake_rules(path):
    intake.read_checked(path)


def test_names_of_places_are_not_personal_data_but_a_document_with_a_name_is(tmp_path):
    intake.read_checked(write_csv(tmp_path / "DIVIPOLA.csv", DIVIPOLA_HEADER, [["05", "05001", "ANTIOQUIA", "MEDELLÍN", "Municipio"]]))
    intake.read_checked(write_csv(tmp_path / "only_names.csv", ["Nombre", "Valor"], [["Cauca", "1"]]))
    with pytest.raises(intake.RefusedFile, match=r"roster.csv: row 1 holds personal data \(columns Documento, Nombre\)"):
        intake.read_checked(roster_csv(tmp_path / "roster.csv"))
    intake.read_checked(roster_csv(tmp_path / "equipos_2024.csv"), personal_data_expected=True)


def test_a_cell_at_the_limit_passes_and_one_character_more_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("SINFONIA_MAX_CELL_CHARS", "10")
    intake.read_checked(write_csv(tmp_path / "ok.csv", ["a", "b"], [["x" * 10, "y"]]))
    with pytest.raises(intake.RefusedFile, match=r"long.csv: row 2, column 'b': a cell of 11 characters; expected at most 10"):
        intake.read_checked(write_csv(tmp_path / "long.csv", ["a", "b"], [["x", "y" * 11]]))


def test_a_limit_that_is_not_a_number_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("SINFONIA_MAX_ROWS", "many")
    with pytest.raises(ValueError, match=r"SINFONIA_MAX_ROWS='many': expected a number of rows"):
        intake.read_checked(write_csv(tmp_path / "a.csv", ["a"], [["1"]]))


# --- rosters however they are dressed (issue 34, item 1) ---------------------------------------

@pytest.mark.parametrize("header", [
    ["Número de cédula", "Nombre y apellido", "Cargo"],
    ["No. Documento de identidad", "Apellidos", "Nombres", "Equipo"],
    ["Identificación", "Nombre completo del contratista", "Municipio"],
])
def test_a_roster_is_caught_by_the_words_of_its_headers(tmp_path, header):
    path = write_csv(tmp_path / "datos.csv", header, [["1061234567", "Ana Pérez", "Equipo 1", "x"][:len(header)]])
    with pytest.raises(intake.RefusedFile, match=r"datos.csv: row 1 holds personal data"):
        intake.read_checked(path)


def test_a_title_line_above_a_semicolon_header_does_not_hide_a_roster(tmp_path):
    path = tmp_path / "listado.csv"
    path.write_text("Listado de contratistas 2024\nDocumento;Nombre;Equipo\n1061234567;Ana Pérez;Equipo 1\n",
                    encoding="utf-8")
    with pytest.raises(intake.RefusedFile, match=r"listado.csv: row 2 holds personal data \(columns Documento, Nombre\)"):
        intake.read_checked(path)


@pytest.mark.parametrize("header_row", [31, 40])
def test_a_roster_header_as_far_down_as_the_parsers_look_is_caught(tmp_path, header_row):
    from tests.corpus import roster_book

    assert header_row <= intake.HEADER_SCAN_ROWS  # the one constant the parsers use too
    path = roster_book(tmp_path / "idf" / "Resultados.xlsx", header_row=header_row)
    with pytest.raises(intake.RefusedFile, match=rf"sheet 'Sheet', row {header_row} holds personal data"):
        intake.read_checked(path)


def test_places_named_with_document_words_alone_are_not_a_roster(tmp_path):
    intake.read_checked(write_csv(tmp_path / "a.csv", ["Código", "Nombre municipio", "Valor"], [["05001", "Medellín", "1"]]))
    intake.read_checked(write_csv(tmp_path / "b.csv", ["Documento CONPES", "Año"], [["3932", "2018"]]))


# --- workbook rows counted while streaming, never from <dimension> (issue 34, item 4) ----------

def _book_without_dimension(path, rows: int):
    """A workbook whose sheet XML carries no <dimension> element (optional in the format)."""
    import zipfile

    from openpyxl import Workbook

    wb = Workbook()
    for i in range(rows):
        wb.active.append([i, "x"])
    wb.save(path)
    stripped = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(stripped, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("xl/worksheets/"):
                import re

                data = re.sub(rb"<dimension [^>]*/>", b"", data)
                assert b"dimension" not in data
            dst.writestr(item, data)
    stripped.replace(path)
    return path


def test_the_row_limit_holds_for_a_workbook_without_dimension(tmp_path, monkeypatch):
    monkeypatch.setenv("SINFONIA_MAX_ROWS", "1000")
    intake.read_checked(_book_without_dimension(tmp_path / "ok.xlsx", 1000))
    with pytest.raises(intake.RefusedFile, match=r"big.xlsx: sheet sheet1 has 5,000 rows; expected at most 1,000"):
        intake.read_checked(_book_without_dimension(tmp_path / "big.xlsx", 5000))


def test_rows_are_counted_across_read_chunks(tmp_path):
    import io

    xml = b"<sheetData>" + b"".join(b'<row r="%d"><c/></row>' % i for i in range(200_000)) + b"</sheetData>"
    assert len(xml) > 3 << 20  # several 1 MB chunks, rows cut at their boundaries
    assert intake._sheet_counts(io.BytesIO(xml)) == (200_000, 200_000)


def test_a_workbook_with_malformed_sheet_xml_is_refused_naming_the_file(tmp_path):
    import zipfile

    from sinfonia.ingest.tables import SourceFormatError, read_xlsx_sheets

    good = _book_without_dimension(tmp_path / "good.xlsx", 3)
    bad = tmp_path / "IDF 2020.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            dst.writestr(item, data.replace(b"</sheetData>", b"<row><c></sheetData>")
                         if item.filename.startswith("xl/worksheets/") else data)
    with pytest.raises(SourceFormatError, match=r"IDF 2020.xlsx: not a readable Excel workbook"):
        read_xlsx_sheets(bad)


def test_the_cells_of_all_sheets_are_bounded_so_a_workbook_read_into_memory_stays_small(tmp_path, monkeypatch):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(list(range(10)))
    wb.create_sheet("second").append(list(range(10)))  # 20 cells in all, 10 a sheet
    wb.save(tmp_path / "two.xlsx")
    monkeypatch.setenv("SINFONIA_MAX_XLSX_CELLS", "20")
    intake.read_checked(tmp_path / "two.xlsx")
    monkeypatch.setenv("SINFONIA_MAX_XLSX_CELLS", "19")
    with pytest.raises(intake.RefusedFile, match=r"two.xlsx: more than 19 cells \(at sheet sheet2\); expected at most "
                                                 r"19 \(SINFONIA_MAX_XLSX_CELLS\)"):
        intake.read_checked(tmp_path / "two.xlsx")
