"""The row contract's rules at their boundaries (sources.contract), for the contract itself and for
each parser that declares one: a value exactly at its published range's low and high bound loads,
one just outside is quarantined with the one wording of that rule, and a duplicate key names the
row of the first."""

import csv
import json

import openpyxl
import pytest

from sinfonia.ingest.loading import Batch
from sinfonia.ingest.sources import divipola, esap_asistencias, esap_metas, imrc, ipm, mdm
from sinfonia.ingest.sources.contract import Field, Kind, RowContract, account_for_columns, out_of_range
from sinfonia.ingest.tables import SourceFormatError, Table
from tests.helpers import landed
from tests.unit.test_esap_asistencias import with_
from tests.unit.test_esap_asistencias import write as write_asistencias
from tests.unit.test_ipm import _annex

# --- the contract itself ------------------------------------------------------------------------

TABLE = Table("f.csv", None, 1, {"v": 0}, [], headers={"v": "Valor"})


@pytest.mark.parametrize("field,cell,loaded,reason", [
    (Field("v", Kind.NUMBER, range=(0.0, 100.0)), 0, "0", None),
    (Field("v", Kind.NUMBER, range=(0.0, 100.0)), "100", "100", None),
    (Field("v", Kind.NUMBER, range=(0.0, 100.0)), "100,0001", None, "outside the published range 0–100"),
    (Field("v", Kind.NUMBER, range=(0.0, 100.0)), -0.0001, None, "outside the published range 0–100"),
    (Field("v", Kind.NUMBER), "N.D.", None, "expected a number"),
    (Field("v", Kind.INTEGER, range=(1, 5)), "1", "1", None),
    (Field("v", Kind.INTEGER, range=(1, 5)), 5.0, "5", None),
    (Field("v", Kind.INTEGER, range=(1, 5)), "6", None, "outside the published range 1–5"),
    (Field("v", Kind.INTEGER, range=(1, 5)), "0", None, "outside the published range 1–5"),
    (Field("v", Kind.INTEGER, range=(1, 5)), "4,5", None, "expected an integer"),
    (Field("v", Kind.INTEGER, range=(0, None)), "0", "0", None),
    (Field("v", Kind.INTEGER, range=(0, None)), "-1", None, "outside the published range ≥ 0"),
    (Field("v", Kind.DATE), "29/02/2024", "2024-02-29", None),
    (Field("v", Kind.DATE), "2024-02-30", None, "expected a date dd/mm/yyyy or yyyy-mm-dd"),
    (Field("v", Kind.YEAR), "2000", "2000", None),
    (Field("v", Kind.YEAR), "1999", None, "year 1999 outside the plausible range 2000–"),
    (Field("v", Kind.CODE), 5001, "05001", None),
    (Field("v", Kind.CODE), "05000", None, "code 05000 is a department, not a municipality"),
    (Field("v", Kind.ENUM, values={"Área no municipalizada": "anm", "Isla": "isla"}), "AREA NO MUNICIPALIZADA",
     "anm", None),
    (Field("v", Kind.ENUM, values={"Área no municipalizada": "anm", "Isla": "isla"}), "Islote", None,
     "expected one of Área no municipalizada, Isla"),
    (Field("v", required=True), " ", None, "empty: expected a value"),
    (Field("v", Kind.NUMBER, required=True), None, None, "empty: expected a number"),
])
def test_one_rule_one_wording_at_the_boundaries(field, cell, loaded, reason):
    out, problem = RowContract((field,)).check(TABLE, 2, {"v": cell})
    if reason is None:
        assert problem is None and out == {"v": loaded}
    else:
        assert problem[0] == "Valor" and problem[2].startswith(reason)


