"""The prioritisation section of the report and the prioritised list as XLSX (in Spanish).

Reads the latest snapshot of ``marts.mart_prioritisation``. Charts: the need score of the
eligible municipalities by directorate; selected municipalities per directorate against the
goal; the contribution of each indicator to the score at the top of the national list.
"""

from __future__ import annotations

import html
from pathlib import Path

from psycopg import sql

from sinfonia.report.spanish import axis_format, number, percent, place_name
from sinfonia.report.workbook import DATE, DECIMAL_1, DECIMAL_2, INTEGER, PERCENT, Column

INDICATOR_LABELS = {"mdm": "MDM", "idf": "IDF", "imrc": "IMRC", "ipm": "IPM"}
COLORS = {"mdm": "#1f5f99", "idf": "#e39b2d", "imrc": "#4f9a5b", "ipm": "#b5443c"}
TOP = 20
NATIONAL_SHEET = "Nacional"
YEAR = "0"  # a year is a number without a thousands point


COLUMNS = [
    Column("directorate_rank", "Posición en la dirección", INTEGER),
    Column("national_rank", "Posición nacional", INTEGER),
    Column("municipality_id", "Código DANE"), Column("municipality_name", "Municipio"),
    Column("department_name", "Departamento"), Column("directorate_id", "Código de la dirección"),
    Column("directorate_name", "Dirección territorial"), Column("is_pdet", "PDET"),
    Column("category", "Categoría", INTEGER), Column("is_eligible", "Elegible"),
    Column("eligibility_reason", "Motivo"), Column("is_selected", "Seleccionado"),
    Column("need_score", "Puntaje de necesidad", DECIMAL_1),
    Column("tier", "Quintil (1 = mayor necesidad)", INTEGER),
    *[Column(f"{i}_{k}", f"{INDICATOR_LABELS[i]} {label}", fmt) for i in INDICATOR_LABELS
      for k, label, fmt in (("value", "valor", DECIMAL_2), ("year", "año", YEAR),
                            ("percentile", "percentil", DECIMAL_1), ("contribution", "aporte", DECIMAL_2))],
    Column("indicators_missing", "Indicadores faltantes"), Column("as_of_date", "Fecha de corte", DATE),
    Column("selection_probability", "Probabilidad de selección (simulación)", PERCENT),
    Column("rank_p05", "Posición nacional plausible: mejor (p5)", INTEGER),
    Column("rank_p95", "Posición nacional plausible: peor (p95)", INTEGER),
    Column("is_uncertain", "Selección incierta (probabilidad entre 20 % y 80 %)"),
]
CERTAINTY = ("selection_probability", "rank_median", "rank_p05", "rank_p95", "is_uncertain", "draws", "seed")


def latest_year(conn) -> int | None:
    """The report's default year: the latest snapshot of a year with goals (a year snapshotted
    without goals selects nobody), else the latest snapshot."""
    if conn.execute("select to_regclass('marts.mart_prioritisation')").fetchone()[0] is None:
        return None
    return conn.execute("""select coalesce(max(prioritisation_year) filter (where directorate_goal > 0),
                                           max(prioritisation_year))
                             from marts.mart_prioritisation""").fetchone()[0]


def frame(conn, year: int):
    """The year's snapshot, names in Spanish title case, with each directorate's name."""
    import pandas as pd

    has_dim = conn.execute("select to_regclass('marts.dim_territorial_directorate')").fetchone()[0]
    name = "coalesce(d.directorate_name, p.directorate_id)" if has_dim else "p.directorate_id"
    join = "left join marts.dim_territorial_directorate d using (directorate_id)" if has_dim else ""
    if conn.execute("select to_regclass('marts.mart_prioritisation_certainty')").fetchone()[0]:
        certainty = sql.SQL(", ").join(sql.Identifier("c", c) for c in CERTAINTY)
        join += " left join marts.mart_prioritisation_certainty c using (prioritisation_year, municipality_id)"
    else:  # a warehouse published before the certainty existed
        certainty = sql.SQL(", ").join(sql.SQL("null as {}").format(sql.Identifier(c)) for c in CERTAINTY)
    cur = conn.execute(sql.SQL("select p.*, {} as directorate_name, {} from marts.mart_prioritisation p "
                               "{} where p.prioritisation_year = %s order by p.directorate_id, "
                               "p.directorate_rank nulls last, p.municipality_id")
                       .format(sql.SQL(name), certainty, sql.SQL(join)), (year,))
    df = pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])
    for column in ("municipality_name", "department_name"):
        df[column] = df[column].map(place_name)
    return df


