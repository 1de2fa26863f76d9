"""The prioritisation section of the report and the prioritised list as XLSX (in Spanish).

Reads the latest snapshot of ``marts.mart_prioritisation``. Charts: the need score of the
eligible municipalities by directorate; selected municipalities per directorate against the
goal; the contribution of each indicator to the score at the top of the national list.
"""

from __future__ import annotations

import html
from pathlib import Path

INDICATOR_LABELS = {"mdm": "MDM", "idf": "IDF", "imrc": "IMRC", "ipm": "IPM"}
COLORS = {"mdm": "#1f5f99", "idf": "#e39b2d", "imrc": "#4f9a5b", "ipm": "#b5443c"}
TOP = 20

COLUMNS = [  # (column of the mart, header in the sheet)
    ("directorate_rank", "Posición en la dirección"), ("national_rank", "Posición nacional"),
    ("municipality_id", "Código DANE"), ("municipality_name", "Municipio"),
    ("department_name", "Departamento"), ("is_pdet", "PDET"), ("category", "Categoría"),
    ("is_eligible", "Elegible"), ("eligibility_reason", "Motivo"), ("is_selected", "Seleccionado"),
    ("need_score", "Puntaje de necesidad"), ("tier", "Quintil (1 = mayor necesidad)"),
    *[(f"{i}_{k}", f"{INDICATOR_LABELS[i]} {label}") for i in INDICATOR_LABELS
      for k, label in (("value", "valor"), ("year", "año"), ("percentile", "percentil"),
                       ("contribution", "aporte"))],
    ("indicators_missing", "Indicadores faltantes"), ("as_of_date", "Fecha de corte"),
]


def latest_year(conn) -> int | None:
    """The report's default year: the latest snapshot of a year with goals (a year snapshotted
    without goals selects nobody), else the latest snapshot."""
    if conn.execute("select to_regclass('marts.mart_prioritisation')").fetchone()[0] is None:
        return None
    return conn.execute("""select coalesce(max(prioritisation_year) filter (where directorate_goal > 0),
                                           max(prioritisation_year))
                             from marts.mart_prioritisation""").fetchone()[0]


def frame(conn, year: int):
    import pandas as pd

    has_dim = conn.execute("select to_regclass('marts.dim_territorial_directorate')").fetchone()[0]
    name = "coalesce(d.directorate_name, p.directorate_id)" if has_dim else "p.directorate_id"
    join = "left join marts.dim_territorial_directorate d using (directorate_id)" if has_dim else ""
    cur = conn.execute(f"select p.*, {name} as directorate_name from marts.mart_prioritisation p {join} "
                       "where p.prioritisation_year = %s order by p.directorate_id, p.directorate_rank nulls last, "
                       "p.municipality_id", (year,))
    return pd.DataFrame(cur.fetchall(), columns=[c.name for c in cur.description])


def _score_by_directorate(df):
    import matplotlib.pyplot as plt

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
    ax.set_ylabel("Dirección territorial")
    ax.set_title("Puntaje de necesidad de los municipios elegibles (rojo: seleccionados)")
    ax.set_xlim(0, 100)
    return fig


def _selected_vs_goal(df):
    import matplotlib.pyplot as plt

    g = df.groupby("directorate_id").agg(eligible=("is_eligible", "sum"), selected=("is_selected", "sum"),
                                         goal=("directorate_goal", "max")).sort_index(ascending=False)
    fig, ax = plt.subplots(figsize=(9, 0.42 * max(len(g), 4) + 1.2))
    y = range(len(g))
    ax.barh(y, g.eligible, color="#e3e8ee", label="Municipios elegibles")
    ax.barh(y, g.selected, height=.5, color="#1f5f99", label="Seleccionados")
    ax.scatter(g.goal, y, marker="|", s=300, color="#b00020", linewidths=3, label="Meta del año", zorder=3)
    ax.set_yticks(list(y), g.index)
    ax.set_xlabel("Municipios")
    ax.set_title("Municipios seleccionados por dirección frente a su meta")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _contributions(df):
    import matplotlib.pyplot as plt

    top = df[df.national_rank.notna()].sort_values("national_rank").head(TOP).iloc[::-1]
    fig, ax = plt.subplots(figsize=(9, 0.36 * max(len(top), 4) + 1.2))
    left = [0.0] * len(top)
    labels = [f"{int(r.national_rank)}. {r.municipality_name} ({r.department_name})" for r in top.itertuples()]
    for i, label in INDICATOR_LABELS.items():
        values = top[f"{i}_contribution"].fillna(0).astype(float).tolist()
        ax.barh(range(len(top)), values, left=left, color=COLORS[i], label=label)
        left = [a + b for a, b in zip(left, values)]
    ax.set_yticks(range(len(top)), labels, fontsize=8)
    ax.set_xlabel("Aporte al puntaje de necesidad")
    ax.set_title(f"Aporte de cada indicador: los {len(top)} primeros de la lista nacional")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def _fmt(v, digits=1) -> str:
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if v is None or v != v:
        return "—"
    if isinstance(v, bool):
        return "Sí" if v else "No"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return html.escape(str(v))