def test_a_duplicate_key_names_the_first_row_in_this_file_another_sheet_or_another_file():
    contract = RowContract((Field("code", Kind.CODE, key=True), Field("name")))
    here = Table("a.xlsx", "Hoja1", 1, {}, [], headers={"code": "Código", "name": "Nombre"})
    other_sheet = Table("a.xlsx", "Hoja2", 1, {}, [], headers={"code": "Código"})
    other_file = Table("b.xlsx", "Hoja1", 1, {}, [], headers={"code": "Código"})
    out, problem = contract.check(here, 2, {"code": "05001", "name": "Medellín"})
    assert problem is None
    contract.keep(here, 2, out)
    assert contract.check(here, 3, {"code": 5001})[1] == ("Código", "05001",
                                                           "duplicate municipality code 05001: first at row 2")
    assert contract.check(other_sheet, 3, {"code": 5001})[1][2].endswith("first at sheet 'Hoja1' row 2")
    assert contract.check(other_file, 3, {"code": 5001})[1][2].endswith("first at a.xlsx row 2")


def test_a_quarantined_row_is_not_the_first_of_its_key():
    contract = RowContract((Field("id", key=True), Field("n", Kind.NUMBER)))
    out, problem = contract.check(TABLE, 2, {"id": "A", "n": "x"})
    assert problem is not None  # not kept: the next row with its key is not a duplicate of it
    assert contract.check(TABLE, 3, {"id": "A", "n": "1"})[1] is None


def test_a_sensitive_key_is_withheld_from_its_duplicate():
    contract = RowContract((Field("person", key=True, sensitive=True, header="Documento"),))
    contract.keep(TABLE, 2, contract.check(TABLE, 2, {"person": "ab" * 32})[0])
    assert contract.check(TABLE, 3, {"person": "ab" * 32})[1] == ("Documento", None,
                                                                  "duplicate Documento: first at row 2")


# --- the contract's own boundaries (the survivors of its generated mutants, tests/mutation/GENERATED.md) ---

def test_a_required_enumeration_left_empty_names_its_published_values():
    field = Field("v", Kind.ENUM, required=True, values={"Sí": "si", "SI": "si", "No": "no"})
    assert RowContract((field,)).check(TABLE, 2, {"v": " "})[1] == ("Valor", None, "empty: expected one of Sí, No")


def test_a_required_cell_a_source_reads_its_own_way_says_what_it_lacks():
    def says_nothing(raw):
        return (None, None) if raw is None else (str(raw), None)

    def says_why(raw):
        if raw is None:
            raise ValueError("empty: expected a DIVIPOLA code")
        return str(raw), None

    assert RowContract((Field("v", required=True, convert=says_nothing),)).check(TABLE, 2, {"v": ""})[1] == (
        "Valor", None, "empty: expected a value")
    assert RowContract((Field("v", required=True, convert=says_why),)).check(TABLE, 2, {"v": None})[1] == (
        "Valor", None, "empty: expected a DIVIPOLA code")


def test_a_value_the_parser_settled_is_taken_as_given_not_read_from_the_cell():
    contract = RowContract((Field("v", Kind.NUMBER), Field("w", Kind.NUMBER)))
    assert contract.check(TABLE, 2, {"v": "N.D.", "w": "3"}, given={"v": "7"}) == ({"v": "7", "w": "3"}, None)


def test_a_column_without_a_published_header_is_named_by_its_field():
    table = Table("f.csv", None, 1, {"v": 0}, [], headers={})
    assert RowContract((Field("v", Kind.NUMBER),)).check(table, 2, {"v": "x"})[1] == ("v", "x", "expected a number")


def test_a_key_not_folded_tells_case_and_accents_apart_and_a_folded_one_does_not():
    plain = RowContract((Field("id", key=True),))
    plain.keep(TABLE, 2, plain.check(TABLE, 2, {"id": "Línea A"})[0])
    assert plain.check(TABLE, 3, {"id": "linea a"})[1] is None
    folded = RowContract((Field("id", key=True, fold=True),))
    folded.keep(TABLE, 2, folded.check(TABLE, 2, {"id": "Línea A"})[0])
    assert folded.check(TABLE, 3, {"id": "linea a"})[1][2] == "duplicate id linea a: first at row 2"


