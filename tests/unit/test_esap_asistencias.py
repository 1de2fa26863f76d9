"""Parsing the ESAP export contract: encodings, delimiters, and every bad row explained."""

import csv

import pytest

from sinfonia.ingest.sources import esap_asistencias
from sinfonia.sample.writers import ASISTENCIAS_HEADER
from tests.helpers import landed

GOOD = ["AT-1", "2024", "Dirección Territorial Cauca", "19050", "Cauca", "Argelia", "Innovación pública",
        "Equipo 1", "Entregada", "01/03/2024", "15/03/2024", "30/06/2024", "20/06/2024", "Plan", "3", "2", "4", "5", ""]


def write(tmp_path, rows, name="asistencias_20240701.csv", delimiter=";", encoding="utf-8-sig", header=None):
    path = tmp_path / name
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header or ASISTENCIAS_HEADER)
        w.writerows(rows)
    return path


def with_(**changes):
    row = list(GOOD)
    for header, value in changes.items():
        row[ASISTENCIAS_HEADER.index(header.replace("_", " "))] = value
    return row


@pytest.mark.parametrize("delimiter,encoding", [(";", "utf-8-sig"), (",", "utf-8"), (";", "latin-1")])
def test_reads_both_delimiters_and_encodings(tmp_path, delimiter, encoding):
    [batch] = esap_asistencias.parse([landed(write(tmp_path, [GOOD], delimiter=delimiter, encoding=encoding))])
    assert not batch.rejected
    row = dict(zip(esap_asistencias.COLUMNS, batch.rows[0][2:], strict=False))
    assert row["directorate"] == "Dirección Territorial Cauca"
    assert row["delivered_date"] == "2024-06-20" and row["export_date"] == "2024-07-01"
    assert batch.period == "2024-07-01"


def test_headers_match_regardless_of_accents_case_and_order(tmp_path):
    header = [h.upper().replace("Ó", "O") for h in ASISTENCIAS_HEADER]
    order = list(reversed(range(len(header))))
    path = write(tmp_path, [[GOOD[i] for i in order]], header=[header[i] for i in order])
    [batch] = esap_asistencias.parse([landed(path)])
    assert len(batch.rows) == 1 and dict(zip(esap_asistencias.COLUMNS, batch.rows[0][2:], strict=False))["assistance_id"] == "AT-1"


@pytest.mark.parametrize("changes,column,reason", [
    ({"Estado": "Terminada"}, "Estado", "expected one of"),
    ({"Fecha Entrega Real": ""}, "Fecha Entrega Real", "Entregada requires Fecha Entrega Real"),
    ({"Fecha Plan de Acción": "01/02/2024"}, "Fecha Plan de Acción", "date before Fecha Concertación"),
    ({"Fecha Concertación": "31/02/2024"}, "Fecha Concertación", "expected a date"),
    # the row contract's wordings (sources.contract): out of the published range, not an integer, not a code
    ({"Calificación Calidad": "7"}, "Calificación Calidad", "outside the published range 1–5"),
    ({"Calificación Calidad": "4,5"}, "Calificación Calidad", "expected an integer"),
    ({"Servidores Participantes": "-1"}, "Servidores Participantes", "outside the published range ≥ 0"),
    ({"Vigencia": "dos mil"}, "Vigencia", "expected a year"),
    ({"Código DANE Municipio": "ABC"}, "Código DANE Municipio", "expected a DANE municipality code"),
])
def test_bad_rows_are_quarantined_with_row_column_and_reason(tmp_path, changes, column, reason):
    path = write(tmp_path, [with_(ID_Asistencia="AT-0"), with_(**{k.replace(" ", "_"): v for k, v in changes.items()})])
    [batch] = esap_asistencias.parse([landed(path)])
    assert len(batch.rows) == 1 and len(batch.rejected) == 1
    rej = batch.rejected[0]
    assert (rej.file_name, rej.row_number, rej.column) == (path.name, 3, column)
    assert reason in rej.reason
    assert batch.rows_read == 2


def test_duplicate_id_in_one_export_is_quarantined(tmp_path):
    [batch] = esap_asistencias.parse([landed(write(tmp_path, [GOOD, GOOD]))])
    assert len(batch.rows) == 1 and "duplicate" in batch.rejected[0].reason


def test_missing_code_is_resolved_from_names_only_when_unambiguous(tmp_path):
    names = {("cauca", "argelia"): "19050"}
    rows = [with_(Código_DANE_Municipio="", ID_Asistencia="AT-1"),
            with_(Código_DANE_Municipio="", ID_Asistencia="AT-2", Municipio="Nowhere")]
    [batch] = esap_asistencias.parse([landed(write(tmp_path, rows))], names=names)
    assert [dict(zip(esap_asistencias.COLUMNS, r[2:], strict=False))["municipality_code"] for r in batch.rows] == ["19050"]
    assert batch.rejected[0].column == "Municipio" and "match no DIVIPOLA" in batch.rejected[0].reason


def test_export_without_a_date_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot tell the export date"):
        esap_asistencias.parse([landed(write(tmp_path, [GOOD], name="asistencias.csv"))])


@pytest.mark.parametrize("vigencia,reason", [("2099", "year 2099 outside the plausible range 2000–"),
                                             ("1999", "year 1999 outside the plausible range"),
                                             ("20x4", "expected a year such as 2024")])
def test_implausible_vigencia_is_quarantined_with_the_reason(tmp_path, vigencia, reason):
    [batch] = esap_asistencias.parse([landed(write(tmp_path, [GOOD, with_(Vigencia=vigencia, ID_Asistencia="AT-2")]))])
    assert len(batch.rows) == 1
    [bad] = batch.rejected
    assert (bad.row_number, bad.column, bad.value) == (3, "Vigencia", vigencia) and reason in bad.reason


def test_a_header_present_twice_is_an_error_naming_both_columns(tmp_path):
    header = [*ASISTENCIAS_HEADER[:-1], "Estado"]
    with pytest.raises(Exception, match=r"'Estado' twice, in columns I and S"):
        esap_asistencias.parse([landed(write(tmp_path, [GOOD], header=header))])


def test_an_optional_column_the_export_lacks_is_named_and_a_code_resolved_from_names_is_not(tmp_path):
    drop = ("Observaciones", "Código DANE Municipio")
    header = [h for h in ASISTENCIAS_HEADER if h not in drop]
    row = [v for h, v in zip(ASISTENCIAS_HEADER, GOOD, strict=True) if h not in drop]
    [batch] = esap_asistencias.parse([landed(write(tmp_path, [row], header=header))],
                                     names={("cauca", "argelia"): "19050"})
    assert len(batch.rows) == 1 and not batch.rejected
    [notice] = [n for n in batch.notices if "no column for" in n]
    assert "observations (a header such as 'observaciones')" in notice and "loaded without it" in notice
    assert "municipality_code" not in notice  # resolved from the names: loaded, not lost