def section(conn, year: int | None = None) -> str:
    from sinfonia.report import figure_html

    year = year or latest_year(conn)
    if year is None:
        return ("<section><h2>Priorización anual</h2><p>Aún no hay una priorización en el almacén: "
                "ejecute <code>sinfonia prioritise --year AAAA</code>.</p></section>")
    df = frame(conn, year)
    eligible, selected = int(df.is_eligible.sum()), int(df.is_selected.sum())
    as_of = df.as_of_date.iloc[0]
    run = conn.execute("select parameters from meta.prioritisation_run where prioritisation_year = %s "
                       "and status = 'written' order by run_id desc limit 1", (year,)).fetchone()
    weights = ", ".join(f"{INDICATOR_LABELS[k]} {v:g}" for k, v in (run[0]["weights"] if run else {}).items())
    top = df[df.national_rank.notna()].sort_values("national_rank").head(TOP)
    rows = "".join(
        f"<tr><td class=num>{int(r.national_rank)}</td><td>{_fmt(r.municipality_name)}</td>"
        f"<td>{_fmt(r.department_name)}</td><td>{_fmt(r.directorate_id)}</td><td>{_fmt(r.eligibility_reason)}</td>"
        f"<td class=num>{_fmt(r.need_score)}</td><td class=num>{_fmt(r.tier, 0)}</td>"
        f"<td>{_fmt(bool(r.is_selected))}</td><td>{_fmt(r.indicators_missing or '—')}</td></tr>"
        for r in top.itertuples())
    parts = [
        f"<section><h2>Priorización anual {year}</h2>",
        f"<p>Lista de necesidad con corte al {as_of:%d/%m/%Y}: solo se usan cifras publicadas hasta esa fecha. "
        f"De {len(df)} municipios, {eligible} son elegibles (PDET o categoría 5 o 6 vigente) y "
        f"{selected} quedan seleccionados dentro de las metas de las direcciones territoriales. "
        f"El puntaje de necesidad es el promedio ponderado de los percentiles de necesidad de MDM "
        f"(100 − valor), IDF (100 − valor), IMRC e IPM entre los elegibles (pesos: {weights or 'iguales'}).</p>",
        "<h3>Puntaje de necesidad por dirección territorial</h3>",
        figure_html(_score_by_directorate(df), "Puntaje de necesidad por dirección territorial",
                    "Distribución del puntaje de los municipios elegibles en cada dirección."),
        "<h3>Seleccionados frente a la meta</h3>",
        figure_html(_selected_vs_goal(df), "Municipios seleccionados por dirección frente a su meta",
                    "Barras: elegibles y seleccionados; marca roja: meta del año (suma de las metas de la dirección)."),
        "<h3>Aporte de cada indicador en los primeros de la lista</h3>",
        figure_html(_contributions(df), "Aporte de cada indicador al puntaje de necesidad",
                    "Cada barra suma el puntaje de necesidad del municipio."),
        f"<h3>Los {len(top)} municipios de mayor necesidad</h3>",
        "<table><tr><th>Posición</th><th>Municipio</th><th>Departamento</th><th>Dirección</th><th>Motivo</th>"
        "<th>Puntaje</th><th>Quintil</th><th>Seleccionado</th><th>Indicadores faltantes</th></tr>"
        f"{rows}</table>",
        f"<p class=note>La lista completa, una hoja por dirección territorial, está en "
        f"<a href='priorizacion_{year}.xlsx'>priorizacion_{year}.xlsx</a>.</p></section>",
    ]
    return "\n".join(parts)


def write_xlsx(conn, out: Path, sample: bool, year: int | None = None) -> Path | None:
    """The year's list (default ``latest_year``), one sheet per directorate; the sample banner on
    every sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill
    from openpyxl.utils import get_column_letter

    from sinfonia.report import SAMPLE_BANNER, SAMPLE_DETAIL

    year = year or latest_year(conn)
    if year is None:
        return None
    df = frame(conn, year)
    wb = Workbook()
    wb.remove(wb.active)
    for directorate_id, sub in df.groupby("directorate_id", sort=True):
        ws = wb.create_sheet(title=str(directorate_id)[:31])
        if sample:
            ws.append([f"{SAMPLE_BANNER}: {SAMPLE_DETAIL}"])
            ws.cell(row=ws.max_row, column=1).font = Font(bold=True, color="FFFFFF")
            ws.cell(row=ws.max_row, column=1).fill = PatternFill("solid", fgColor="B00020")
        ws.append([f"Priorización {year} · {sub.directorate_name.iloc[0]} · corte al "
                   f"{sub.as_of_date.iloc[0]:%d/%m/%Y} · meta {int(sub.directorate_goal.max())}"])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, size=12)
        ws.append([header for _, header in COLUMNS])
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        ws.freeze_panes = f"A{ws.max_row + 1}"
        for k, (_, header) in enumerate(COLUMNS, start=1):
            ws.column_dimensions[get_column_letter(k)].width = min(max(len(header), 10) + 2, 40)
        for r in sub.itertuples():
            ws.append([_cell(getattr(r, col)) for col, _ in COLUMNS])
    path = Path(out) / f"priorizacion_{year}.xlsx"
    wb.save(path)
    return path


def _cell(v):
    if hasattr(v, "item"):  # numpy scalars
        v = v.item()
    if v is None or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, bool):
        return "Sí" if v else "No"
    return v