def test_a_quarantined_row_keeps_its_file_row_and_record_as_published_or_as_the_parser_gives_it():
    contract = RowContract((Field("v", Kind.NUMBER),))
    batch = Batch("s", "2024", ("v",))
    assert contract.row(batch, TABLE, 7, {"v": "x", "nota": "sin dato"}) is None
    assert contract.row(batch, TABLE, 8, {"v": "y"}, record={"Valor": "y", "Hoja": "2"}) is None
    assert [(r.file_name, r.row_number, r.column, r.value, r.record) for r in batch.rejected] == [
        ("f.csv", 7, "Valor", "x", {"Valor": "x", "nota": "sin dato"}),
        ("f.csv", 8, "Valor", "y", {"Valor": "y", "Hoja": "2"})]


def _scaled(cells: list[object], field: Field) -> tuple[RowContract, Batch, Table]:
    """Each cell through ``RowContract.row`` as a parser passes it, rows from 2."""
    table = Table("f.csv", None, 1, {"v": 0}, [(n, (c,)) for n, c in enumerate(cells, 2)], headers={"v": "Valor"})
    contract, batch = RowContract((field,)), Batch("s", "2024", ("v",))
    for n, rec in table.records():
        if (out := contract.row(batch, table, n, rec)) is not None:
            batch.rows.append(("f.csv", n, out["v"]))
    return contract, batch, table


def test_the_scale_check_counts_the_values_read_not_the_rows_left_empty():
    field = Field("v", Kind.NUMBER, range=(0.0, 100.0))
    # 3 values out of range among 3 read, in 300 rows: a scale error (1 % of 300 would let it pass)
    contract, batch, table = _scaled([None] * 5 + ["150", "250", "350"] + [None] * 292, field)
    with pytest.raises(SourceFormatError, match=r"column 'Valor': 3 of 3 values .* first at row 7: 150"):
        contract.finish(batch, table)
    # 3 out of range among 300 values read: exactly 1 %, quarantined only
    contract, batch, table = _scaled(["150", "250", "350"] + ["50"] * 297, field)
    contract.finish(batch, table)
    assert [r.row_number for r in batch.rejected] == [2, 3, 4]


def test_a_source_reading_its_own_range_is_judged_against_the_rows_read():
    """A ``convert`` answering with the range's wording counts no value read: the rows read are the
    denominator of the scale check."""
    bounds = (0.0, 100.0)
    field = Field("v", Kind.NUMBER, range=bounds,
                  convert=lambda raw: (None, out_of_range(bounds)) if float(raw) > 100 else (str(raw), None))
    contract, batch, table = _scaled(["150", "250", "350"] + ["50"] * 297, field)
    contract.finish(batch, table)  # 3 of 300 rows: quarantined only
    assert len(batch.rejected) == 3
    contract, batch, table = _scaled(["150", "250", "350"] + ["50"] * 17, field)
    with pytest.raises(SourceFormatError, match="3 of 20 values"):
        contract.finish(batch, table)


def test_one_missing_optional_column_is_named_alone_and_two_together():
    def notices(missing):
        batch = Batch("s", "2024", ("code", "v", "w"), rows=[("f.csv", 2, "05001", None, None)])
        account_for_columns(batch, Table("f.csv", None, 1, {"code": 0}, [(2, ("05001",))],
                                         headers={"code": "Código"}, missing=missing))
        return batch.notices

    assert notices({"v": "Valor"}) == ["f.csv: no column for v (a header such as 'Valor'); loaded without it "
                                       "(empty in raw)"]
    assert notices({"v": "Valor", "w": "Peso"}) == [
        "f.csv: no column for v (a header such as 'Valor'), w (a header such as 'Peso'); loaded without them "
        "(empty in raw)"]


