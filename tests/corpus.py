"""Builders of small source files, good and bad, generated in the tests (no reference data).

Each builder writes a file in a real format (CSV bytes, JSON, an openpyxl workbook) so the real
parsers read it as they would read a published file.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from openpyxl import Workbook

DIVIPOLA_HEADER = ["Código Departamento", "Código Municipio", "Nombre Departamento", "Nombre Municipio",
                   "Tipo: Municipio / Isla / Área no municipalizada"]
DIVIPOLA_ROWS = [
    ["05", "05001", "ANTIOQUIA", "MEDELLÍN", "Municipio"],
    ["05", "05002", "ANTIOQUIA", "ABEJORRAL", "Municipio"],
    ["19", "19050", "CAUCA", "ARGELIA", "Municipio"],
    ["11", "11001", "BOGOTÁ. D.C.", "BOGOTÁ. D.C.", "Municipio"],
    ["88", "88001", "ARCHIPIÉLAGO DE SAN ANDRÉS", "SAN ANDRÉS", "Isla"],
]

IDF_HEADER = ["Código", "Departamento", "Municipio", "Nuevo IDF", "Rango "]
IDF_ROWS = [
    ["05001", "ANTIOQUIA", "MEDELLÍN", 78.5556, "4. Solvente (>=70 y <80)"],
    ["05002", "ANTIOQUIA", "ABEJORRAL", 65.1, "3. Vulnerable (>=60 y <70)"],
    ["19050", "CAUCA", "ARGELIA", 55.2, "2. Riesgo (>=40 y <60)"],
]

PDET_HEADER = ["Subregión PDET", "Código DANE Departamento", "Departamento", "Código DANE Municipio", "Municipio"]

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>"
             b"<body><h1>Servicio no disponible</h1></body></html>\n")


def write_csv(path: Path, header: list, rows: list, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding=encoding) as fh:
        w = csv.writer(fh, delimiter=delimiter)
        w.writerow(header)
        w.writerows(rows)
    return path


def write_json(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def divipola_csv(folder: Path, rows=None, name="DIVIPOLA.csv", **kw) -> Path:
    return write_csv(folder / name, DIVIPOLA_HEADER, DIVIPOLA_ROWS if rows is None else rows, **kw)


def idf_book(folder: Path, rows=None, *, name="ResultadosIDF_2023.xlsx", sheet="Municipios 2023",
             header=None, header_row: int = 7, lead: bool = False, footnotes=()) -> Path:
    """A new-methodology IDF workbook: title rows, a header row, data, optional footnotes."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.cell(row=1, column=1, value="Departamento Nacional de Planeación")
    ws.cell(row=3, column=1, value="Índice de Desempeño Fiscal - Nueva Metodología - Vigencia 2023")
    header = list(header or IDF_HEADER)
    rows = [list(r) for r in (IDF_ROWS if rows is None else rows)]
    if lead:
        header = ["Orden", *header]
        rows = [[i, *r] for i, r in enumerate(rows, start=1)]
    for j, h in enumerate(header, start=1):
        ws.cell(row=header_row, column=j, value=h)
    for i, row in enumerate(rows, start=header_row + 1):
        for j, v in enumerate(row, start=1):
            ws.cell(row=i, column=j, value=v)
    for k, note in enumerate(footnotes, start=header_row + len(rows) + 2):
        ws.cell(row=k, column=1, value=note)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    wb.save(path)
    return path


def pdet_book(folder: Path, rows: list) -> Path:
    wb = Workbook()
    ws = wb.active
    ws.title = "MunicipiosPDET"
    ws.append(PDET_HEADER)
    for r in rows:
        ws.append(r)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "MunicipiosPDET.xlsx"
    wb.save(path)
    return path


# -- hostile files: what a careless or malicious sources folder holds ------------------------------

ROSTER_HEADER = ["Vigencia", "Dirección Territorial", "Equipo", "Documento", "Nombre", "Rol", "Grupo Poblacional"]
ROSTER_ROWS = [["2024", "Dirección Territorial Cauca", "Equipo 1", "1061234567", "Ana Pérez Gómez", "profesional", "ninguno"]]


def roster_csv(path: Path) -> Path:
    """A team roster (document numbers and names) saved under another source's file name."""
    return write_csv(path, ROSTER_HEADER, ROSTER_ROWS, delimiter=";", encoding="utf-8-sig")


def roster_book(path: Path, header_row: int = 3) -> Path:
    """The same roster as a workbook, its header below two title rows."""
    wb = Workbook()
    ws = wb.active
    ws.cell(row=1, column=1, value="Talento humano: equipos territoriales")
    for j, h in enumerate(ROSTER_HEADER, start=1):
        ws.cell(row=header_row, column=j, value=h)
    for j, v in enumerate(ROSTER_ROWS[0], start=1):
        ws.cell(row=header_row + 1, column=j, value=v)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def inflating_book(path: Path, rows: int = 20_000) -> Path:
    """A small workbook that expands many times its size (the shape of a zip bomb)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Municipios 2023"
    ws.append(IDF_HEADER)
    for _ in range(rows):
        ws.append(["05001", "ANTIOQUIA", "MEDELLÍN" * 20, 78.5, "4. Solvente (>=70 y <80)"])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def symlink(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link
