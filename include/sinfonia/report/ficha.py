"""``sinfonia ficha``: the characterisation sheet a team takes before its first visit (Spanish).

One HTML page per municipality (and the same page as PDF, printed by headless Chromium), plus an
index: who the municipality is, its indicators against the municipalities of its capacity group
(table and trend charts), why it was or was not selected, what ESAP already did there, and the
thematic lines the planning office's rule table suggests, each with the values that triggered it.
Every number on the sheet is read from ``marts.mart_municipality_profile`` (the trends from
``marts.fct_municipal_indicator``, only what was published by the snapshot's as-of date), so a BI
tool on the mart shows the same figures. Pages made from the synthetic sample carry its banner.
"""

from __future__ import annotations

import html
import json
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from psycopg import sql

from sinfonia import db
from sinfonia.errors import UserError
from sinfonia.report.printer import CSP_META, Printer, chromium
from sinfonia.report.spanish import MISSING, number, place_name

MART = "marts.mart_municipality_profile"
_MART = sql.Identifier(*MART.split("."))
INDICATORS = {  # code → (label, higher is better)
    "mdm": ("MDM: desempeño municipal", True),
    "mdm_gestion": ("MDM: componente de gestión", True),
    "mdm_resultados": ("MDM: componente de resultados", True),
    "mdm_movilizacion": ("MDM: movilización de recursos", True),
    "mdm_ejecucion": ("MDM: ejecución de recursos", True),
    "mdm_gobierno_abierto": ("MDM: gobierno abierto y transparencia", True),
    "mdm_ordenamiento_territorial": ("MDM: ordenamiento territorial", True),
    "mdm_educacion": ("MDM: educación", True),
    "mdm_salud": ("MDM: salud", True),
    "mdm_servicios": ("MDM: acceso a servicios públicos", True),
    "mdm_seguridad": ("MDM: seguridad", True),
    "idf": ("IDF: desempeño fiscal", True),
    "ipm": ("IPM: pobreza multidimensional", False),
    "imrc_exceso": ("IMRC: riesgo por exceso de lluvias", False),
    "imrc_deficit": ("IMRC: riesgo por déficit de lluvias", False),
}
STATES = ("Programada", "En diagnóstico", "Concertada", "En implementación", "Entregada", "Cancelada")


# Print (the PDF): a figure, a table row, a heading with what follows it are never cut at a page
# break; a section may be, so a long section fills the page instead of leaving half of it empty.
PRINT_STYLE = """@media print {
  figure, img, tr, li { break-inside: avoid; page-break-inside: avoid; }
  h1, h2, h3 { break-after: avoid; page-break-after: avoid; }
  figure { margin: .4rem 0; } img { max-height: 24cm; }
}"""


class FichaError(UserError, RuntimeError):
    """The request cannot be served (no profile, unknown municipality or directorate)."""


def _rows(conn, query: sql.Composable, params=()) -> list[dict]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def resolve(conn, municipality: str | None, directorate: str | None, year: int | None) -> tuple[int, list[dict]]:
    """The year and the profile rows asked for: one municipality, or the selected ones of a directorate."""
    if conn.execute("select to_regclass(%s)", (MART,)).fetchone()[0] is None:
        raise FichaError(f"{MART} is not in the warehouse: run the pipeline (sinfonia run) and a "
                         "prioritisation (sinfonia prioritise --year Y) first")
    years = [r[0] for r in conn.execute(
        sql.SQL("select distinct prioritisation_year from {} order by 1").format(_MART))]
    if not years:
        raise FichaError("no prioritisation year in the warehouse: run sinfonia prioritise --year Y first")
    if year is None:
        year = years[-1]
    elif year not in years:
        raise FichaError(f"no sheet for {year}: prioritised years are {', '.join(map(str, years))}")
    if municipality:
        code = municipality.strip().zfill(5)
        rows = _rows(conn, sql.SQL("select * from {} where prioritisation_year = %s and municipality_id = %s")
                     .format(_MART), (year, code))
        if not rows:
            raise FichaError(f"municipality {municipality!r} is not in the {year} prioritisation "
                             "(expected a 5-digit DIVIPOLA code of a municipality, e.g. 05001)")
        return year, rows
    code = (directorate or "").strip().upper()
    known = [r[0] for r in conn.execute(
        sql.SQL("select distinct directorate_id from {} where prioritisation_year = %s "
                "and directorate_id is not null order by 1").format(_MART), (year,))]
    if code not in known:
        raise FichaError(f"directorate {directorate!r} unknown in {year}; expected one of {', '.join(known)}")
    rows = _rows(conn, sql.SQL("select * from {} where prioritisation_year = %s and directorate_id = %s "
                               "and is_selected order by directorate_rank").format(_MART), (year, code))
    if not rows:
        raise FichaError(f"directorate {code} has no selected municipality in {year}: {_why_none(conn, code, year)}")
    return year, rows