def test_a_column_none_of_whose_values_loaded_is_refused_after_a_column_the_batch_does_not_keep():
    table = Table("f.csv", None, 1, {"nota": 0, "v": 1}, [(2, ("x", "abc"))], headers={"nota": "Nota", "v": "Valor"})
    batch = Batch("s", "2024", ("v",), rows=[("f.csv", 2, None)])
    with pytest.raises(SourceFormatError, match=r"column 'Valor' \(read as v\): none of its 1 published values"):
        account_for_columns(batch, table)


# --- the parsers --------------------------------------------------------------------------------

def _metas(tmp_path, goals):
    path = tmp_path / "metas.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["Vigencia", "Dirección Territorial", "Línea Temática", "Meta Asistencias"],
                                  *([2024, "DT Cauca", f"Línea {i}", g] for i, g in enumerate(goals))])
    return landed(path)


def test_esap_metas_goal_from_zero_and_a_duplicate_line(tmp_path):
    [b] = esap_metas.parse([_metas(tmp_path, [0, 1000, -1])])
    assert [r[5] for r in b.rows] == ["0", "1000"]
    assert [(r.row_number, r.column, r.reason) for r in b.rejected] == [
        (4, "Meta Asistencias", "outside the published range ≥ 0")]
    path = tmp_path / "metas.csv"
    path.write_text(path.read_text(encoding="utf-8") + "2024,dt CAUCA,LÍNEA 0,5\n", encoding="utf-8")
    [b] = esap_metas.parse([landed(path)])  # the same directorate and line, case and accents aside
    assert b.rejected[-1].row_number == 5 and b.rejected[-1].reason.endswith(": first at row 2")


@pytest.mark.parametrize("header,cell,loaded", [
    ("Calificación Calidad", "1", True), ("Calificación Calidad", "5", True), ("Calificación Calidad", "0", False),
    ("Calificación Calidad", "6", False), ("Satisfacción Alcaldía", "5", True), ("Satisfacción Alcaldía", "6", False),
    ("Servidores Participantes", "0", True), ("Servidores Participantes", "-1", False),
    ("Estudiantes Vinculados", "0", True), ("Estudiantes Vinculados", "-1", False),
])
def test_esap_asistencias_scores_and_counts_at_their_bounds(tmp_path, header, cell, loaded):
    [b] = esap_asistencias.parse([landed(write_asistencias(tmp_path, [with_(**{header.replace(" ", "_"): cell})]))])
    assert len(b.rows) == int(loaded)
    if not loaded:
        [bad] = b.rejected
        assert (bad.column, bad.value) == (header, cell) and bad.reason.startswith("outside the published range")


def test_esap_asistencias_a_duplicate_id_names_the_first_row(tmp_path):
    [b] = esap_asistencias.parse([landed(write_asistencias(tmp_path, [with_(), with_(Municipio="Otro")]))])
    [bad] = b.rejected
    assert (bad.row_number, bad.column, bad.reason) == (3, "ID Asistencia", "duplicate ID Asistencia AT-1: first at row 2")


def _imrc(tmp_path, rows):
    wb = openpyxl.Workbook()
    for i, (sheet, letter) in enumerate((("Exceso de Lluvias", "E"), ("Deficit de Lluvias", "D"))):
        ws = wb.active if i == 0 else wb.create_sheet()
        ws.title = sheet
        ws.append([f"Índice Municipal de Riesgo - {sheet}"])
        ws.append(["DIVIPOLA", "Departamento", "Municipio", f"Índice ajustado (IMRC_{letter})"])
        for row in rows:
            ws.append(list(row))
    path = tmp_path / "IMRC-BASE-DE-DATOS-2024.xlsx"
    wb.save(path)
    return landed(path)


