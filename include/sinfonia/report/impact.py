"""The impact section of the report (Spanish): event-study chart and the overall effects.

``section(conn)`` reads ``marts.mart_impact_estimates`` and returns an HTML fragment: for each
outcome an event-study chart (matplotlib, Agg backend, PNG embedded as base64) and one table with
the Callaway–Sant'Anna estimate next to the naive comparison, so the reader sees how far
selection moves a raw comparison; then the checks (pre-trends, placebo) and the dose view.
"""

from __future__ import annotations

import base64
import io
from html import escape

OUTCOME_LABELS = {
    "mdm": "MDM (puntaje total)",
    "mdm_gestion": "MDM: componente de gestión",
    "mdm_resultados": "MDM: componente de resultados",
    "idf": "Índice de Desempeño Fiscal (IDF)",
}
METHOD_LABELS = {
    "cs_did": "Diferencias en diferencias escalonadas (Callaway y Sant'Anna), controles aún no tratados",
    "cs_did_never_treated": "Ídem, solo municipios nunca tratados como control",
    "cs_did_unconditional": "Ídem, sin covariables",
    "naive": "Comparación ingenua (cambio de tratados frente a no tratados, sin covariables)",
    "placebo": "Placebo (tratamiento ficticio dos años antes)",
    "pretrend": "Tendencias previas (promedio de los efectos antes del tratamiento)",
    "dose_1_2": "Dosis 1–2 asistencias frente a ninguna",
    "dose_3_4": "Dosis 3–4 asistencias frente a ninguna",
    "dose_5_plus": "Dosis 5 o más asistencias frente a ninguna",
}
PRE_OK = "no se rechaza que fueran paralelas"
PRE_BAD = "ATENCIÓN: hay diferencias antes del tratamiento; el efecto debe leerse con cautela"
ORDER = ("cs_did", "naive", "cs_did_never_treated", "cs_did_unconditional", "pretrend", "placebo",
         "dose_1_2", "dose_3_4", "dose_5_plus")


def _num(value: float | None, digits: int = 2, sign: bool = True) -> str:
    if value is None:
        return "—"
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text.replace(".", ",")  # decimal comma, as ESAP writes numbers