def _why_none(conn, directorate: str, year: int) -> str:
    """Why a directorate's list selects nobody: no goal that year, or no eligible municipality."""
    goal, eligible, goals = conn.execute(
        "select coalesce(max(directorate_goal) filter (where directorate_id = %(d)s), 0), "
        "count(*) filter (where directorate_id = %(d)s and is_eligible), "
        "coalesce(max(directorate_goal), 0) from marts.mart_prioritisation "
        "where prioritisation_year = %(y)s", {"d": directorate, "y": year}).fetchone()
    if not goals:
        return (f"{year} has no goals (ESAP's metas export has none for it; its list was written with "
                "--allow-no-goals, so it ranks the eligible municipalities and selects none); once the goals "
                f"are loaded, `sinfonia prioritise --year {year} --force` rewrites it")
    if not goal:
        return f"{directorate} has no goal in {year} (ESAP's metas export), so its list selects none"
    return f"none of its municipalities is eligible in {year}" if not eligible else \
        f"its {eligible} eligible municipalities are not selected within its goal of {goal}"


def trends(conn, row: dict) -> dict[str, dict[str, list]]:
    """Per indicator, the municipality's yearly values and its capacity-group peers' median, as
    published by the snapshot's as-of date and up to its year."""
    found = _rows(conn, """
        with peers as (
            select m.municipality_id from marts.dim_municipality m
            where m.capacity_group is not distinct from %(group)s
        ), published as (
            select i.municipality_id, i.indicator, i.year, i.value::float8 as value
            from marts.fct_municipal_indicator i
            where i.indicator = any(%(codes)s) and i.value is not null
              and i.published_on <= %(as_of)s and i.year <= %(year)s
        )
        select p.indicator, p.year,
               max(p.value) filter (where p.municipality_id = %(code)s) as own,
               percentile_cont(0.5) within group (order by p.value)
                   filter (where p.municipality_id in (select municipality_id from peers)) as peer_median
        from published p group by p.indicator, p.year order by p.indicator, p.year
        """, {"group": row["capacity_group"], "codes": list(INDICATORS), "as_of": row["as_of_date"],
              "year": row["prioritisation_year"], "code": row["municipality_id"]})
    out: dict[str, dict[str, list]] = {}
    for r in found:
        series = out.setdefault(r["indicator"], {"years": [], "own": [], "peers": []})
        series["years"].append(r["year"])
        series["own"].append(r["own"])
        series["peers"].append(r["peer_median"])
    return {k: v for k, v in out.items() if any(x is not None for x in v["own"])}


def _trend_figure(series: dict[str, dict[str, list]], name: str, group: str | None) -> str:
    """The trends of the indicators with two years or more, two charts a row, each row its own
    figure that print keeps whole on one page (a single grid image taller than a page was cut at
    the page break, titles and all). An indicator with one published year has no trend: its value
    is in the table, and a note says so."""
    codes = [c for c in INDICATORS if c in series]
    charted = [c for c in codes if sum(v is not None for v in series[c]["own"]) >= 2]
    single = [c for c in codes if c not in charted]
    parts = [_trend_row(series, charted[i:i + 2], name, group) for i in range(0, len(charted), 2)]
    if single:
        parts.append(f'<p class="note">Con un solo año publicado a la fecha de corte, sin tendencia que graficar '
                     f"(su valor está en la tabla): {html.escape('; '.join(INDICATORS[c][0] for c in single))}.</p>")
    return "\n".join(parts)


# The margins of a trend row (fractions of its 10 × 2.6 in figure): room for a Colombian tick label
# of up to 7 characters on the left, the title above, the years below.
TREND_LAYOUT = {"left": 0.065, "right": 0.99, "top": 0.88, "bottom": 0.11, "wspace": 0.16}


