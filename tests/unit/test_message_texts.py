"""What ESAP staff read, pinned word for word: the weekly message and the impact verdict's reasons.

The wording is the specification here (Spanish, Colombian number format), so each text is written
out whole for a fixed case: a changed word, a lost value or a plural that no longer agrees fails.
"""

from __future__ import annotations

import warnings
from datetime import date

import numpy as np
import pytest

from sinfonia import notify
from sinfonia.certainty import Settings, scores
from sinfonia.impact.verdict import EFFECT, INCONCLUSIVE, NO_DATA, numero, placebo_interval, valor_p, verdict
from sinfonia.notify import Digest

ITEM = {"assistance_id": "A-17", "team_name": "Equipo <1>", "municipality_name": None, "municipality_id": "05001",
        "thematic_line_name": None, "status": "Concertada", "due_date": date(2025, 11, 30), "days_overdue": None,
        "days_left": None, "days_since_delivery": 40, "flag_label": None}


def digest(**overrides) -> Digest:
    values = dict(
        directorate_id="ANT", label_name="Disquera Paisa", directorate_name="Dirección Antioquia",
        export_week=date(2025, 11, 17), as_of_date=date(2025, 11, 20), goal_year=2025, rank=3, directorates=16,
        points=1234.4, goal=30, delivered=20, goal_completion=0.66667, previous_rank=1, previous_week=date(2025, 11, 10),
        open_items=7, flagged={"overdue": 2, "due_soon_without_action_plan": 1, "delivered_without_satisfaction": 4},
        items=[ITEM], recipients=["a@example.org"],
    )
    values.update(overrides)
    return Digest(**values)


FOOTER = ('<p style="color:#555">Mensaje automático de Sinfonía (ESAP, Estrategia de Asistencia Técnica Territorial). '
          "Las cifras son las publicadas en el almacén (marts.mart_directorate_playlist, marts.mart_open_work).</p>")


def test_the_weekly_message_word_for_word():
    d = digest()
    assert d.subject == "Sinfonía · Disquera Paisa: puesto 3 de 16 · semana del 17/11/2025"
    assert d.html() == (
        "<h2>Disquera Paisa · Dirección Antioquia</h2>"
        "<p>Corte de la semana del 17/11/2025 (exportación ESAP del 20/11/2025).</p>"
        "<h3>Tabla de posiciones</h3><p>Puesto <b>3</b> de 16 en la tabla de posiciones de la vigencia 2025 "
        "(<b>1.234</b> puntos). Baja 2 puestos desde la semana del 10/11/2025.</p>"
        "<p>Meta de la vigencia: <b>20</b> de <b>30</b> canciones entregadas (<b>66,7 %</b> de la lista).</p>"
        "<h3>Trabajo abierto</h3><p>Asistencias abiertas (ni entregadas ni canceladas): <b>7</b>. Con alerta: "
        "<b>2</b> vencidas, <b>1</b> por vencer sin plan de acción, <b>4</b> entregadas sin calificación de "
        "satisfacción.</p>"
        "<p>Las 1 primeras por atender, de 11:</p>"
        '<table border="1" cellpadding="4" style="border-collapse:collapse"><thead><tr>'
        "<th>Asistencia</th><th>Equipo</th><th>Municipio</th><th>Línea temática</th><th>Estado</th>"
        "<th>Entrega programada</th><th>Días</th><th>Alerta</th></tr></thead><tbody>"
        "<tr><td>A-17</td><td>Equipo &lt;1&gt;</td><td>05001</td><td>—</td><td>Concertada</td><td>30/11/2025</td>"
        "<td>40 desde la entrega</td><td>—</td></tr></tbody></table>" + FOOTER)


def test_a_message_without_place_goal_or_items_and_from_sample_data():
    d = digest(rank=None, goal=None, delivered=4, items=[], sample=True, open_items=0,
               flagged={"overdue": 0, "due_soon_without_action_plan": 0, "delivered_without_satisfaction": 0})
    assert d.subject == "[MUESTRA] Sinfonía · Disquera Paisa: sin puesto · semana del 17/11/2025"
    assert d.html() == (
        '<p style="background:#b00020;color:#fff;padding:6px"><b>DATOS SINTÉTICOS DE MUESTRA</b>: '
        "no son cifras oficiales.</p>"
        "<h2>Disquera Paisa · Dirección Antioquia</h2>"
        "<p>Corte de la semana del 17/11/2025 (exportación ESAP del 20/11/2025).</p>"
        "<h3>Tabla de posiciones</h3><p>Sin datos en la tabla de posiciones.</p>"
        "<p>Sin meta registrada para la vigencia; <b>4</b> canciones entregadas.</p>"
        "<h3>Trabajo abierto</h3><p>Asistencias abiertas (ni entregadas ni canceladas): <b>0</b>. Con alerta: "
        "<b>0</b> vencidas, <b>0</b> por vencer sin plan de acción, <b>0</b> entregadas sin calificación de "
        "satisfacción.</p>" + FOOTER)


def test_missing_figures_print_as_a_dash_and_days_say_which_count():
    assert notify._date(None) == "—" and notify._int(None) == "—" and notify._pct(None) == "—"
    assert notify._int(1234.5) == "1.234" and notify._pct(0.5) == "50,0 %"
    assert notify._days({"days_overdue": 3, "days_left": 9}) == "3 de retraso"
    assert notify._days({"days_overdue": None, "days_left": 0}) == "faltan 0"
    assert notify._days({"days_since_delivery": 0}) == "0 desde la entrega"
    assert notify._days({}) == "—"
    assert digest(rank=1, previous_rank=2).change() == "Sube 1 puesto desde la semana del 10/11/2025."


