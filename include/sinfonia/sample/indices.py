"""Sample writers of the DNP, DANE and CGN indices: MDM, IPM, IMRC and municipal categories.

Each file has its publisher's real name, format and layout quirks (see the source parsers). The
values come from the latent ``World``: low capacity means low MDM, high IPM and IMRC, 6th
category, the same as the IDF writer.

MDM is written in ONE form per year, as its publishers put it out: years up to 2020 (the span of
the datos.gov.co API) as ``nkjx-rsq7`` JSON pages, later years as DNP's workbook, one per year
(``Base de datos - mdm (Oct YY).xlsx``, the release of October of Y+1, holding only year Y so no
value is read twice). Each year has its own publication date in ``MANIFEST.csv``: year Y is
published on 31 October of Y+1, so the sample has MDM for ``first_year`` … ``last_year - 1``.
Only the workbook publishes the dimensions of each component, as DNP's base does.

MDM values (``mdm_values``), for municipality i and year t (s = t - first_year)::

    gestion_it    = 30 + 45·capacity_i + 0.6·s + e1_it          e ~ N(0, 2.5), independent
    resultados_it = 40 + 35·capacity_i + 0.5·s + e2_it
    mdm_it        = (gestion_it + resultados_it) / 2 + e3_it + X·[t ≥ G_i]     e3 ~ N(0, 1)
    dimension_kit = component_it + u_ki + v_kit - mean_k(u_ki + v_kit)   u ~ N(0, 7), v ~ N(0, 2)

where the dimensions of gestión are movilizacion, ejecucion, gobierno, ot and those of resultados
educacion, salud, servicios, seguridad: each component is the mean of its dimensions (before
clipping), and a municipality keeps its strong and weak dimensions from year to year (u_ki), so
the characterisation sheet's suggestions rest on a stable weakness. Everything is
clipped to 0–100, rounded to 4 decimals, where X is ``--impact-effect`` (default 0) and G_i the
treatment year of ``sample.impact.treatment_years`` (never for untreated municipalities). The
trend is common to all municipalities; selection into treatment runs through capacity (needier
municipalities get more assistance, ``sample.esap.simulate``), i.e. through the level only, so
parallel trends hold and a Callaway–Sant'Anna estimate on ``mdm`` should recover X, while a
naive treated-versus-untreated comparison is biased downwards. The components and dimensions are
not shifted; the dimensions draw from their own random streams, so adding them changed no other
value.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from openpyxl import Workbook

from sinfonia.sample.model import World
from sinfonia.sample.writers import SAMPLE_NOTE, _xlsx_titles

MDM_PAGE = 1000
MDM_INDICATORS = (("MDM", "mdm"), ("Componente de gestión", "gestion"), ("Componente de resultados", "resultados"))
MDM_DIMENSIONS = {"gestion": ("movilizacion", "ejecucion", "gobierno", "ot"),
                  "resultados": ("educacion", "salud", "servicios", "seguridad")}
SOCRATA_LAST_YEAR = 2020  # the datos.gov.co API's last year; later years come as DNP's workbook


def _clip(x: float) -> float:
    return round(max(0.0, min(100.0, x)), 4)


def mdm_years(world: World) -> list[int]:
    return list(range(world.first_year, world.last_year))


def mdm_published_on(year: int) -> date:
    return date(year + 1, 10, 31)


def mdm_values(world: World, treated: dict[str, int], effect: float) -> dict[tuple[str, int], dict[str, float]]:
    out = {}
    for e in world.municipal:
        cap = world.capacity[e.code]
        for year in mdm_years(world):
            rng = world.rng(f"mdm-{e.code}-{year}")
            s = year - world.first_year
            g = 30 + 45 * cap + 0.6 * s + rng.gauss(0, 2.5)
            r = 40 + 35 * cap + 0.5 * s + rng.gauss(0, 2.5)
            total = (g + r) / 2 + rng.gauss(0, 1.0)
            if e.code in treated and year >= treated[e.code]:
                total += effect
            v = out[(e.code, year)] = {"gestion": _clip(g), "resultados": _clip(r), "mdm": _clip(total)}
            for component, level in (("gestion", g), ("resultados", r)):
                v.update(_dimensions(world, e.code, year, component, level))
    return out


def _dimensions(world: World, code: str, year: int, component: str, level: float) -> dict[str, float]:
    """A component's dimensions: persistent strengths and weaknesses plus yearly noise, centred so
    that their mean is the component."""
    persistent = world.rng(f"mdm-dimensions-{component}-{code}")
    yearly = world.rng(f"mdm-dimensions-{component}-{code}-{year}")
    offsets = {n: persistent.gauss(0, 7.0) + yearly.gauss(0, 2.0) for n in MDM_DIMENSIONS[component]}
    centre = sum(offsets.values()) / len(offsets)
    return {n: _clip(level + o - centre) for n, o in offsets.items()}


def _dato(value: float, comma: bool) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return text.replace(".", ",") if comma else text


def write_mdm_pages(world: World, out: Path, values, years: list[int] | None = None) -> list[tuple[Path, dict]]:
    folder = out / "mdm"
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for year in mdm_years(world) if years is None else years:
        rng = world.rng(f"mdm-format-{year}")
        records = []
        for e in sorted(world.municipal, key=lambda e: e.code):
            v = values[(e.code, year)]
            for label, key in MDM_INDICATORS:
                records.append({"codigo_entidad": e.code, "entidad": e.name, "departamento": e.department_name,
                                "indicador": label, "dato": _dato(v[key], rng.random() < 0.3),
                                "anio": str(year)})
        for n, offset in enumerate(range(0, len(records), MDM_PAGE), start=1):
            path = folder / f"nkjx-rsq7_{year}_page_{n:04d}.json"
            path.write_text(json.dumps(records[offset: offset + MDM_PAGE], ensure_ascii=False, indent=1),
                            encoding="utf-8")
            origin = ("https://www.datos.gov.co/resource/nkjx-rsq7.json"
                      f"?$where=anio='{year}'&$limit={MDM_PAGE}&$offset={offset}&$order=codigo_entidad,indicador")
            files.append((path, {"source": "mdm", "period": str(year),
                                 "published_on": mdm_published_on(year).isoformat(), "origin": origin}))
    return files


def write_mdm_workbook(world: World, path: Path, values, code: str = "cmpio", name: str = "nmpio",
                       years: list[int] | None = None) -> Path:
    """The DNP release layout: sheet 'Diccionario' and sheet 'Base', header row 1: a ``g…`` and an
    ``r…`` indicator column (not kept), then each component's dimensions, the component, ``mdm``."""
    scores = [*MDM_DIMENSIONS["gestion"], "gestion", *MDM_DIMENSIONS["resultados"], "resultados", "mdm"]
    wb = Workbook()
    ws = wb.active
    ws.title = "Diccionario"
    ws.append([SAMPLE_NOTE])
    ws.append(["Nombre de la variable", "Descripción", "Tipo", "Fuente", "Vigencia"])
    ws = wb.create_sheet("Base")
    ws.append(["ID", "año", code, name, "g11_itnt", "r11_transicion", *scores])
    for e in world.municipal:
        for year in mdm_years(world) if years is None else years:
            v = values[(e.code, year)]
            ws.append([f"{year}{e.code}", year, int(e.code), e.name, 50.0, 75.0, *(v[k] for k in scores)])
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


