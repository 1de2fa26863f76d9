"""The impact section of the report (Spanish): a verdict per outcome, its reasons, the evidence.

``section(conn)`` reads ``marts.mart_impact_estimates`` and returns an HTML fragment. It opens
with the question the strategy asks, answered indicator by indicator (``claims_table``: gestión
pública, pobreza multidimensional, uso del suelo y catastro, then the other indicators
evaluated), each row with its verdict and its minimum detectable effect; an indicator the seed
names that has no estimate says why (``not_estimated``: e.g. one measurement, no before and
after). Then, for each outcome, it states first the verdict the estimates allow (``sinfonia.impact.verdict``:
*evidencia de efecto* only when the effect survives the adjustment for the number of outcomes
tested, the pre-trends are parallel and the placebo is zero; otherwise *no concluyente* with the
conditions that failed, or *sin datos suficientes*), then the estimate in words, an event-study
chart (matplotlib, Agg backend, PNG embedded as base64) with the pointwise 95% intervals and the
95% simultaneous band, one table with the Callaway–Sant'Anna estimate next to the naive
comparison and the checks, and a summary of what the estimator left out (diagnostics).
Numbers in Colombian format (decimal comma, ``< 0,001``); no sentence about a difference that is
zero.
"""

from __future__ import annotations

import base64
import io
import json
from html import escape

from sinfonia.impact.verdict import EFFECT, INCONCLUSIVE, NO_DATA, numero, placebo_interval, valor_p

OUTCOME_LABELS = {
    "mdm": "MDM (puntaje total)",
    "mdm_gestion": "MDM: componente de gestión",
    "mdm_resultados": "MDM: componente de resultados",
    "mdm_ordenamiento_territorial": "MDM: ordenamiento territorial",
    "idf": "Índice de Desempeño Fiscal (IDF)",
    "idf_bono_catastro": "IDF: bono por gestión catastral (0 o 2 puntos)",
    "ipm": "Índice de Pobreza Multidimensional (IPM) municipal",
}
# The strategy's claim: municipalities with five or more assistances improved "indicadores
# nacionales asociados a gestión pública, pobreza multidimensional, uso del suelo con catastro
# multipropósito". Each part, with the outcomes of the panel that measure it.
CLAIMS = (
    ("Gestión pública", ("mdm_gestion",)),
    ("Pobreza multidimensional", ("ipm",)),
    ("Uso del suelo con catastro multipropósito", ("mdm_ordenamiento_territorial", "idf_bono_catastro")),
)
OTHER_CLAIM = "Otros indicadores evaluados"
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
VERDICT_TEXT = {
    EFFECT: "Hay evidencia de efecto",
    INCONCLUSIVE: "No concluyente: estos datos no permiten afirmar que la asistencia cambió el indicador",
    NO_DATA: "Sin datos suficientes para estimar el efecto",
}
PRETREND_WARNING = "ATENCIÓN: los municipios tratados ya evolucionaban distinto antes del tratamiento"
REASON_LABELS = {  # sinfonia.impact.did.REASONS, for ESAP readers
    "treated_in_first_year": "municipios tratados desde el primer año con datos (sin año previo con qué comparar): "
                             "excluidos",
    "treated_after_last_year": "municipios tratados después del último año con datos: contados como no tratados",
    "small_cohort": "combinaciones de cohorte y año omitidas por tener menos de dos municipios tratados con datos",
    "too_few_controls": "combinaciones de cohorte y año omitidas por falta de municipios de comparación",
    "missing_outcome": "combinaciones de cohorte y año en las que faltaba el dato de algunos municipios tratados",
    "covariate_imputed": "municipios sin dato en una covariable numérica (se usó el promedio)",
    "too_few_years": "menos de dos años con datos",
}
UNIT_REASONS = ("treated_in_first_year", "treated_after_last_year", "covariate_imputed")
ORDER = ("cs_did", "naive", "cs_did_never_treated", "cs_did_unconditional", "pretrend", "placebo",
         "dose_1_2", "dose_3_4", "dose_5_plus")