def top_of_the_list(df, n: int = TOP):
    """The ``n`` ranked municipalities of highest need: national rank 1 first."""
    return df[df.national_rank.notna()].sort_values("national_rank", ascending=True).head(n)


def _score_by_directorate(df):
    import matplotlib.pyplot as plt

    plt.rcParams["text.parse_math"] = False  # names from data are text, never mathtext ($…$)

    e = df[df.is_eligible & df.need_score.notna()]
    order = e.groupby("directorate_id").need_score.median().sort_values().index.tolist()
    fig, ax = plt.subplots(figsize=(9, 0.42 * max(len(order), 4) + 1.2))
    ax.boxplot([e[e.directorate_id == d].need_score.astype(float) for d in order], orientation="horizontal",
               tick_labels=order, showfliers=False, patch_artist=True,
               boxprops={"facecolor": "#d7e3ee"}, medianprops={"color": "#0b3d63"})
    for k, d in enumerate(order, start=1):
        sub = e[e.directorate_id == d]
        ax.scatter(sub.need_score.astype(float), [k] * len(sub), s=12, alpha=.6,
                   c=["#b00020" if s else "#607080" for s in sub.is_selected])
    ax.set_xlabel("Puntaje de necesidad (0–100; mayor = más necesidad)")
    ax.set_ylabel("Dirección territorial (código)")
    ax.set_title("Puntaje de necesidad de los municipios elegibles (rojo: seleccionados)")
    ax.set_xlim(0, 100)
    axis_format(ax.xaxis)
    return fig, order


def _selected_vs_goal(df):
    import matplotlib.pyplot as plt

    plt.rcParams["text.parse_math"] = False  # names from data are text, never mathtext ($…$)

    g = df.groupby("directorate_id").agg(eligible=("is_eligible", "sum"), selected=("is_selected", "sum"),
                                         goal=("directorate_goal", "max")).sort_index(ascending=False)
    fig, ax = plt.subplots(figsize=(9, 0.42 * max(len(g), 4) + 1.2))
    y = range(len(g))
    ax.barh(y, g.eligible, color="#e3e8ee", label="Municipios elegibles")
    ax.barh(y, g.selected, height=.5, color="#1f5f99", label="Seleccionados")
    ax.scatter(g.goal, y, marker="|", s=300, color="#b00020", linewidths=3, label="Meta del año", zorder=3)
    ax.set_yticks(list(y), g.index)
    ax.set_xlabel("Municipios")
    ax.set_ylabel("Dirección territorial (código)")
    ax.set_title("Municipios seleccionados por dirección frente a su meta")
    ax.legend(loc="lower right", fontsize=8)
    axis_format(ax.xaxis)
    return fig, g


def _contributions(df):
    import matplotlib.pyplot as plt

    plt.rcParams["text.parse_math"] = False  # names from data are text, never mathtext ($…$)

    top = top_of_the_list(df).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.36 * max(len(top), 4) + 1.2))
    left = [0.0] * len(top)
    labels = [f"{int(r.national_rank)}. {r.municipality_name} ({r.department_name})" for r in top.itertuples()]
    for i, label in INDICATOR_LABELS.items():
        values = top[f"{i}_contribution"].fillna(0).astype(float).tolist()
        ax.barh(range(len(top)), values, left=left, color=COLORS[i], label=label)
        left = [a + b for a, b in zip(left, values, strict=False)]
    ax.set_yticks(range(len(top)), labels, fontsize=8)
    ax.set_xlabel("Aporte al puntaje de necesidad")
    ax.set_title(f"Aporte de cada indicador: los {len(top)} primeros de la lista nacional")
    ax.legend(loc="lower right", fontsize=8)
    axis_format(ax.xaxis)
    return fig