def _rows(conn) -> list[dict]:
    if conn.execute("select to_regclass('marts.mart_impact_estimates')").fetchone()[0] is None:
        return []
    cur = conn.execute("""select outcome, method, event_time, estimate, std_error, ci_low, ci_high,
                                 p_value, n_treated, n_control, threshold
                          from marts.mart_impact_estimates order by outcome, method, event_time""")
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def event_study_png(points: list[dict], title: str) -> str:
    """Base64 PNG of event-time estimates with their 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    points = sorted(points, key=lambda r: r["event_time"])
    x = [r["event_time"] for r in points] + [-1]
    y = [r["estimate"] for r in points] + [0.0]
    low = [r["estimate"] - r["ci_low"] for r in points] + [0.0]
    high = [r["ci_high"] - r["estimate"] for r in points] + [0.0]
    colours = ["#1f4e79" if e >= 0 else "#8c8c8c" for e in x]
    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=110)
    ax.axhline(0, color="#444444", linewidth=0.8)
    ax.axvline(-0.5, color="#b22222", linestyle="--", linewidth=0.8)
    for xi, yi, lo, hi, c in zip(x, y, low, high, colours):
        ax.errorbar([xi], [yi], yerr=[[lo], [hi]], fmt="o", color=c, capsize=3, markersize=5)
    ax.set_xlabel("Años desde que el municipio alcanzó el umbral de asistencias (-1 = referencia)")
    ax.set_ylabel("Efecto (puntos)")
    ax.set_title(title, fontsize=10)
    ax.set_xticks(sorted(set(x)))
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _table(overall: dict[str, dict]) -> str:
    head = ("<tr><th>Método</th><th>Efecto (puntos)</th><th>IC 95%</th><th>Error estándar</th>"
            "<th>Valor p</th><th>Tratados</th><th>Controles</th></tr>")
    body = []
    for method in ORDER:
        r = overall.get(method)
        if r is None:
            continue
        attrs = ' class="destacado"' if method in ("cs_did", "naive") else ""
        label = escape(METHOD_LABELS.get(method, method))
        body.append(
            f"<tr{attrs}><td>{label}</td><td>{_num(r['estimate'])}</td>"
            f"<td>[{_num(r['ci_low'])}; {_num(r['ci_high'])}]</td><td>{_num(r['std_error'], sign=False)}</td>"
            f"<td>{_num(r['p_value'], 3, sign=False)}</td><td>{r['n_treated']}</td><td>{r['n_control']}</td></tr>")
    return f"<table class=\"impacto\">{head}{''.join(body)}</table>"


def _reading(overall: dict[str, dict]) -> str:
    cs, naive = overall.get("cs_did"), overall.get("naive")
    parts = []
    if cs:
        verdict = ("el intervalo no incluye el cero: hay evidencia de efecto"
                   if cs["ci_low"] > 0 or cs["ci_high"] < 0 else
                   "el intervalo incluye el cero: no hay evidencia suficiente de efecto")
        parts.append(f"Efecto estimado: {_num(cs['estimate'])} puntos (IC 95% {_num(cs['ci_low'])} a "
                     f"{_num(cs['ci_high'])}); {verdict}.")
    if cs and naive:
        gap = naive["estimate"] - cs["estimate"]
        parts.append(f"La comparación ingenua da {_num(naive['estimate'])} puntos: "
                     f"{_num(abs(gap), sign=False)} puntos {'más' if gap > 0 else 'menos'} que la estimación "
                     "que compara con municipios similares. Esa diferencia es el sesgo de selección: "
                     "la asistencia llega más a los municipios con más necesidad, que evolucionan distinto.")
    pre, placebo = overall.get("pretrend"), overall.get("placebo")
    if pre and pre["p_value"] is not None:
        ok = pre["p_value"] >= 0.05
        parts.append(f"Tendencias previas: prueba conjunta p = {_num(pre['p_value'], 3, sign=False)} "
                     f"({PRE_OK if ok else PRE_BAD}).")
    if placebo:
        ok = placebo["ci_low"] <= 0 <= placebo["ci_high"]
        parts.append(f"Placebo: {_num(placebo['estimate'])} puntos "
                     f"({'compatible con cero, como debe ser' if ok else 'ATENCIÓN: distinto de cero'}).")
    return "".join(f"<p>{escape(p)}</p>" for p in parts)


def section(conn) -> str:
    """HTML fragment (Spanish) with the impact estimates; says so when there are none."""
    rows = _rows(conn)
    intro = ("<h2>Impacto de la asistencia técnica</h2>"
             "<p>¿Mejoran sus indicadores los municipios que reciben cinco o más asistencias entregadas? "
             "Un municipio se considera tratado desde el año en que sus asistencias entregadas acumuladas "
             "alcanzan el umbral. Se compara su evolución con la de municipios aún no tratados de "
             "similar grupo de capacidades, categoría y condición PDET (diferencias en diferencias "
             "escalonadas de Callaway y Sant'Anna, 2021). Los intervalos de confianza del 95% son "
             "analíticos (funciones de influencia, agrupados por municipio).</p>")
    if not rows:
        return (f"<section id=\"impacto\">{intro}<p>Aún no hay estimaciones: ningún indicador tiene "
                "municipios tratados con datos posteriores al tratamiento.</p></section>")
    threshold = rows[0]["threshold"]
    intro = intro.replace("cinco o más", f"{threshold} o más" if threshold != 5 else "cinco o más")
    parts = [f"<section id=\"impacto\">{intro}"]
    known = list(OUTCOME_LABELS)
    for outcome in sorted({r["outcome"] for r in rows}, key=lambda o: (known.index(o) if o in known else len(known), o)):
        mine = [r for r in rows if r["outcome"] == outcome]
        label = OUTCOME_LABELS.get(outcome, outcome)
        overall = {r["method"]: r for r in mine if r["event_time"] is None}
        parts.append(f"<h3>{escape(label)}</h3>")
        events = [r for r in mine if r["method"] == "cs_did" and r["event_time"] is not None]
        if events:
            png = event_study_png(events, f"{label}: efecto por años desde el tratamiento (IC 95%)")
            parts.append(f"<img alt=\"Estudio de eventos: {escape(label)}\" src=\"data:image/png;base64,{png}\">")
        parts.append(_reading(overall))
        parts.append(_table(overall))
    parts.append("</section>")
    return "\n".join(parts)