def _rows(conn) -> list[dict]:
    if conn.execute("select to_regclass('marts.mart_impact_estimates')").fetchone()[0] is None:
        return []
    cur = conn.execute("select * from marts.mart_impact_estimates order by outcome, method, event_time")
    names = [d.name for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def event_study_png(points: list[dict], title: str) -> str:
    """Base64 PNG of event-time estimates: pointwise 95% intervals and the 95% simultaneous band."""
    import matplotlib

    matplotlib.use("Agg")
    matplotlib.rcParams["text.parse_math"] = False  # names from data are text, never mathtext ($…$)
    from matplotlib import pyplot as plt

    points = sorted(points, key=lambda r: r["event_time"])
    x = [r["event_time"] for r in points]
    y = [r["estimate"] for r in points]
    fig, ax = plt.subplots(figsize=(7.5, 3.6), dpi=110)
    ax.axhline(0, color="#444444", linewidth=0.8)
    ax.axvline(-0.5, color="#b22222", linestyle="--", linewidth=0.8)
    banded = [r for r in points if r.get("band_low") is not None and r.get("band_high") is not None]
    for i, r in enumerate(banded):  # one box per year: the band is not a line between years
        ax.fill_between([r["event_time"] - 0.3, r["event_time"] + 0.3], r["band_low"], r["band_high"],
                        color="#9ecae1", alpha=0.55, linewidth=0,
                        label="Banda simultánea 95% (todos los años a la vez)" if i == 0 else None)
    for r, xi, yi in zip(points, x, y, strict=False):
        colour = "#1f4e79" if xi >= 0 else "#8c8c8c"
        ax.errorbar([xi], [yi], yerr=[[yi - r["ci_low"]], [r["ci_high"] - yi]], fmt="o", color=colour,
                    capsize=3, markersize=5)
    if -1 not in x:  # universal base period: -1 is the reference, zero by construction
        ax.plot([-1], [0.0], "o", color="#8c8c8c", markersize=5)
    ax.errorbar([], [], yerr=[], fmt="o", color="#1f4e79", capsize=3, label="Estimación e IC 95% de cada año")
    ax.set_xlabel("Años desde que el municipio alcanzó el umbral de asistencias")
    ax.set_ylabel("Efecto (puntos)")
    ax.set_title(title, fontsize=10)
    ax.set_xticks(sorted(set(x) | {-1}))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _table(overall: dict[str, dict]) -> str:
    head = ("<tr><th>Método</th><th>Efecto (puntos)</th><th>IC 95%</th><th>Error estándar</th>"
            "<th>Valor p</th><th>Valor p ajustado (Holm)</th><th>Efecto mínimo detectable</th><th>Tratados</th>"
            "<th>Controles</th></tr>")
    body = []
    for method in ORDER:
        r = overall.get(method)
        if r is None:
            continue
        attrs = ' class="destacado"' if method in ("cs_did", "naive") else ""
        label = escape(METHOD_LABELS.get(method, method))
        body.append(
            f"<tr{attrs}><td>{label}</td><td>{numero(r['estimate'], sign=True)}</td>"
            f"<td>[{numero(r['ci_low'], sign=True)}; {numero(r['ci_high'], sign=True)}]</td>"
            f"<td>{numero(r['std_error'])}</td><td>{escape(valor_p(r['p_value']))}</td>"
            f"<td>{escape(valor_p(r.get('p_value_adjusted')))}</td>"
            f"<td>{numero(r.get('min_detectable_effect'))}</td>"
            f"<td>{numero(r['n_treated'], 0)}</td><td>{numero(r['n_control'], 0)}</td></tr>")
    return f"<table class=\"impacto\">{head}{''.join(body)}</table>"


def _p(p: float | None) -> str:
    text = valor_p(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def detectable(cs: dict | None, n_outcomes: int) -> str:
    """The sentence on how large an effect these data could have shown ("" without one)."""
    mde = None if cs is None else cs.get("min_detectable_effect")
    if mde is None or mde != mde:
        return ""
    return (f"Con estos datos, un efecto menor a {numero(mde)} puntos no se distinguiría de cero "
            f"(efecto mínimo detectable: el que se encontraría 4 de cada 5 veces al 5%, considerando los "
            f"{n_outcomes} indicadores evaluados).")


def _verdict(cs: dict | None, n_outcomes: int) -> str:
    if cs is None or cs.get("verdict") is None:
        return (f"<p class=\"veredicto\"><strong>{escape(VERDICT_TEXT[NO_DATA])}.</strong> Ningún grupo de "
                "municipios tratados tiene años posteriores al tratamiento con datos suficientes.</p>")
    reason = cs.get("verdict_reason") or ""
    if cs["verdict"] == EFFECT:
        detail = (f"El efecto se distingue de cero aun considerando que se evaluaron {n_outcomes} indicadores "
                  f"a la vez, y las comprobaciones no muestran problemas: {reason}.")
    else:
        detail = f"Motivo: {reason}."
    detail = f"{detail} {detectable(cs, n_outcomes)}".strip()
    return (f"<p class=\"veredicto\"><strong>{escape(VERDICT_TEXT[cs['verdict']])}.</strong> "
            f"{escape(detail)}</p>")


def _reading(overall: dict[str, dict]) -> str:
    cs, naive = overall.get("cs_did"), overall.get("naive")
    parts = []
    if cs:
        parts.append(f"Efecto estimado: {numero(cs['estimate'], sign=True)} puntos (IC 95% "
                     f"{numero(cs['ci_low'], sign=True)} a {numero(cs['ci_high'], sign=True)}; {_p(cs['p_value'])}; "
                     f"ajustado por Holm, {_p(cs.get('p_value_adjusted'))}), "
                     f"con {numero(cs['n_treated'], 0)} municipios tratados.")
    if cs and naive:
        gap = naive["estimate"] - cs["estimate"]
        text = f"La comparación ingenua da {numero(naive['estimate'], sign=True)} puntos"
        if numero(abs(gap)) == numero(0.0):
            parts.append(text + ", lo mismo que la estimación que compara con municipios similares.")
        else:
            parts.append(f"{text}: {numero(abs(gap))} puntos {'más' if gap > 0 else 'menos'} que la estimación "
                         "que compara con municipios similares. Esa diferencia es el sesgo de selección: "
                         "la asistencia llega más a los municipios con más necesidad, que evolucionan distinto.")
    pre, placebo = overall.get("pretrend"), overall.get("placebo")
    if pre and pre["p_value"] is not None:
        ok = pre["p_value"] >= 0.05
        parts.append(f"Tendencias previas: prueba conjunta {_p(pre['p_value'])} "
                     f"({'no se rechaza que fueran paralelas' if ok else PRETREND_WARNING}).")
    if placebo:
        # the interval the verdict judged the placebo on, named (sinfonia.impact.verdict.placebo_interval)
        low, high, label = placebo_interval(placebo)
        ok = low <= 0 <= high
        own = "" if label == "IC 95%" else (
            f"; su IC 95% propio, el de la tabla, es {numero(placebo['ci_low'], sign=True)} a "
            f"{numero(placebo['ci_high'], sign=True)}, pero el placebo se juzga junto con las tendencias "
            "previas porque ambas pruebas miran los mismos años")
        parts.append(f"Placebo: {numero(placebo['estimate'], sign=True)} puntos ({label} "
                     f"{numero(low, sign=True)} a {numero(high, sign=True)}: "
                     f"{'compatible con cero, como debe ser' if ok else 'ATENCIÓN: distinto de cero'}{own}).")
    return "".join(f"<p>{escape(p)}</p>" for p in parts)


def diagnostics_summary(cs: dict | None) -> str:
    """One Spanish line per reason of what the headline estimate left out (from ``diagnostics``)."""
    raw = None if cs is None else cs.get("diagnostics")
    notes = json.loads(raw) if isinstance(raw, str) else (raw or [])
    if not notes:
        return "<p class=\"diagnostico\">Diagnóstico: no se omitió ninguna cohorte ni combinación de cohorte y año.</p>"
    lines = []
    for reason, label in REASON_LABELS.items():
        mine = [n for n in notes if n["reason"] == reason]
        if not mine:
            continue
        if reason in UNIT_REASONS:
            lines.append(f"{label}: {sum(n['units'] for n in mine)}")
        else:
            cohorts = sorted({n["cohort"] for n in mine if n.get("cohort") is not None})
            lines.append(f"{label}: {len(mine)} (cohortes {', '.join(str(c) for c in cohorts)})")
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f"<div class=\"diagnostico\"><p>Diagnóstico de la estimación principal:</p><ul>{items}</ul></div>"


def not_estimated(conn, outcome: str) -> str:
    """Why ``outcome`` has no estimate, from the published panel (Spanish)."""
    if conn.execute("select to_regclass('marts.mart_impact_panel')").fetchone()[0] is None:
        return "el panel de impacto aún no está publicado"
    known = conn.execute("select 1 from information_schema.columns where table_schema = 'marts' "
                         "and table_name = 'mart_impact_panel' and column_name = %s", (outcome,)).fetchone()
    if known is None:
        return "el indicador no está en el panel de impacto"
    from psycopg import sql

    years = [r[0] for r in conn.execute(sql.SQL(
        "select distinct year from marts.mart_impact_panel where {} is not null order by year").format(
        sql.Identifier(outcome)))]
    if not years:
        return "no hay datos cargados de este indicador"
    if len(years) == 1:
        return (f"una sola medición municipal ({years[0]}): sin un antes y un después del tratamiento "
                "no se puede estimar un cambio")
    return "ningún grupo de municipios tratados tiene años posteriores al tratamiento con datos de este indicador"


def claims_table(conn, rows: list[dict], outcomes: list[str]) -> str:
    """The strategy's claim answered indicator by indicator: verdict, estimate, minimum detectable
    effect and the reason, one row per outcome (``CLAIMS``, then the other outcomes estimated)."""
    headline = {r["outcome"]: r for r in rows if r["method"] == "cs_did" and r["event_time"] is None}
    claimed = [o for _, os in CLAIMS for o in os]
    groups = list(CLAIMS) + [(OTHER_CLAIM, tuple(o for o in outcomes if o not in claimed))]
    body = []
    for claim, mine in groups:
        for i, outcome in enumerate(mine):
            first = f"<td rowspan=\"{len(mine)}\">{escape(claim)}</td>" if i == 0 else ""
            label = escape(OUTCOME_LABELS.get(outcome, outcome))
            cs = headline.get(outcome)
            if cs is None or cs.get("verdict") is None:
                body.append(f"<tr>{first}<td>{label}</td><td>{escape(NO_DATA)}</td><td>—</td><td>—</td>"
                            f"<td>{escape(not_estimated(conn, outcome))}</td></tr>")
                continue
            body.append(
                f"<tr>{first}<td>{label}</td><td><strong>{escape(cs['verdict'])}</strong></td>"
                f"<td>{numero(cs['estimate'], sign=True)} [{numero(cs['ci_low'], sign=True)}; "
                f"{numero(cs['ci_high'], sign=True)}]</td><td>{numero(cs.get('min_detectable_effect'))}</td>"
                f"<td>{escape(cs.get('verdict_reason') or '')}</td></tr>")
    head = ("<tr><th>Lo que se afirma que mejoró</th><th>Indicador</th><th>Veredicto</th>"
            "<th>Efecto estimado (puntos) [IC 95%]</th><th>Efecto mínimo detectable (puntos)</th>"
            "<th>Motivo</th></tr>")
    return ("<p>La estrategia afirma que los municipios con cinco o más asistencias mejoraron «indicadores "
            "nacionales asociados a gestión pública, pobreza multidimensional, uso del suelo con catastro "
            "multipropósito». Esto es lo que los datos permiten decir de cada parte. El efecto mínimo "
            "detectable es el menor efecto que estos datos encontrarían 4 de cada 5 veces: un efecto menor "
            "no se distinguiría de cero, así que un resultado no concluyente no prueba que no lo haya.</p>"
            f"<table class=\"impacto afirmaciones\">{head}{''.join(body)}</table>")


def section(conn) -> str:
    """HTML fragment (Spanish) with the impact estimates; says so when there are none."""
    rows = _rows(conn)
    intro = ("<h2>Impacto de la asistencia técnica</h2>"
             "<p>¿Mejoran sus indicadores los municipios que reciben cinco o más asistencias entregadas? "
             "Un municipio se considera tratado desde el año en que sus asistencias entregadas acumuladas "
             "alcanzan el umbral. Se compara su evolución con la de municipios aún no tratados de "
             "similar grupo de capacidades, categoría y condición PDET (diferencias en diferencias "
             "escalonadas de Callaway y Sant'Anna, 2021). Los intervalos de confianza del 95% son "
             "analíticos (funciones de influencia, agrupados por municipio, con la distribución t de "
             "Student porque los municipios tratados son pocos); en los gráficos, la banda sombreada "
             "cubre todos los años a la vez.</p>"
             "<p>Como se evalúan varios indicadores, alguno puede salir «significativo» por azar. Por eso "
             "solo se afirma que hay evidencia de efecto cuando el valor p ajustado por Holm (que tiene en "
             "cuenta todos los indicadores evaluados) es menor que 0,05, los municipios tratados y los de "
             "comparación evolucionaban igual antes del tratamiento y el placebo da un resultado compatible "
             "con cero. En cualquier otro caso el resultado es no concluyente: no prueba que haya efecto ni "
             "que no lo haya.</p>")
    if not rows:
        return (f"<section id=\"impacto\">{intro}<p>Aún no hay estimaciones: ningún indicador tiene "
                "municipios tratados con datos posteriores al tratamiento.</p></section>")
    threshold = rows[0]["threshold"]
    intro = intro.replace("cinco o más", f"{threshold} o más" if threshold != 5 else "cinco o más")
    parts = [f"<section id=\"impacto\">{intro}"]
    known = list(OUTCOME_LABELS)
    outcomes = sorted({r["outcome"] for r in rows}, key=lambda o: (known.index(o) if o in known else len(known), o))
    # the Holm family: the outcomes whose headline p-value was adjusted (one whose treated barely
    # changed is left out, sinfonia.impact.verdict.too_few_changed)
    family = sum(1 for r in rows if r["method"] == "cs_did" and r["event_time"] is None
                 and r.get("p_value_adjusted") is not None)
    claims = claims_table(conn, rows, outcomes)
    parts.append(claims if threshold == 5 else claims.replace("cinco o más", f"{threshold} o más"))
    for outcome in outcomes:
        mine = [r for r in rows if r["outcome"] == outcome]
        label = OUTCOME_LABELS.get(outcome, outcome)
        overall = {r["method"]: r for r in mine if r["event_time"] is None}
        parts.append(f"<h3>{escape(label)}</h3>")
        parts.append(_verdict(overall.get("cs_did"), family))
        parts.append(_reading(overall))
        events = [r for r in mine if r["method"] == "cs_did" and r["event_time"] is not None]
        if events:
            png = event_study_png(events, f"{label}: efecto por años desde el tratamiento")
            parts.append(f"<img alt=\"Estudio de eventos: {escape(label)}\" src=\"data:image/png;base64,{png}\">")
        parts.append(_table(overall))
        parts.append(diagnostics_summary(overall.get("cs_did")))
    parts.append("</section>")
    return "\n".join(parts)
