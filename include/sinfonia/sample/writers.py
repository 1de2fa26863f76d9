"""Writers of the sample sources, each in its publisher's real format and file name."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from sinfonia.sample.geography import coordinates
from sinfonia.sample.model import World

SAMPLE_NOTE = "DATOS SINTÉTICOS DE MUESTRA generados por Sinfonía: no son cifras oficiales."


def _xlsx_titles(ws, titles: list[str], width: int, col: int = 1) -> None:
    for i, text in enumerate(titles, start=1):
        ws.cell(row=i, column=col, value=text).font = Font(bold=True)
        ws.merge_cells(start_row=i, start_column=col, end_row=i, end_column=col + width - 1)


# -- DIVIPOLA: Socrata JSON pages ---------------------------------------------------------------
def write_divipola(world: World, out: Path, page_size: int = 500) -> list[tuple[Path, dict]]:
    """Pages as the Socrata API returns them for ``$limit``/``$offset``/``$order=cod_mpio``, with the
    2025 export's ``latitud``/``longitud`` as text with a decimal comma. The coordinates are
    synthetic (``geography.coordinates``: points around each department's rough centre)."""
    folder = out / "divipola"
    folder.mkdir(parents=True, exist_ok=True)
    types = {"municipio": "Municipio", "isla": "Isla", "area_no_municipalizada": "Área no municipalizada"}
    points = coordinates(world.entities, world.seed)
    records = [
        {
            "cod_dpto": e.department_code,
            "dpto": e.department_name.upper(),
            "cod_mpio": e.code,
            "nom_mpio": e.name.upper(),
            "tipo_municipio": types[e.entity_type],
            "latitud": f"{points[e.code][0]:.6f}".replace(".", ","),
            "longitud": f"{points[e.code][1]:.6f}".replace(".", ","),
        }
        for e in world.entities
    ]
    files = []
    for n, offset in enumerate(range(0, len(records), page_size), start=1):
        path = folder / f"gdxc-w37w_page_{n:04d}.json"
        path.write_text(json.dumps(records[offset: offset + page_size], ensure_ascii=False, indent=1),
                        encoding="utf-8")
        origin = ("https://www.datos.gov.co/resource/gdxc-w37w.json"
                  f"?$limit={page_size}&$offset={offset}&$order=cod_mpio")
        files.append((path, {"source": "divipola", "period": "current",
                             "published_on": "2025-01-24", "origin": origin}))
    return files


# -- PDET list (ART) ----------------------------------------------------------------------------
def write_pdet(world: World, out: Path) -> list[tuple[Path, dict]]:
    folder = out / "pdet"
    folder.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "MunicipiosPDET"
    ws.append(["Subregión PDET", "Código DANE Departamento", "Departamento", "Código DANE Municipio", "Municipio"])
    by_code = {e.code: e for e in world.entities}
    for code, subregion in sorted(world.pdet.items(), key=lambda kv: (kv[1], kv[0])):
        e = by_code[code]
        # Codes stored as integers, as in the published list (5475 for 05475).
        ws.append([subregion, int(e.department_code), e.department_name.upper(), int(code), e.name.upper()])
    path = folder / "MunicipiosPDET.xlsx"
    wb.save(path)
    return [(path, {"source": "pdet", "period": "2017", "published_on": "2017-05-28",
                    "origin": "https://www.renovacionterritorio.gov.co (Decreto Ley 893 de 2017)"})]


# -- IDF (DNP) ----------------------------------------------------------------------------------
OLD_RANGES = [(80, "5.Solvente (>=80)"), (70, "4. Sostenible (>=70 y <80)"), (60, "3. Vulnerable (>=60 y <70)"),
              (40, "2. Riesgo (>=40 y < 60)"), (0, "1. Deterioro (<40)")]
NEW_RANGES = [(80, "5. Sostenible (>=80)"), (70, "4. Solvente (>=70 y <80)"), (60, "3. Vulnerable (>=60 y <70)"),
              (40, "2. Riesgo (>=40 y <60)"), (0, "1. Deterioro (<40)")]
NEW_FILE_NAMES = {
    2020: "Anexos Desempeño Fiscal 2020_Nueva Metodología.xlsx",
    2021: "IDF_2021_Nueva_Metodologia.xlsx",
}


def idf_score(world: World, code: str, year: int, methodology: str) -> float:
    rng = world.rng(f"idf-{code}-{year}-{methodology}")
    base = 42 + 38 * world.capacity[code] if methodology == "anterior" else 35 + 42 * world.capacity[code]
    return max(0.0, min(100.0, base + 0.4 * (year - 2016) + rng.gauss(0, 3.5)))


def _range(score: float, ranges) -> str:
    return next(label for low, label in ranges if score >= low)


def idf_years(world: World) -> list[tuple[int, str]]:
    """(year, methodology) pairs published by the sample's last year (one year of lag)."""
    out = []
    for year in range(world.first_year, world.last_year):
        if year <= 2021:
            out.append((year, "anterior"))
        if year >= 2020:
            out.append((year, "nueva"))
    return out


def idf_published_on(year: int, methodology: str) -> date:
    return date(year + 1, 8, 31) if methodology == "nueva" else date(year + 1, 10, 15)


def write_idf(world: World, out: Path) -> list[tuple[Path, dict]]:
    folder = out / "idf"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for year, methodology in idf_years(world):
        wb = Workbook()
        ws = wb.active
        if methodology == "anterior":
            name = (f"Anexos Desempeno Fiscal {year}.xlsx" if year < 2021
                    else f"Anexos Desempeno Fiscal {year}_Anterior Metodologia.xlsx")
            ws.title = f"Municipios {year}"
            _write_idf_old(world, ws, year)
        else:
            name = NEW_FILE_NAMES.get(year, f"ResultadosIDF_Nueva_MetodologIa_{year}_Act.xlsx")
            if year >= 2023:
                ws.title = "Nota aclaratoria"
                ws["A1"] = "Nota aclaratoria: los resultados de esta vigencia fueron actualizados."
                ws["A2"] = SAMPLE_NOTE
                ws = wb.create_sheet(f"Municipios {year}")
            else:
                ws.title = f"Municipios {year}"
            _write_idf_new(world, ws, year)
        path = folder / name
        wb.save(path)
        files.append((path, {"source": "idf", "period": f"{year}-{methodology}",
                             "published_on": idf_published_on(year, methodology).isoformat(),
                             "origin": f"https://www.dnp.gov.co (IDF {year}, metodología {methodology})"}))
    return files


def bono_catastro(world: World, code: str, year: int) -> int:
    """The new IDF methodology's cadastral bonus: 2 points from the year the municipality's cadastre
    was updated (about 2.5% of municipalities by 2020, 10% by 2023, as DNP's annexes show), else 0."""
    updated = 2020 + int(world.rng(f"catastro-{code}").random() * 40)
    return 2 if year >= updated else 0


def _nd(world: World, code: str, year: int) -> bool:
    return world.rng(f"nd-{code}-{year}").random() < 0.003


def _write_idf_old(world: World, ws, year: int) -> None:
    for i, text in enumerate(["Dirección de Descentralización y Desarrollo Regional",
                              "Evaluación del desempeño fiscal de los municipios",
                              f"Vigencia {year}", "Ranking Fiscal"], start=1):
        ws.cell(row=i, column=6, value=text)
    ws.cell(row=5, column=6, value=SAMPLE_NOTE)
    ws.cell(row=6, column=1,
            value=f"Anexo 2. Desempeño fiscal de los municipios {year}, ordenados de mayor a menor calificación")
    header = ["Código", "Departamento", "Municipio", "1/ Autofinanciación de los gastos de funcionamiento",
              "2/ Respaldo del servicio de la deuda ", "Indicador de desempeño Fiscal 7/",
              f"Posición {year} a nivel Nacional ", "Rango Clasificación", "Categoría Ley 617 de 2000"]
    if year % 2 == 1:  # some years carry a leading 'Orden' column
        header = ["Orden", *header]
    for j, h in enumerate(header, start=1):
        ws.cell(row=8, column=j, value=h)
    rows = []
    for e in world.municipal:
        score = idf_score(world, e.code, year, "anterior")
        rows.append((score, e))
    rows.sort(key=lambda t: -t[0])
    r = 9
    for pos, (score, e) in enumerate(rows, start=1):
        nd = _nd(world, e.code, year)
        values = [e.code, e.department_name, e.name, round(score * 0.6, 3), round(score * 0.1, 3),
                  "N.D." if nd else score, pos, "6. Sin info." if nd else _range(score, OLD_RANGES),
                  world.category(e.code, year)]
        if year % 2 == 1:
            values = [pos, *values]
        for j, v in enumerate(values, start=1):
            ws.cell(row=r, column=j, value=v)
        r += 1
    # The unlabelled average row and the footnotes DNP puts under the data.
    avg = sum(s for s, _ in rows) / len(rows)
    ws.cell(row=r, column=len(header) - 3, value=avg)
    for k, note in enumerate(["Fuente: DDDR-DNP. ",
                              "1/ Autofinanciación del funcionamiento = Gasto funcionamiento/ ICLD * 100%",
                              "7/ Indicador de desempeño Fiscal: resume los indicadores en una escala de 0 a 100.",
                              "Nota: El promedio del IDF se realiza asumiendo los puntajes N.D. como cero"], start=2):
        ws.cell(row=r + k, column=3 if year % 2 == 1 else 2, value=note)


def _write_idf_new(world: World, ws, year: int) -> None:
    titles = ["Departamento Nacional de Planeación", "Dirección de Descentralización y Fortalecimiento Fiscal",
              f"Índice de Desempeño Fiscal - Nueva Metodología - Vigencia {year}", SAMPLE_NOTE]
    code_header = "Codigo DANE" if year <= 2021 else "Código"
    header = [code_header, "Departamento", "Municipio", "Categoría Ley 617 " if year <= 2021 else "Categorías",
              "Dotaciones Iniciales", "Dependencia de las Transferencias",
              "Calificación Dependencia de las Transferencias",
              "Resultados", "Bono Catastro ", "Gestión ", "Nuevo IDF (sin bonos)", "Nuevo IDF", "Rango "]
    _xlsx_titles(ws, titles, len(header))
    ws.cell(row=6, column=6, value="Dimensión de Resultados ")
    ws.merge_cells(start_row=6, start_column=6, end_row=6, end_column=8)
    ws.cell(row=6, column=9, value="Dimensión de Gestión Financiera Territorial")
    ws.merge_cells(start_row=6, start_column=9, end_row=6, end_column=11)
    for j, h in enumerate(header, start=1):
        ws.cell(row=7, column=j, value=h)
    r = 8
    for e in world.municipal:
        score = idf_score(world, e.code, year, "nueva")
        nd = _nd(world, e.code, year)
        cat = world.category(e.code, year)
        values = [e.code, e.department_name.upper(), e.name.upper(), int(cat) if cat.isdigit() else cat,
                  world.capacity_group(e.code), 100 - score * 0.7, score * 0.7, score * 0.8,
                  bono_catastro(world, e.code, year), score * 0.2, score - 1, "N.D." if nd else score,
                  ("6. Sin info." if year == 2020 else "No Evaluado") if nd else _range(score, NEW_RANGES)]
        for j, v in enumerate(values, start=1):
            ws.cell(row=r, column=j, value=v)
        r += 1


# -- ESAP asistencias export --------------------------------------------------------------------
ASISTENCIAS_HEADER = [
    "ID Asistencia", "Vigencia", "Dirección Territorial", "Código DANE Municipio", "Departamento", "Municipio",
    "Línea Temática", "Equipo", "Estado", "Fecha Concertación", "Fecha Plan de Acción", "Fecha Entrega Programada",
    "Fecha Entrega Real", "Producto Entregado", "Servidores Participantes", "Estudiantes Vinculados",
    "Calificación Calidad", "Satisfacción Alcaldía", "Observaciones",
]


def write_asistencias(exports: list[tuple[date, list[list]]], out: Path) -> list[tuple[Path, dict]]:
    """One CSV per export date, ';'-separated UTF-8 with BOM, as Excel exports it."""
    folder = out / "esap"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for exported, rows in exports:
        path = folder / f"asistencias_{exported:%Y%m%d}.csv"
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            w = csv.writer(fh, delimiter=";")
            w.writerow(ASISTENCIAS_HEADER)
            w.writerows(rows)
        files.append((path, {"source": "esap_asistencias", "period": exported.isoformat(),
                             "published_on": exported.isoformat(), "origin": "ESAP monitoring system export"}))
    return files


def write_metas(rows: list[list], out: Path) -> list[tuple[Path, dict]]:
    folder = out / "esap"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metas.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh, delimiter=";")
        w.writerow(["Vigencia", "Dirección Territorial", "Línea Temática", "Meta Asistencias"])
        w.writerows(rows)
    years = sorted({r[0] for r in rows})
    return [(path, {"source": "esap_metas", "period": f"{years[0]}-{years[-1]}",
                    "published_on": f"{years[0]}-02-01", "origin": "ESAP planning office"})]


def fmt_date(d: date | None, iso: bool = False) -> str:
    if d is None:
        return ""
    return d.isoformat() if iso else d.strftime("%d/%m/%Y")



# -- ESAP equipos export (person level, sensitive) ------------------------------------------------
EQUIPOS_HEADER = ["Vigencia", "Dirección Territorial", "Equipo", "Documento", "Nombre", "Rol",
                  "Grupo Poblacional"]


def write_equipos(rows: list[list], out: Path) -> list[tuple[Path, dict]]:
    """One CSV per year (``equipos_<year>.csv``), ';'-separated UTF-8 with BOM, as Excel exports it."""
    folder = out / "esap"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for year in sorted({r[0] for r in rows}):
        path = folder / f"equipos_{year}.csv"
        with open(path, "w", newline="", encoding="utf-8-sig") as fh:
            w = csv.writer(fh, delimiter=";")
            w.writerow(EQUIPOS_HEADER)
            w.writerows(r for r in rows if r[0] == year)
        files.append((path, {"source": "esap_equipos", "period": str(year),
                             "published_on": f"{year}-03-01", "origin": "ESAP talent office export (synthetic)"}))
    return files