@pytest.mark.parametrize("value,loaded", [(0, True), (100, True), (100.01, False), (-0.01, False)])
def test_imrc_index_at_its_published_bounds(tmp_path, value, loaded):
    rows = [("05001", "Antioquia", "Medellín", 50), ("05002", "Antioquia", "Abejorral", value)]
    for b in imrc.parse([_imrc(tmp_path, rows)]):
        assert [r[4] for r in b.rows] == (["05001", "05002"] if loaded else ["05001"])
        if not loaded:
            [bad] = b.rejected
            assert (bad.row_number, bad.reason) == (4, "outside the published range 0–100")


def test_imrc_a_duplicate_code_names_the_first_row(tmp_path):
    rows = [("05001", "Antioquia", "Medellín", 50), (5001, "Antioquia", "Medellín", 51)]
    for b in imrc.parse([_imrc(tmp_path, rows)]):
        [bad] = b.rejected
        assert (bad.row_number, bad.column, bad.reason) == (4, "DIVIPOLA", "duplicate municipality code 05001: first at row 3")


@pytest.mark.parametrize("value,loaded", [(0, True), (100, True), (100.01, False), (-0.01, False)])
def test_ipm_percentage_at_its_published_bounds(tmp_path, value, loaded):
    rows = [("05001", "Medellín", 12.8, 12.6, 22.9), ("05002", "Abejorral", 40.0, value, 50.0)]
    [b] = ipm.parse([_annex(tmp_path / "a.xlsx", rows)])
    assert [r[4] for r in b.rows] == (["05001", "05002"] if loaded else ["05001"])
    if not loaded:
        [bad] = b.rejected
        assert (bad.row_number, bad.column, bad.reason) == (10, "Cabeceras", "outside the published range 0–100")


def _mdm(tmp_path, values, codes=("05001", "05002", "05004")):
    records = [{"codigo_entidad": c, "entidad": "x", "departamento": "Antioquia", "indicador": "MDM", "dato": v,
                "anio": "2019"} for c, v in zip(codes, values, strict=True)]
    path = tmp_path / "nkjx-rsq7_page_0001.json"
    path.write_text(json.dumps(records), encoding="utf-8")
    return landed(path)


@pytest.mark.parametrize("value,loaded", [("0", True), ("101", True), ("101,01", False), ("-0,01", False)])
def test_mdm_score_at_its_loadable_bounds(tmp_path, value, loaded):
    """0–100 published, up to 101 taken as DNP publishes it (flagged); beyond, quarantined."""
    [b] = mdm.parse([_mdm(tmp_path, ["50", value, "60"])])
    assert [r[4] for r in b.rows] == (["05001", "05002", "05004"] if loaded else ["05001", "05004"])
    if not loaded:
        [bad] = b.rejected
        assert (bad.row_number, bad.column, bad.reason) == (2, "dato", "outside the published range 0–100")


def test_mdm_a_duplicate_names_the_first_row(tmp_path):
    [b] = mdm.parse([_mdm(tmp_path, ["50", "51", "60"], codes=("05001", "5001", "05004"))])
    [bad] = b.rejected
    assert (bad.row_number, bad.reason) == (
        2, "duplicate entity, year and indicator 05001/2019/MDM: first at row 1")


def test_divipola_a_duplicate_code_names_the_first_row(tmp_path):
    path = tmp_path / "DIVIPOLA.csv"
    path.write_text("Código Departamento,Código Municipio,Nombre Departamento,Nombre Municipio,Tipo\n"
                    "05,05001,ANTIOQUIA,MEDELLÍN,Municipio\n05,05002,ANTIOQUIA,ABEJORRAL,Municipio\n"
                    "5,5001,ANTIOQUIA,MEDELLIN,Municipio\n", encoding="utf-8")
    [b] = divipola.parse([landed(path)])
    [bad] = b.rejected
    assert (bad.row_number, bad.column, bad.reason) == (4, "Código Municipio",
                                                         "duplicate municipality code 05001: first at row 2")