def _text(v) -> str:
    """A value as escaped text of a table cell: booleans Sí/No, numbers in Colombian format."""
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if isinstance(v, bool):
        return "Sí" if v else "No"
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    if isinstance(v, (int, float)):
        return number(v, 0 if isinstance(v, int) else 1)
    return html.escape(str(v))


def directorate_legend(df) -> str:
    """The directorate codes used in the charts and tables, with their names."""
    names = df.groupby("directorate_id").directorate_name.first().sort_index()
    items = "".join(f"<li><strong>{html.escape(str(code))}</strong>: {html.escape(str(name))}</li>"
                    for code, name in names.items())
    return (f'<details class="codigos" open><summary>Códigos de las direcciones territoriales</summary>'
            f'<ul class="codigos">{items}</ul></details>')


def _top_table(df, top) -> str:
    names = df.groupby("directorate_id").directorate_name.first()
    rows = "".join(
        f"<tr><td class=num>{_text(int(r.national_rank))}</td><td>{_text(r.municipality_name)}</td>"
        f"<td>{_text(r.department_name)}</td>"
        f"<td><abbr title=\"{html.escape(str(names.get(r.directorate_id, r.directorate_id)))}\">"
        f"{_text(r.directorate_id)}</abbr></td><td>{_text(r.eligibility_reason)}</td>"
        f"<td class=num>{_text(float(r.need_score))}</td><td class=num>{_text(int(r.tier))}</td>"
        f"<td>{_text(bool(r.is_selected))}</td><td>{_text(r.indicators_missing or '—')}</td></tr>"
        for r in top.itertuples())
    return ('<table class="top-necesidad"><thead><tr><th class=num>Posición nacional</th><th>Municipio</th>'
            "<th>Departamento</th><th>Dirección</th><th>Motivo</th><th class=num>Puntaje de necesidad</th>"
            "<th class=num>Quintil</th><th>Seleccionado</th><th>Indicadores faltantes</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def _certainty_html(df) -> str:
    """How sure the selection is: the Monte Carlo's uncertain selections, named."""
    eligible = df[df.is_eligible.astype(bool)]
    if eligible.empty or eligible.selection_probability.isna().all():
        return ("<h3>Qué tan segura es la selección</h3><p class=note>Este año no tiene análisis de "
                "incertidumbre (la priorización se escribió antes de que existiera).</p>")
    uncertain = eligible[eligible.is_uncertain.fillna(False).astype(bool)].sort_values("national_rank")
    selected_uncertain = int(uncertain.is_selected.sum())
    draws, seed = int(eligible.draws.dropna().iloc[0]), int(eligible.seed.dropna().iloc[0])
    rows = "".join(
        f"<tr><td class=num>{_text(int(r.national_rank))}</td><td>{_text(r.municipality_name)}</td>"
        f"<td>{_text(r.directorate_id)}</td><td>{_text(bool(r.is_selected))}</td>"
        f"<td class=num>{percent(r.selection_probability, 0)}</td>"
        f"<td class=num>{number(r.rank_p05)}–{number(r.rank_p95)}</td></tr>"
        for r in uncertain.itertuples())
    table = ("<table class=incertidumbre><thead><tr><th class=num>Posición nacional</th><th>Municipio</th>"
             "<th>Dirección</th><th>Seleccionado</th><th class=num>Probabilidad de selección</th>"
             f"<th class=num>Posiciones plausibles (5 %–95 %)</th></tr></thead><tbody>{rows}</tbody></table>"
             if rows else "")
    return (
        "<h3>Qué tan segura es la selección</h3>"
        f"<p>La lista depende de decisiones de método: los pesos, la forma de normalizar los índices y la "
        f"edición de cada índice. En {number(draws)} simulaciones (semilla {seed}) se varió cada peso hasta "
        f"un 25 % y se usaron percentiles, mín–máx o puntajes z y, en una de cada cuatro, la edición anterior "
        f"de cada índice. <strong>{number(len(uncertain))} municipios elegibles tienen una selección incierta</strong> "
        f"(probabilidad de quedar seleccionados entre 20 % y 80 %): {number(selected_uncertain)} de ellos están "
        f"hoy seleccionados y {number(len(uncertain) - selected_uncertain)} no. Conviene revisarlos antes de "
        f"comprometer equipos; los demás quedan dentro o fuera en casi todas las simulaciones.</p>" + table)


def section(conn, year: int | None = None, sample: bool = False, boundaries=None) -> str:
    """The section (Spanish); ``sample`` puts the synthetic-data banner on its maps, ``boundaries``
    (``maps.load_boundaries``) draws them with municipality outlines instead of points."""
    from sinfonia.report import figure_html, territory

    year = year or latest_year(conn)
    if year is None:
        return ("<section><h2>Priorización anual</h2><p>Aún no hay una priorización en el almacén: "
                "ejecute <code>sinfonia prioritise --year AAAA</code>.</p></section>")
    df = frame(conn, year)
    eligible, selected = int(df.is_eligible.sum()), int(df.is_selected.sum())
    as_of = df.as_of_date.iloc[0]
    run = conn.execute("select parameters from meta.prioritisation_run where prioritisation_year = %s "
                       "and status = 'written' order by run_id desc limit 1", (year,)).fetchone()
    weights = ", ".join(f"{INDICATOR_LABELS[k]} {number(v, 0 if float(v).is_integer() else 2)}"
                        for k, v in (run[0]["weights"] if run else {}).items())
    top = top_of_the_list(df)
    score_fig, order = _score_by_directorate(df)
    goal_fig, goals = _selected_vs_goal(df)
    highest = (f"; la mediana más alta es la de {order[-1]} ("
               f"{number(df[df.is_eligible & (df.directorate_id == order[-1])].need_score.median(), 1)})"
               if order else "")
    short = [d for d, r in goals.iterrows() if r.goal and r.selected < r.goal]
    first = top.iloc[0] if len(top) else None
    parts = [
        f"<section><h2>Priorización anual {year}</h2>",
        f"<p>Lista de necesidad con corte al {as_of:%d/%m/%Y}: solo se usan cifras publicadas hasta esa fecha. "
        f"De {number(len(df))} municipios, {number(eligible)} son elegibles (PDET o categoría 5 o 6 vigente) y "
        f"{number(selected)} quedan seleccionados dentro de las metas de las direcciones territoriales. "
        f"El puntaje de necesidad es el promedio ponderado de los percentiles de necesidad de MDM "
        f"(100 − valor), IDF (100 − valor), IMRC e IPM entre los elegibles (pesos: {weights or 'iguales'}).</p>",
        _no_goals_html(df, year),
        directorate_legend(df),
        '<h3 id="mapas">La lista en el mapa</h3>',
        territory.list_maps(conn, df, year, sample, boundaries),
        territory.coverage_map(conn, year, sample, boundaries),
        "<h3>Puntaje de necesidad por dirección territorial</h3>",
        figure_html(score_fig,
                    "Diagrama de cajas del puntaje de necesidad (0 a 100) de los municipios elegibles en cada "
                    f"dirección territorial, ordenadas de menor a mayor mediana{highest}; los puntos rojos son "
                    "los municipios seleccionados.",
                    "Distribución del puntaje de los municipios elegibles en cada dirección (códigos arriba)."),
        "<h3>Seleccionados frente a la meta</h3>",
        figure_html(goal_fig,
                    "Barras horizontales por dirección territorial: municipios elegibles, seleccionados y la meta "
                    f"del año. {number(selected)} seleccionados en total"
                    + (f"; no alcanzan su meta por falta de elegibles: {', '.join(short)}." if short else "."),
                    "Barras: elegibles y seleccionados; marca roja: meta del año (suma de las metas de la dirección)."),
        "<h3>Aporte de cada indicador en los primeros de la lista</h3>",
        figure_html(_contributions(df),
                    f"Barras apiladas del aporte de MDM, IDF, IMRC e IPM al puntaje de los {len(top)} municipios de "
                    "mayor necesidad"
                    + (f"; el primero es {first.municipality_name} ({first.department_name}) con "
                       f"{number(first.need_score, 1)} puntos." if first is not None else "."),
                    "Cada barra suma el puntaje de necesidad del municipio."),
        _certainty_html(df),
        f"<h3>Los {len(top)} municipios de mayor necesidad</h3>",
        _top_table(df, top),
        f"<p class=note>La lista completa (hoja «{NATIONAL_SHEET}» y una hoja por dirección territorial) está en "
        f"<a href='priorizacion_{year}.xlsx'>priorizacion_{year}.xlsx</a>.</p></section>",
    ]
    return "\n".join(parts)


def _no_goals_html(df, year: int) -> str:
    """Why a year without goals selects nobody (written on purpose with ``--allow-no-goals``)."""
    if df.directorate_goal.fillna(0).sum() > 0:
        return ""
    return (f"<p class=\"note\"><strong>{year} no tiene metas.</strong> La exportación de metas de la ESAP no trae "
            f"metas de las direcciones territoriales para {year}; esta priorización se escribió a pedido sin ellas: "
            "ordena a los municipios elegibles por necesidad, pero no selecciona ninguno. Cuando se carguen las "
            f"metas, <code>sinfonia prioritise --year {year} --force</code> la rehace con la selección.</p>")


def _sheet(wb, title: str, heading: str, rows, sample: bool) -> None:
    """One sheet: the sample banner (when sample data), a heading, the header with a filter, the rows."""
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from sinfonia.report import SAMPLE_BANNER, SAMPLE_DETAIL
    from sinfonia.report.workbook import category, fit_widths, put

    ws = wb.create_sheet(title=title[:31])
    row = 1
    if sample:
        banner = put(ws, row, 1, f"{SAMPLE_BANNER}: {SAMPLE_DETAIL}")
        banner.font = Font(bold=True, color="FFFFFF")
        banner.fill = PatternFill("solid", fgColor="B00020")
        row += 1
    put(ws, row, 1, heading).font = Font(bold=True, size=12)
    header_row = row + 1
    for k, column in enumerate(COLUMNS, start=1):
        cell = put(ws, header_row, k, column.header)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top",
                                   horizontal="right" if column.number_format else "left")
    for r_index, r in enumerate(rows.itertuples(), start=header_row + 1):
        for k, column in enumerate(COLUMNS, start=1):
            value = getattr(r, column.key)
            put(ws, r_index, k, category(value) if column.key == "category" else value, column.number_format)
    last = get_column_letter(len(COLUMNS))
    ws.freeze_panes = f"A{header_row + 1}"
    ws.auto_filter.ref = f"A{header_row}:{last}{max(header_row + len(rows), header_row + 1)}"
    fit_widths(ws, header_row + 1, {k: c.header for k, c in enumerate(COLUMNS, start=1)})


def write_xlsx(conn, out: Path, sample: bool, year: int | None = None) -> Path | None:
    """The year's list (default ``latest_year``): a national sheet in national rank order, then one
    sheet per directorate in its rank order; the sample banner on every sheet."""
    from openpyxl import Workbook

    year = year or latest_year(conn)
    if year is None:
        return None
    df = frame(conn, year)
    wb = Workbook()
    wb.remove(wb.active)
    as_of = f"{df.as_of_date.iloc[0]:%d/%m/%Y}"
    goals = df.groupby("directorate_id").directorate_goal.max()
    national = df.sort_values(["national_rank", "municipality_id"], na_position="last")
    _sheet(wb, NATIONAL_SHEET, f"Priorización {year} · lista nacional · corte al {as_of} · "
           f"metas de las direcciones: {number(goals.sum())}", national, sample)
    for directorate_id, sub in df.groupby("directorate_id", sort=True):
        _sheet(wb, str(directorate_id), f"Priorización {year} · {directorate_id}: {sub.directorate_name.iloc[0]} · "
               f"corte al {as_of} · meta {number(sub.directorate_goal.max())}", sub, sample)
    path = Path(out) / f"priorizacion_{year}.xlsx"
    wb.save(path)
    return path