def _trend_row(series: dict[str, dict[str, list]], codes: list[str], name: str, group: str | None) -> str:
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # names from data are text, never mathtext ($…$)
    import matplotlib.pyplot as plt

    from sinfonia.report import figure_html
    from sinfonia.report.spanish import axis_format

    fig, axes = plt.subplots(1, 2, figsize=(10, 2.6), squeeze=False)
    for ax, code in zip(axes.flat, codes, strict=False):
        s = series[code]
        ax.plot(s["years"], s["peers"], color="#8a9bb0", linestyle="--", marker="s", label="Mediana del grupo")
        ax.plot(s["years"], s["own"], color="#0b3d63", marker="o", linewidth=2, label=name)
        ax.set_title(INDICATORS[code][0], fontsize=9)
        ax.set_xticks(s["years"])
        ax.tick_params(labelsize=8)
        axis_format(ax.yaxis)
        ax.legend(fontsize=7, loc="best")
    for ax in list(axes.flat)[len(codes):]:
        ax.axis("off")
    # A fixed layout, not tight_layout and a tight bounding box: every row has the same two panels
    # and short labels, and measuring them drew each figure three times (three quarters of a sheet).
    fig.subplots_adjust(**TREND_LAYOUT)
    described = "; ".join(
        f"{INDICATORS[c][0]}: "
        + ", ".join(f"{y} {number(v, 2)}" for y, v in zip(series[c]["years"], series[c]["own"], strict=True)
                    if v is not None)
        for c in codes)
    return figure_html(fig, f"Evolución de los indicadores de {name} ({' y '.join(INDICATORS[c][0] for c in codes)}) "
                            f"frente a la mediana de su grupo de capacidades ({group or 'sin grupo'}). {described}.",
                       f"Evolución anual de {name} (línea continua) y la mediana de los municipios de su grupo "
                       f"de capacidades {group or ''} (línea discontinua), con lo publicado a la fecha de corte.",
                       tight=False)


def _td(value, decimals: int = 2) -> str:
    return f'<td class="num">{number(value, decimals)}</td>'


