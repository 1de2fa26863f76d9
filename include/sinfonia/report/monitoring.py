"""Monitoring section of the report (Spanish): the labels' leaderboard and coverage charts.

``section(conn)`` reads only published marts (``marts.mart_directorate_playlist``,
``marts.mart_coverage``, ``marts.mart_team_inclusion``, ``marts.mart_open_work``,
``marts.dim_territorial_directorate``) and
returns an HTML fragment; charts are matplotlib PNGs (Agg backend) embedded as base64 ``<img>``.
Nothing person-level is read: the inclusion figure is the suppressed share of the mart.
"""

from __future__ import annotations

import base64
import io
from html import escape

from sinfonia.report.spanish import axis_format, number, percent

BLUE, ORANGE, GREY = "#1f4e79", "#e07b24", "#9aa5b1"
_num, _pct = number, percent  # Colombian format: 1.234,5 and 66,7 %

# How each national coverage series is drawn: line style, marker and size differ, so that two
# series with the same values stay visible one over the other.
SERIES_STYLE = (
    {"color": BLUE, "linestyle": "-", "linewidth": 4, "marker": "o", "markersize": 10, "alpha": .55},
    {"color": ORANGE, "linestyle": "--", "linewidth": 2, "marker": "s", "markersize": 6},
    {"color": "#333333", "linestyle": ":", "linewidth": 1.5, "marker": "^", "markersize": 5},
)