def write_mdm(world: World, out: Path, values) -> list[tuple[Path, dict]]:
    """The sample's MDM: the API's pages up to 2020, then one DNP workbook per year."""
    years = mdm_years(world)
    files = write_mdm_pages(world, out, values, [y for y in years if y <= SOCRATA_LAST_YEAR])
    for year in (y for y in years if y > SOCRATA_LAST_YEAR):
        release = f"Base de datos - mdm (Oct {(year + 1) % 100:02d}).xlsx"
        path = write_mdm_workbook(world, out / "mdm" / release, values, years=[year])
        files.append((path, {"source": "mdm", "period": str(year),
                             "published_on": mdm_published_on(year).isoformat(),
                             "origin": f"https://www.dnp.gov.co (MDM, {release})"}))
    return files


# -- IPM census 2018 (DANE) --------------------------------------------------------------------
PRIVATION_TITLES = [
    "Analfabetismo", "Bajo logro educativo", "Barreras a servicios para cuidado de la primera infancia",
    "Inasistencia escolar", "Rezago escolar", "Trabajo infantil", "Barreras de acceso a servicios de salud",
    "Sin aseguramiento en salud", "Tasa de dependencia", "Trabajo informal", "Hacinamiento crítico",
    "Inadecuada eliminación de excretas", "Material inadecuado de paredes exteriores",
    "Material inadecuado de pisos", "Sin acceso a fuente de agua mejorada",
]