def _indicator_table(row: dict) -> str:
    body = []
    for code, (label, higher_better) in INDICATORS.items():
        value = row.get(f"{code}_value")
        if value is None:
            continue
        change = row.get(f"{code}_change")
        sign = "" if change is None or change == 0 else ("+" if change > 0 else "")
        body.append(
            f"<tr><td>{html.escape(label)}</td>{_td(value)}<td class=\"num\">{row.get(f'{code}_year') or MISSING}</td>"
            f"<td class=\"num\">{sign}{number(change, 2)}</td>{_td(row.get(f'{code}_peer_median'))}"
            f"{_td(row.get(f'{code}_peer_percentile'), 0)}"
            f"<td>{'más es mejor' if higher_better else 'más es peor'}</td></tr>")
    if not body:
        return "<p>No hay indicadores publicados para este municipio a la fecha de corte.</p>"
    return ("<table><thead><tr><th>Indicador</th><th class=\"num\">Valor</th><th class=\"num\">Año</th>"
            "<th class=\"num\">Cambio frente al año anterior</th><th class=\"num\">Mediana del grupo</th>"
            "<th class=\"num\">Percentil en el grupo</th><th>Lectura</th></tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def _prioritisation_html(row: dict, year: int) -> str:
    if not row["is_eligible"]:
        return f"<p>No es elegible en {year}: {html.escape(row['eligibility_reason'] or '')}.</p>"
    parts = [
        f"<p>Elegible en {year} ({html.escape(row['eligibility_reason'] or '')}). Puntaje de necesidad "
        f"<strong>{number(row['need_score'], 2)}</strong> de 100; puesto nacional {number(row['national_rank'])}, "
        f"puesto {number(row['directorate_rank'])} en su dirección territorial, quintil {row['tier']} "
        f"(1 = mayor necesidad). <strong>{'Seleccionado' if row['is_selected'] else 'No seleccionado'}</strong> "
        f"dentro de la meta de su dirección.</p>",
        "<table><thead><tr><th>Índice</th><th class=\"num\">Aporte al puntaje</th></tr></thead><tbody>",
    ]
    for code, label in (("mdm", "MDM"), ("idf", "IDF"), ("imrc", "IMRC"), ("ipm", "IPM")):
        parts.append(f"<tr><td>{label}</td>{_td(row[f'{code}_contribution'])}</tr>")
    parts.append("</tbody></table>")
    if row.get("indicators_missing"):
        parts.append(f"<p class=\"note\">Sin dato a la fecha de corte: {html.escape(row['indicators_missing'])}; "
                     "el puntaje promedia los índices disponibles.</p>")
    return "".join(parts)


def _history_html(row: dict, line_names: dict[str, str]) -> str:
    if not row["assistances_total"]:
        return "<p>La ESAP no registra asistencias técnicas en este municipio hasta este año.</p>"
    by_line = row["assistances_by_line"]
    if isinstance(by_line, str):
        by_line = json.loads(by_line)
    states = [s for s in STATES if any(s in v for v in by_line.values())]
    states += sorted({s for v in by_line.values() for s in v} - set(states))
    head = "".join(f'<th class="num">{html.escape(s)}</th>' for s in states)
    body = "".join(
        f"<tr><td>{html.escape(line_names.get(line, line))} ({html.escape(line)})</td>"
        + "".join(_td(counts.get(s, 0), 0) for s in states) + "</tr>"
        for line, counts in sorted(by_line.items()))
    last = row["last_assistance_date"]
    summary = (f"<p>{number(row['assistances_total'])} asistencias registradas: "
               f"{number(row['assistances_delivered'])} entregadas, {number(row['assistances_in_progress'])} en "
               f"curso y {number(row['assistances_cancelled'])} canceladas.")
    if last:
        summary += f" Última fecha registrada: {last:%d/%m/%Y}."
    summary += (f" Satisfacción media de la alcaldía: {number(row['mean_satisfaction'], 1)} de 5.</p>"
                if row["mean_satisfaction"] is not None else " Sin respuestas de satisfacción.</p>")
    return summary + f"<table><thead><tr><th>Línea temática</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _suggestions_html(row: dict) -> str:
    suggestions = row["suggestions"]
    if isinstance(suggestions, str):
        suggestions = json.loads(suggestions)
    if not suggestions:
        return ("<p>Ninguna regla de la tabla de sugerencias se cumple con los datos disponibles (las reglas sin "
                "dato no sugieren nada).</p>")
    by_line: dict[str, list[dict]] = {}  # one item per line, however many rules suggest it
    for s in suggestions:
        by_line.setdefault(s["thematic_line_id"], []).append(s)
    items = []
    for line_id, found in by_line.items():
        reasons = []
        for s in found:
            label = INDICATORS.get(s["indicator"], (s["indicator"],))[0]
            reasons.append(
                f"{html.escape(s['reason'])}: {html.escape(label)} {number(s['value'], 2)} en {s['year']}; percentil "
                f"{number(s['peer_percentile'], 0)} en su grupo, cuya mediana es {number(s['peer_median'], 2)}")
        name = html.escape(found[0].get("thematic_line_name") or line_id)
        head = f"<strong>{name}</strong> ({html.escape(line_id)})"
        if len(reasons) == 1:
            items.append(f"<li>{head}: {reasons[0]}.</li>")
        else:
            items.append(f"<li>{head}, por {len(reasons)} reglas:<ul>"
                         + "".join(f"<li>{r}.</li>" for r in reasons) + "</ul></li>")
    return "<ul>" + "".join(items) + "</ul>"


def sheet_html(conn, row: dict, sample: bool, boundaries=None) -> str:
    from sinfonia.report import SAMPLE_BANNER, SAMPLE_DETAIL, STYLE, maps, territory

    year = row["prioritisation_year"]
    name = place_name(row["municipality_name"]) or row["municipality_id"]
    department = place_name(row["department_name"]) or ""
    line_names = dict(conn.execute("select thematic_line_id, thematic_line_name from marts.dim_thematic_line"))
    series = trends(conn, row)
    banner = (f'<div class="banner" role="alert">{SAMPLE_BANNER}<small>{html.escape(SAMPLE_DETAIL)}</small></div>'
              if sample else "")
    pdet = f"Sí, subregión {html.escape(row['pdet_subregion'] or '')}" if row["is_pdet"] else "No"
    from sinfonia.report.spanish import generated_at

    stamp = generated_at()
    return f"""<!DOCTYPE html>
<html lang="es"><head><meta charset="utf-8">{CSP_META}
<title>Ficha de caracterización · {html.escape(name)} ({row['municipality_id']}) · {year}</title>
<style>{STYLE}{maps.STYLE} {PRINT_STYLE}</style></head>
<body>
{banner}
<h1>Ficha de caracterización: {html.escape(name)}, {html.escape(department)}</h1>
<p class="note">ESAP, Estrategia de Asistencia Técnica Territorial. Priorización {year}, con cifras publicadas
hasta el {row['as_of_date']:%d/%m/%Y}. Generada el {stamp} desde <code>{MART}</code>.</p>
<section><h2>Identificación</h2>
<table><tbody>
<tr><th>Código DIVIPOLA</th><td>{row['municipality_id']}</td></tr>
<tr><th>Departamento</th><td>{html.escape(department)} ({row['department_id']})</td></tr>
<tr><th>Dirección territorial</th><td>{html.escape(row['directorate_name'] or '')} ({html.escape(row['directorate_id'] or '')})</td></tr>
<tr><th>PDET</th><td>{pdet}</td></tr>
<tr><th>Categoría vigente</th><td>{html.escape(row['category'] or MISSING)}</td></tr>
<tr><th>Grupo de capacidades (DNP)</th><td>{html.escape(row['capacity_group'] or MISSING)}</td></tr>
</tbody></table>
{territory.sheet_map(conn, row, sample, boundaries)}</section>
<section><h2>Por qué está (o no) en la lista</h2>{_prioritisation_html(row, year)}</section>
<section><h2>Indicadores frente a su grupo de capacidades</h2>
<p class="note">Pares: los municipios del mismo grupo de capacidades con dato del mismo indicador y año.
El percentil (0 a 100) ubica al municipio entre ellos.</p>
{_indicator_table(row)}
{_trend_figure(series, name, row['capacity_group']) if series else ''}</section>
<section><h2>Lo que la ESAP ya hizo</h2>{_history_html(row, line_names)}</section>
<section><h2>Líneas temáticas sugeridas</h2>
<p class="note">Sugeridas por la tabla de reglas de la Oficina de Planeación
(<code>line_suggestion_rules</code>); la alcaldía elige la línea en el Plan de Acción Municipal.</p>
{_suggestions_html(row)}</section>
{banner}
</body></html>
"""  # noqa: E501 - the page's HTML, one table row a line


def build(dsn: str | None, out: Path, municipality: str | None = None, directorate: str | None = None,
          year: int | None = None, pdf: bool = True, progress=print, sources: Path | str | None = None) -> list[Path]:
    """Write one sheet per municipality asked for (HTML, and PDF when Chromium is there) and an index.
    ``sources``: a sources folder whose ``mgn/`` holds DANE's boundaries for the sheets' maps."""
    from sinfonia.report import is_sample_data, maps

    if bool(municipality) == bool(directorate):
        raise FichaError("give either --municipality CODE or --directorate CODE")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    browser = chromium() if pdf else None
    if pdf and browser is None:
        progress("Chromium is not installed: writing the HTML sheets only (no PDF)")
    written: list[Path] = []
    entries = []
    # One browser prints every sheet of the batch (its start was most of a one-page print), in a
    # thread of its own: Chromium prints a sheet while this process draws the next one's charts.
    with db.connect(dsn, autocommit=True) as conn, ExitStack() as stack:
        year, rows = resolve(conn, municipality, directorate, year)  # a request that cannot be served starts no browser
        printer = stack.enter_context(Printer(browser)) if browser else None
        printing = stack.enter_context(ThreadPoolExecutor(max_workers=1, thread_name_prefix="sinfonia-printer"))
        sample = is_sample_data(conn)
        boundaries = maps.load_boundaries(sources)  # read once for every sheet
        failed: list[str] = []
        began = time.monotonic()

        def written_or_failed(i: int, row: dict, stem: str, printed: Future | None, error: Exception | None) -> None:
            """Account for sheet ``i`` once its PDF is printed (or it failed): one line each, in order."""
            page, label = out / f"{stem}.html", f"{row['municipality_id']} {place_name(row['municipality_name'])}"
            try:
                if error is not None:
                    raise error
                if printed is not None:
                    printed.result()
            except Exception as exc:  # noqa: BLE001 - every sheet is tried; the failures are raised below
                page.unlink(missing_ok=True)
                failed.append(f"{label}: {type(exc).__name__}: {str(exc).strip()[:300]}")
                progress(f"  [{i}/{len(rows)}] {label}: NOT WRITTEN ({failed[-1].split(': ', 1)[1]})")
                return
            written.append(page)
            if printer:
                written.append(out / f"{stem}.pdf")
            entries.append((row, stem))
            progress(f"  [{i}/{len(rows)}] {label}" + _time_left(time.monotonic() - began, i, len(rows)))

        previous = None  # the sheet being printed while the next is drawn
        for i, row in enumerate(rows, 1):
            stem = f"ficha_{row['municipality_id']}_{year}"
            page = out / f"{stem}.html"
            printed, error = None, None
            try:  # one sheet that cannot be written does not stop the batch: it is named at the end
                page.write_text(sheet_html(conn, row, sample, boundaries), encoding="utf-8")
                if printer:
                    printed = printing.submit(printer.print, page, out / f"{stem}.pdf")
            except Exception as exc:  # noqa: BLE001 - accounted for in order, below
                error = exc
            if previous:
                written_or_failed(*previous)
            previous = (i, row, stem, printed, error)
        if previous:
            written_or_failed(*previous)
        index = write_index(conn, out, sample)
    written.append(index)
    progress(f"{len(entries)} sheet(s) for {year} written to {out}; the index ({index}) lists every sheet of the "
             "folder")
    if failed:
        raise FichaError(f"{len(failed)} of {len(rows)} sheet(s) not written (the others are in {out}): "
                         + "; ".join(failed))
    return written


def _time_left(elapsed: float, done: int, total: int) -> str:
    """`` (about N min left)`` from the average time of the sheets done; empty when none is left."""
    left = elapsed / done * (total - done)
    if done >= total:
        return ""
    return f" (about {max(1, round(left / 60))} min left)" if left >= 90 else f" (about {left:.0f} s left)"


SHEET_NAME = re.compile(r"^ficha_(\d{5})_(\d{4})\.html$")


def write_index(conn, out: Path, sample: bool) -> Path:
    """``out/index.html``: every sheet in the folder (those written earlier too), by year (latest
    first), directorate and rank, with the synthetic-data banner when the data are the sample's."""
    from sinfonia.report import SAMPLE_BANNER, SAMPLE_DETAIL, STYLE

    found = sorted({(int(m[2]), m[1]) for f in out.iterdir() if (m := SHEET_NAME.match(f.name))})
    rows = _rows(conn, sql.SQL(
        "select p.* from {} p join unnest(%s::int[], %s::text[]) as f(y, m) "
        "on p.prioritisation_year = f.y and p.municipality_id = f.m "
        "order by p.prioritisation_year desc, p.directorate_id, p.directorate_rank nulls last, p.municipality_id"
    ).format(_MART), ([y for y, _ in found], [m for _, m in found])) if found else []
    known = {(r["prioritisation_year"], r["municipality_id"]) for r in rows}
    body = []
    for r in rows:
        stem = f"ficha_{r['municipality_id']}_{r['prioritisation_year']}"
        pdf = f"<a href=\"{stem}.pdf\">PDF</a>" if (out / f"{stem}.pdf").exists() else MISSING
        body.append(
            f"<tr><td class=\"num\">{r['prioritisation_year']}</td><td>{html.escape(r['directorate_id'] or '')}</td>"
            f"<td class=\"num\">{number(r['directorate_rank'])}</td><td>{r['municipality_id']}</td>"
            f"<td><a href=\"{stem}.html\">{html.escape(place_name(r['municipality_name']) or '')}</a></td>"
            f"<td>{html.escape(place_name(r['department_name']) or '')}</td>{_td(r['need_score'])}"
            f"<td>{'Sí' if r['is_selected'] else 'No'}</td><td>{pdf}</td></tr>")
    for y, m in found:  # a sheet whose snapshot was removed since: still listed, said so
        if (y, m) not in known:
            body.append(f"<tr><td class=\"num\">{y}</td><td colspan=\"3\">{m}</td><td><a href=\"ficha_{m}_{y}.html\">"
                        f"ficha_{m}_{y}.html</a></td><td colspan=\"4\">ya no está en la priorización del almacén"
                        "</td></tr>")
    banner = (f'<div class="banner" role="alert">{SAMPLE_BANNER}<small>{html.escape(SAMPLE_DETAIL)}</small></div>'
              if sample else "")
    years = sorted({y for y, _ in found}, reverse=True)
    index = out / "index.html"
    index.write_text(f"""<!DOCTYPE html><html lang="es"><head><meta charset="utf-8">
<title>Fichas de caracterización</title><style>{STYLE}</style></head><body>
{banner}
<h1>Fichas de caracterización</h1>
<p>{number(len(found))} fichas en esta carpeta (priorización {', '.join(map(str, years)) or MISSING}), por año,
dirección territorial y puesto en la dirección.</p>
<table><thead><tr><th class="num">Año</th><th>Dirección</th><th class="num">Puesto en la dirección</th><th>Código</th>
<th>Municipio</th><th>Departamento</th><th class="num">Puntaje de necesidad</th><th>Seleccionado</th><th>PDF</th></tr>
</thead><tbody>{''.join(body)}</tbody></table>
{banner}
</body></html>
""", encoding="utf-8")
    return index