def _png(fig, alt: str = "", caption: str = "") -> str:
    """A figure as an embedded PNG with its alt text (what the chart shows) and caption."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    img = f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'
    return f"<figure>{img}<figcaption>{escape(caption)}</figcaption></figure>" if caption else img


def _figure(height: float):
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # names from data are text, never mathtext ($…$)
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(8, height))
    ax.spines[["top", "right"]].set_visible(False)
    return plt, fig, ax


def _has(conn, table: str) -> bool:
    return conn.execute("select to_regclass(%s)", (f"marts.{table}",)).fetchone()[0] is not None


def _rows(conn, query: str, params=()) -> list[dict]:
    cur = conn.execute(query, params)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def leaderboard(conn, year: int) -> list[dict]:
    return _rows(conn, """
        select p.*, d.label_name, d.directorate_name
        from marts.mart_directorate_playlist p
        join marts.dim_territorial_directorate d using (directorate_id)
        where p.year = %s order by p.rank""", (year,))


RULES = {
    "relative": ("Los puntos (0 a 100) miden a cada disquera frente a su propia meta, no por su tamaño: "
                 "50 % por el cumplimiento de la lista (entregadas sobre la meta, hasta el 100 %), 30 % por "
                 "la entrega a tiempo (no después de la fecha programada, sobre las entregadas) y 20 % por la "
                 "calidad media (de 1 a 5). Sin meta o sin entregas, esa parte suma cero."),
    "absolute": ("Los puntos crecen con el número de canciones: 10 por canción entregada, 5 más si se "
                 "entregó a tiempo (no después de la fecha programada), 2 por cada punto de calidad por "
                 "encima de 3, y 25 al cumplir la lista."),
}
TIES = "En caso de empate decide la entrega a tiempo, luego la calidad media."
# The strategy's music metaphor, beside the official names it stands for.
GLOSSARY = ("<p>La estrategia usa una metáfora musical: cada <strong>dirección territorial</strong> es una "
            "<em>disquera</em> (la columna «Disquera» da el nombre que eligió; «Dirección», su código oficial), "
            "cada <strong>asistencia técnica</strong> es una <em>canción</em> y la <strong>meta del año</strong> "
            "(la suma de sus metas por línea temática) es su <em>lista de reproducción</em>.</p>")


def _leaderboard_html(rows: list[dict], year: int) -> str:
    head = ("Posición", "Disquera", "Dirección", "Lista (meta)", "Entregadas", "Cumplimiento",
            "En curso", "Canceladas", "A tiempo", "Calidad media", "Satisfacción media", "Puntos")
    numeric = {0, *range(3, len(head))}
    body = "".join(
        "<tr>" + "".join(f"<td class=num>{c}</td>" if k in numeric else f"<td>{c}</td>" for k, c in enumerate((
            r["rank"], escape(r["label_name"]),
            f'<abbr title="{escape(r["directorate_name"])}">{escape(r["directorate_id"])}</abbr>',
            _num(r["goal"]), _num(r["delivered"]), _pct(r.get("goal_completion")), _num(r["in_progress"]),
            _num(r["cancelled"]), _pct(r["on_time_rate"]), _num(r["mean_quality"], 2),
            _num(r["mean_satisfaction"], 2), _num(r["points"], 1),
        ))) + "</tr>"
        for r in rows
    )
    legend = "".join(f"<li><strong>{escape(r['directorate_id'])}</strong>: {escape(r['directorate_name'])}</li>"
                     for r in sorted(rows, key=lambda r: r["directorate_id"]))
    return (f'<table class="leaderboard"><caption>Tabla de posiciones de las disqueras, vigencia {year}'
            "</caption><thead><tr>"
            + "".join(f"<th class=num>{h}</th>" if k in numeric else f"<th>{h}</th>" for k, h in enumerate(head))
            + f"</tr></thead><tbody>{body}</tbody></table>"
            f'<details class="codigos"><summary>Códigos de las direcciones territoriales</summary>'
            f'<ul class="codigos">{legend}</ul></details>')


def _points_chart(rows: list[dict], year: int) -> str:
    plt, fig, ax = _figure(0.35 * len(rows) + 1)
    ordered = list(reversed(rows))
    labels = [f"{r['label_name']} ({r['directorate_id']})" for r in ordered]
    ax.barh(labels, [float(r["points"]) for r in ordered], color=BLUE)
    ax.set_xlabel("Puntos")
    ax.set_title(f"Puntos por disquera, vigencia {year}")
    axis_format(ax.xaxis)
    scores = ", ".join(f"{r['label_name']} {_num(r['points'], 1)}" for r in rows)
    alt = (f"Barras horizontales de los puntos de las {len(rows)} disqueras en {year}, "
           f"de la primera a la última: {scores}.")
    html = _png(fig, alt)
    plt.close(fig)
    return html


def _goal_chart(rows: list[dict], year: int) -> str:
    plt, fig, ax = _figure(0.35 * len(rows) + 1)
    ordered = list(reversed(rows))
    labels = [f"{r['label_name']} ({r['directorate_id']})" for r in ordered]
    ax.barh(labels, [float(r["goal"] or 0) for r in ordered], color=GREY, label="Lista (meta)")
    ax.barh(labels, [float(r["delivered"]) for r in ordered], color=ORANGE, height=0.5, label="Entregadas")
    ax.set_xlabel("Asistencias (canciones)")
    ax.set_title(f"Canciones entregadas frente a la lista, vigencia {year}")
    ax.legend(loc="lower right", frameon=False)
    axis_format(ax.xaxis)
    alt = (f"Barras horizontales por disquera en {year}: la meta (gris) y las canciones entregadas (naranja). "
           + "; ".join(f"{r['label_name']}: {_num(r['delivered'])} de {_num(r['goal'])}" for r in rows) + ".")
    html = _png(fig, alt)
    plt.close(fig)
    return html


def _national_trend(national: list[dict]) -> str:
    """The national coverage per year: one line per series; series with equal values are drawn in
    different styles and named as equal in the legend, so none hides another."""
    series = [("municipalities_reached", "Municipios"), ("pdet_reached", "Municipios PDET"),
              ("category_5_6_reached", "Municipios de categoría 5 y 6")]
    years = [int(r["year"]) for r in national]
    values = {key: [int(r[key] or 0) for r in national] for key, _ in series}
    plt, fig, ax = _figure(3)
    ax.set_xticks(years, [str(y) for y in years])  # one tick per year, no 2023.5
    notes = []
    for k, (key, label) in enumerate(series):
        same = next((other for other, _ in series[:k] if values[other] == values[key]), None)
        if same is not None:
            twin = dict(series)[same]
            label = f"{label} (igual a «{twin}»: líneas superpuestas)"
            notes.append(f"«{dict(series)[key]}» coincide con «{twin}» en todas las vigencias")
        ax.plot(years, values[key], label=label, zorder=3 + k, **SERIES_STYLE[k])
    ax.set_ylim(bottom=0)
    ax.set_ylabel("Municipios alcanzados")
    ax.set_title("Cobertura nacional por vigencia")
    axis_format(ax.yaxis)
    ax.legend(frameon=False, fontsize=8)
    alt = ("Líneas de la cobertura nacional por vigencia: " + "; ".join(
        f"{r['year']}: {_num(r['municipalities_reached'])} municipios, {_num(r['pdet_reached'])} PDET, "
        f"{_num(r['category_5_6_reached'])} de categoría 5 y 6" for r in national) + ".")
    caption = ("Cada serie tiene su trazo y su marcador. " + ("; ".join(notes) + ": se dibujan una sobre otra."
                                                             if notes else ""))
    html = _png(fig, alt, caption.strip())
    plt.close(fig)
    return html


def _coverage_charts(conn, year: int) -> tuple[str, list[dict]]:
    national = _rows(conn, """select * from marts.mart_coverage where scope = 'national' order by year""")
    by_directorate = _rows(conn, """select d.label_name, c.scope_id as directorate_id, c.municipalities_reached,
        c.municipalities_in_scope, c.share_of_municipalities
        from marts.mart_coverage c join marts.dim_territorial_directorate d on d.directorate_id = c.scope_id
        where c.scope = 'directorate' and c.year = %s order by c.share_of_municipalities, d.label_name""", (year,))
    trend = _national_trend(national)
    plt, fig, ax = _figure(0.35 * max(len(by_directorate), 1) + 1)
    ax.barh([f"{r['label_name']} ({r['directorate_id']})" for r in by_directorate],
            [float(r["share_of_municipalities"] or 0) * 100 for r in by_directorate], color=BLUE)
    ax.set_xlabel("% de los municipios de la dirección territorial alcanzados")
    ax.set_title(f"Cobertura por disquera, vigencia {year}")
    axis_format(ax.xaxis, suffix=" %")
    alt = (f"Barras horizontales del porcentaje de municipios alcanzados por cada disquera en {year}, de menor "
           "a mayor: " + "; ".join(f"{r['label_name']} {_pct(r['share_of_municipalities'])} "
                                   f"({_num(r['municipalities_reached'])} de {_num(r['municipalities_in_scope'])})"
                                   for r in by_directorate) + ".")
    bars = _png(fig, alt)
    plt.close(fig)
    return trend + bars, national


def _coverage_summary(latest: dict, year: int) -> str:
    text = (f"<p>En la vigencia {year} se alcanzaron {_num(latest['municipalities_reached'])} municipios "
            f"({_pct(latest['share_of_municipalities'])} del universo) en "
            f"{_num(latest['departments_reached'])} departamentos")
    if latest.get("pdet_in_scope") is None:  # a mart published before the denominators existed
        return (text + f"; {_num(latest['pdet_reached'])} son municipios PDET y "
                f"{_num(latest['category_5_6_reached'])} de categoría 5 o 6.</p>")
    return (text + f"; {_num(latest['pdet_reached'])} de los {_num(latest['pdet_in_scope'])} municipios PDET "
            f"({_pct(latest['share_of_pdet'])}) y {_num(latest['category_5_6_reached'])} de los "
            f"{_num(latest['category_5_6_in_scope'])} de categoría 5 o 6 vigente "
            f"({_pct(latest['share_of_category_5_6'])}).</p>")


def _inclusion_html(conn) -> str:
    if not _has(conn, "mart_team_inclusion"):
        return ""
    rows = _rows(conn, """select year, share_underrepresented from marts.mart_team_inclusion
        where scope = 'national' order by year""")
    if not rows:
        return ""
    items = "".join(
        f"<li>Vigencia {r['year']}: {_pct(r['share_underrepresented'])}"
        + (" (reservado: menos de 5 personas)" if r["share_underrepresented"] is None else "") + "</li>"
        for r in rows
    )
    return ("<h3>Inclusión en los equipos</h3><p>Proporción de profesionales que pertenecen a grupos "
            "subrepresentados (afrodescendientes, raizales y palenqueros, indígenas, LGBTIQ+, migrantes, "
            "víctimas del conflicto, personas con discapacidad). Cifras agregadas con reserva estadística "
            f"(Ley 1581 de 2012): no se publica ningún conteo menor de 5 personas.</p><ul>{items}</ul>")


def open_work_section(conn, sample: bool = False, boundaries=None) -> str:
    """The operational level (Spanish): the latest open-work list per directorate, its map by
    municipality and its weekly trend, from ``marts.mart_open_work``; empty when the mart is not
    published."""
    from sinfonia.report import territory

    if not _has(conn, "mart_open_work"):
        return ""
    per_directorate = _rows(conn, """
        select d.label_name, d.directorate_name, max(w.as_of_date) as as_of_date,
            count(*) filter (where w.is_open) as open_items,
            count(*) filter (where w.flag = 'overdue') as overdue,
            count(*) filter (where w.flag = 'due_soon_without_action_plan') as due_soon,
            count(*) filter (where w.flag = 'delivered_without_satisfaction') as unscored
        from marts.mart_open_work w
        join marts.dim_territorial_directorate d using (directorate_id)
        where w.is_latest_week
        group by d.label_name, d.directorate_name
        order by overdue desc, due_soon desc, unscored desc, d.label_name""")
    weeks = _rows(conn, """
        select export_week, as_of_date, count(*) filter (where is_open) as open_items,
            count(*) filter (where flag = 'overdue') as overdue,
            count(*) filter (where flag = 'due_soon_without_action_plan') as due_soon,
            count(*) filter (where flag = 'delivered_without_satisfaction') as unscored
        from marts.mart_open_work group by export_week, as_of_date order by export_week desc limit 8""")
    if not weeks:
        return ("<h3>Trabajo abierto</h3><p>No hay asistencias abiertas ni entregas pendientes de "
                "calificación en la última exportación.</p>")
    head = ("Disquera", "Dirección Territorial", "Abiertas", "Vencidas", "Por vencer sin plan de acción",
            "Entregadas sin calificación de satisfacción")
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in (
        escape(r["label_name"]), escape(r["directorate_name"]), _num(r["open_items"]), _num(r["overdue"]),
        _num(r["due_soon"]), _num(r["unscored"]))) + "</tr>" for r in per_directorate)
    trend_head = ("Semana", "Fecha de corte", "Abiertas", "Vencidas", "Por vencer sin plan de acción",
                  "Entregadas sin calificación de satisfacción")
    trend = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in (
        r["export_week"].strftime("%d/%m/%Y"), r["as_of_date"].strftime("%d/%m/%Y"), _num(r["open_items"]),
        _num(r["overdue"]), _num(r["due_soon"]), _num(r["unscored"]))) + "</tr>" for r in weeks)
    as_of = weeks[0]["as_of_date"].strftime("%d/%m/%Y")
    return (
        '<h3 id="trabajo-abierto">Trabajo abierto (nivel operativo)</h3>'
        f"<p>Asistencias ni entregadas ni canceladas según la exportación ESAP del {as_of}, y entregas que "
        "aún no tienen calificación de satisfacción. Alertas: <b>vencida</b> (la fecha de entrega "
        "programada ya pasó), <b>por vencer sin plan de acción</b> (vence en los próximos días y no hay "
        "plan de acción) y <b>entregada sin calificación de satisfacción</b> (pasados los días fijados "
        "desde la entrega). Los plazos se configuran en las variables dbt <code>open_work_*</code>; el "
        "«hoy» de cada semana es la fecha de su última exportación.</p>"
        '<table class="open-work"><caption>Trabajo abierto por disquera, corte del ' + as_of + "</caption>"
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + f"</tr></thead><tbody>{body}</tbody></table>"
        + territory.open_work_map(conn, sample, boundaries)
        + '<table class="open-work-trend"><caption>Evolución semanal del trabajo abierto (últimas '
        "semanas con exportación)</caption><thead><tr>" + "".join(f"<th>{h}</th>" for h in trend_head)
        + f"</tr></thead><tbody>{trend}</tbody></table>"
    )


def section(conn, sample: bool = False, boundaries=None) -> str:
    """The monitoring section as an HTML fragment (Spanish); ``sample`` and ``boundaries`` for its map."""
    if not (_has(conn, "mart_directorate_playlist") and _has(conn, "mart_coverage")):
        return ('<section id="seguimiento"><h2>Seguimiento de las disqueras</h2>'
                "<p>Aún no hay marts de seguimiento publicados.</p></section>")
    year = conn.execute("select max(year) from marts.mart_directorate_playlist").fetchone()[0]
    if year is None:
        return ('<section id="seguimiento"><h2>Seguimiento de las disqueras</h2>'
                "<p>No hay asistencias ni metas publicadas.</p></section>")
    rows = leaderboard(conn, year)
    coverage, national = _coverage_charts(conn, year)
    latest = next((r for r in national if r["year"] == year), None)
    summary = _coverage_summary(latest, year) if latest else ""
    rule = RULES.get(rows[0].get("scoring_rule", "absolute") if rows else "absolute", RULES["absolute"])
    return (
        '<section id="seguimiento"><h2>Seguimiento de las direcciones territoriales (las disqueras)</h2>'
        + GLOSSARY + f'<p class="regla">{escape(rule)} {TIES}</p>'
        + _leaderboard_html(rows, year) + _points_chart(rows, year) + _goal_chart(rows, year)
        + "<h3>Cobertura</h3><p>Un municipio se cuenta como alcanzado en una vigencia cuando tiene al "
        "menos una asistencia de esa vigencia que no fue cancelada.</p>" + summary + coverage
        + _inclusion_html(conn) + open_work_section(conn, sample, boundaries) + "</section>"
    )