def ipm_values(world: World) -> dict[str, tuple[float, float | None, float]]:
    out = {}
    for e in world.entities:
        rng = world.rng(f"ipm-{e.code}")
        total = _clip(78 - 62 * world.capacity[e.code] + rng.gauss(0, 5))
        rural = _clip(total * 1.18 + rng.gauss(0, 3))
        head = None if e.entity_type == "area_no_municipalizada" else _clip(total * 0.62 + rng.gauss(0, 3))
        out[e.code] = (total, head, rural)
    return out


def write_ipm(world: World, out: Path) -> list[tuple[Path, dict]]:
    folder = out / "ipm"
    folder.mkdir(parents=True, exist_ok=True)
    values = ipm_values(world)
    wb = Workbook()
    ws = wb.active
    ws.title = "Índice"
    ws["A1"] = "Medida de Pobreza Multidimensional Municipal de Fuente Censal 2018"
    ws["A2"] = SAMPLE_NOTE
    ws = wb.create_sheet("4_IPM Mpio dominios")
    # Displaced header: titles, a blank row, the header in row 8 starting in column B.
    for i, text in enumerate(["Departamento Administrativo Nacional de Estadística - DANE",
                              "Medida de Pobreza Multidimensional Municipal de Fuente Censal 2018",
                              "Incidencia de la pobreza multidimensional por municipio y dominio", SAMPLE_NOTE,
                              "Porcentaje de personas"], start=1):
        ws.cell(row=i, column=2, value=text)
    header = ["ID", "Municipio", "Total", "Cabeceras", "Centros poblados y rural disperso"]
    for j, h in enumerate(header, start=2):
        ws.cell(row=8, column=j, value=h)
    r = 9
    for e in world.entities:
        total, head, rural = values[e.code]
        for j, v in enumerate([e.code, e.name, total, "-" if head is None else head, rural], start=2):
            ws.cell(row=r, column=j, value=v)
        r += 1
    ws.cell(row=r + 1, column=2, value="Fuente: DANE, Censo Nacional de Población y Vivienda (CNPV) 2018.")
    ws.cell(row=r + 2, column=2, value="Nota: en las áreas no municipalizadas no hay cabecera municipal.")
    ws = wb.create_sheet("6_Privaciones IPM Dpt-Mpio")
    ws.cell(row=1, column=1, value="Porcentaje de hogares por privación, departamentos y municipios, CNPV 2018")
    for j, h in enumerate(["ID", "Municipio", *PRIVATION_TITLES], start=1):
        ws.cell(row=2, column=j, value=h)
    r = 3
    depts = sorted({(e.department_code, e.department_name) for e in world.entities})
    for code, name in depts:
        members = [values[e.code][0] for e in world.entities if e.department_code == code]
        mean = sum(members) / len(members)
        ws.append([code, name, *(_clip(mean * (0.3 + 0.08 * k)) for k in range(15))])
        r += 1
    for e in world.entities:
        rng = world.rng(f"ipm-priv-{e.code}")
        total = values[e.code][0]
        ws.append([e.code, e.name, *(_clip(total * (0.3 + 0.08 * k) + rng.gauss(0, 4)) for k in range(15))])
    path = folder / "anexo-censal-pobreza-municipal-2018.xlsx"
    wb.save(path)
    origin = ("https://www.dane.gov.co/files/investigaciones/condiciones_vida/pobreza/2018/"
              "informacion-censal/anexo-censal-pobreza-municipal-2018.xlsx")
    return [(path, {"source": "ipm", "period": "2018", "published_on": "2020-03-31", "origin": origin})]


# -- IMRC (DNP) --------------------------------------------------------------------------------
def imrc_edition(world: World) -> int:
    return min(2024, world.last_year)


def imrc_values(world: World) -> dict[str, dict]:
    out = {}
    for e in world.municipal:
        rng = world.rng(f"imrc-{e.code}")
        need = 1 - world.capacity[e.code]
        out[e.code] = {
            "exceso": None if rng.random() < 0.02 else _clip(15 + 55 * need + rng.gauss(0, 8)),
            "deficit": _clip(10 + 50 * need + rng.gauss(0, 8)),
        }
    return out