CS = {"n_treated": 50, "p_value_adjusted": 0.0004, "estimate": 2.0, "ci_low": 1.0, "ci_high": 3.0}


def test_the_verdicts_reasons_word_for_word():
    assert verdict(CS, {"p_value": 0.4}, {"estimate": 0.1, "ci_low": -0.5, "ci_high": 0.7}) == (
        EFFECT, "valor p ajustado por Holm p < 0,001, tendencias previas paralelas (p = 0,400) y placebo "
                "compatible con cero")
    assert verdict({**CS, "p_value_adjusted": 0.2}, None, None) == (
        INCONCLUSIVE,
        "el efecto no se distingue de cero al considerar todos los indicadores evaluados (valor p ajustado por "
        "Holm: p = 0,200); no hay años previos suficientes para comprobar que las tendencias eran paralelas; "
        "no hay años suficientes antes del tratamiento para el placebo")
    assert verdict(CS, {"p_value": 0.01}, {"estimate": -1.5, "ci_low": -2.25, "ci_high": -0.75}) == (
        INCONCLUSIVE,
        "antes del tratamiento los municipios tratados ya evolucionaban distinto (prueba de tendencias previas, "
        "p = 0,010); el placebo, que debería dar cero, da -1,50 puntos (IC 95% -2,25 a -0,75)")
    assert verdict(CS, {"p_value": 0.4}, {"estimate": 1.5, "ci_low": 0.75, "ci_high": 2.25})[1] == (
        "el placebo, que debería dar cero, da +1,50 puntos (IC 95% +0,75 a +2,25)")
    assert verdict(None, None, None) == (
        NO_DATA, "solo 0 municipios tratados tienen años posteriores al tratamiento con datos; se necesitan al menos 10")


def test_p_values_print_below_0_001_as_such_and_0_001_itself_as_a_number():
    assert valor_p(0.001) == "0,001" and valor_p(0.00099) == "< 0,001"
    assert numero(None) == "—" and numero(float("nan")) == "—" and numero(-1.5) == "-1,50"


def test_the_placebo_is_judged_on_its_band_only_when_both_ends_exist():
    placebo = {"ci_low": -1.0, "ci_high": 1.0, "band_low": -2.0, "band_high": None}
    assert placebo_interval(placebo) == (-1.0, 1.0, "IC 95%")
    assert placebo_interval({**placebo, "band_low": None, "band_high": 2.0}) == (-1.0, 1.0, "IC 95%")
    assert placebo_interval({**placebo, "band_high": 2.0})[:2] == (-2.0, 2.0)


def test_scores_are_weighted_means_of_the_indicators_each_municipality_has():
    needs = np.array([[10.0, 20.0], [30.0, np.nan], [np.nan, np.nan]])
    out = scores(needs, np.array([3.0, 1.0]), "minmax")
    # minmax per column: [0, 100] and [0 (alone)]: (3·0 + 1·0)/4 = 0; 100 alone; nothing → NaN
    assert out[0] == pytest.approx(0.0) and out[1] == pytest.approx(100.0) and np.isnan(out[2])
    out = scores(np.array([[0.0, 100.0], [100.0, 0.0], [50.0, np.nan]]), np.array([3.0, 1.0]), "minmax")
    assert out.tolist() == pytest.approx([25.0, 75.0, 50.0])


def test_a_municipality_with_no_indicator_scores_nan_without_a_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(scores(np.array([[np.nan, np.nan], [1.0, 2.0]]), np.array([1.0, 1.0]), "percentile")[0])


def test_the_unperturbed_settings_keep_the_draws_and_seed_asked_for():
    s = Settings.unperturbed(draws=7, seed=42)
    assert (s.draws, s.seed, s.weight_spread, s.normalisations, s.previous_vintage_share) == (
        7, 42, 0.0, ("percentile",), 0.0)
    assert (Settings.unperturbed().draws, Settings.unperturbed().seed) == (10, 0)


def test_two_items_one_without_team_or_municipality_and_missing_flag_counts_as_zero():
    bare = {**ITEM, "assistance_id": "A-18", "team_name": None, "municipality_id": None, "days_since_delivery": None,
            "flag_label": "vencida"}
    html = digest(items=[ITEM, bare], flagged={"overdue": 1}).html()
    assert "Con alerta: <b>1</b> vencidas, <b>0</b> por vencer sin plan de acción, <b>0</b> entregadas sin " in html
    assert "<p>Las 2 primeras por atender, de 7:</p>" in html
    assert ("<td>40 desde la entrega</td><td>—</td></tr><tr><td>A-18</td><td>—</td><td>—</td><td>—</td>"
            "<td>Concertada</td><td>30/11/2025</td><td>—</td><td>vencida</td></tr></tbody>") in html


def test_ranks_put_a_municipality_without_score_last_and_tie_at_nine_decimals():
    from sinfonia.certainty import ranks

    out = ranks(np.array([np.nan, 1.0, 2.0]), np.array(["00001", "00002", "00003"]))
    assert out.tolist() == [3, 2, 1] and out.dtype.kind == "i"
    # 1e-10 apart: equal at 9 decimals (as the SQL rounds), so the lower code comes first
    assert ranks(np.array([0.5 + 1e-10, 0.5]), np.array(["b", "a"])).tolist() == [2, 1]
    assert ranks(np.array([0.5 + 1e-8, 0.5]), np.array(["b", "a"])).tolist() == [1, 2]