def write_imrc(world: World, out: Path) -> list[tuple[Path, dict]]:
    folder = out / "imrc"
    folder.mkdir(parents=True, exist_ok=True)
    values = imrc_values(world)
    wb = Workbook()
    sheets = {
        "Exceso de Lluvias": ("exceso", ["DIVIPOLA", "Departamento", "Municipio", "%AA", "%PE",
                                         "Vulnerabilidad social\n(% IPM)",
                                         "Indice de Rieso de Desastres  Exceso (IR_E)",
                                         "Indice de Capacidades - Exceso", "Grupo de Capacidad\n-Exceso",
                                         "Indice de riesgo de desastres ajustado\npor capacidades (IMRC_E)"]),
        "Deficit de Lluvias": ("deficit", ["DIVIPOLA", "Departamento", "% ASE", "%ASIF",
                                           "Indice de Rieso de Desastres -  Deficit de  lluvias",
                                           "Promedio Componente Gestion MDM", "Indice de Capacidades - Deficit",
                                           "Grupo de Capacidad - Deficit",
                                           "Indice de riesgo de desastres ajustado por capacidades  (IMRC_D)"]),
    }
    first = True
    for title, (hazard, header) in sheets.items():
        ws = wb.active if first else wb.create_sheet(title)
        ws.title, first = title, False
        _xlsx_titles(ws, [f"IMRC {imrc_edition(world)} - {title} - {SAMPLE_NOTE}"], len(header))
        ws.append(header)
        for e in world.municipal:
            rng = world.rng(f"imrc-fmt-{hazard}-{e.code}")
            v = values[e.code][hazard]
            shown = "Sin población expuesta" if v is None else (f"{v}".replace(".", ",") if rng.random() < 0.1 else v)
            cap = 1 - world.capacity[e.code]
            extra = [round(100 * cap, 2), round(40 * cap, 2)]
            mid = [round(60 * cap, 2), round(50 - 20 * cap, 2), world.capacity_group(e.code)]
            if hazard == "exceso":
                ws.append([e.code, e.department_name, e.name, *extra, 40.0, *mid, shown])
            else:
                ws.append([e.code, e.department_name, *extra, mid[0], 50.0, *mid[1:], shown])
    path = folder / f"IMRC-BASE-DE-DATOS-{imrc_edition(world)}.xlsx"
    wb.save(path)
    return [(path, {"source": "imrc", "period": str(imrc_edition(world)),
                    "published_on": f"{imrc_edition(world)}-05-15",
                    "origin": "https://colaboracion.dnp.gov.co/CDT/PublishingImages/La_Entidad/Directivos/"
                              f"Direccciones/ambiente-y-desarrollo-sostenible/Gestion-del-Riesgo-de-Desastres/"
                              f"IMRC-BASE-DE-DATOS-{imrc_edition(world)}.xlsx"})]


# -- Municipal categories (CGN) ----------------------------------------------------------------
def category_years(world: World) -> list[int]:
    """Categories in force from first_year to last_year + 1 (certified in November before)."""
    return list(range(world.first_year, world.last_year + 2))


def write_categories(world: World, out: Path) -> list[tuple[Path, dict]]:
    folder = out / "cgn"
    folder.mkdir(parents=True, exist_ok=True)
    years = category_years(world)
    wb = Workbook()
    ws = wb.active
    ws.title = "HISTORIA-CAT-MUNIC"
    for i, text in enumerate(["CONTADURÍA GENERAL DE LA NACIÓN", "CATEGORIZACIÓN DE MUNICIPIOS",
                              f"HISTÓRICO VIGENCIAS {years[0]} - {years[-1]}", SAMPLE_NOTE], start=1):
        ws.cell(row=i, column=1, value=text)
    header = ["No.", "COD DPTO", "CODIGO", "DEPARTAMENTO", "MUNICIPIO"]
    for y in years:
        header += ["Vigencia", y]
    header.append("categorizado por")
    for j, h in enumerate(header, start=1):
        ws.cell(row=6, column=j, value=h)
    for k, _ in enumerate(years):
        ws.cell(row=7, column=6 + 2 * k, value="Categoría")
        ws.cell(row=7, column=7 + 2 * k, value="Norma")
    r = 8
    for n, e in enumerate(world.municipal, start=1):
        row = [n, int(e.department_code), int(e.code), e.department_name.upper(), e.name.upper()]
        for y in years:
            cat = world.category(e.code, y)
            shown = ("ESP" if y % 2 else "E") if cat == "E" else int(cat)
            row += [shown, "AUTOCAT" if cat in ("E", "1", "2") else "INFO CGR"]
        row.append("AUTOCAT" if world.category(e.code, years[-1]) in ("E", "1", "2") else "INFO CGR")
        for j, v in enumerate(row, start=1):
            ws.cell(row=r, column=j, value=v)
        r += 1
    path = folder / "HISTORICOS.xlsx"
    wb.save(path)
    return [(path, {"source": "cgn_categories", "period": f"{years[0]}-{years[-1]}",
                    "published_on": f"{years[-1] - 1}-11-28",
                    "origin": "https://www.contaduria.gov.co/categorizacion-de-departamentos-distritos-y-municipios"})]
