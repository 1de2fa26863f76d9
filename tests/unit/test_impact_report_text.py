"""The impact section's words and chart, built from rows (no database needed)."""

import json

from sinfonia.report.impact import _reading, _verdict, diagnostics_summary, event_study_png

CS = {"estimate": 2.345, "ci_low": 1.1, "ci_high": 3.59, "p_value": 0.0002, "p_value_adjusted": 0.0008,
      "n_treated": 16, "verdict": "no concluyente",
      "verdict_reason": "antes del tratamiento los municipios tratados ya evolucionaban distinto "
                        "(prueba de tendencias previas, p = 0,007)"}


def test_numbers_are_colombian_and_tiny_p_values_say_less_than():
    text = _reading({"cs_did": CS, "pretrend": {"p_value": 0.007}})
    assert "+2,35 puntos (IC 95% +1,10 a +3,59; p &lt; 0,001; ajustado por Holm, p &lt; 0,001)" in text
    assert "p = 0,007" in text and "0,000" not in text


def test_no_sentence_about_a_difference_that_is_zero():
    same = _reading({"cs_did": CS, "naive": {**CS, "estimate": 2.3449}})
    assert "sesgo de selección" not in same and "0,00 puntos" not in same and "lo mismo" in same
    different = _reading({"cs_did": CS, "naive": {**CS, "estimate": 3.345}})
    assert "1,00 puntos más" in different and "sesgo de selección" in different


def test_the_verdict_comes_first_in_words_a_reader_cannot_misread():
    html = _verdict(CS, 4)
    assert "No concluyente" in html and "evidencia de efecto" not in html.lower()
    assert "tendencias previas, p = 0,007" in html
    assert "Hay evidencia de efecto" in _verdict({**CS, "verdict": "evidencia de efecto",
                                                   "verdict_reason": "valor p ajustado por Holm p &lt; 0,001"}, 4)
    assert "Sin datos suficientes" in _verdict(None, 4)


def test_diagnostics_are_summarised_in_spanish():
    notes = [{"reason": "small_cohort", "cohort": 2021, "year": 2022, "units": 1, "detail": ""},
             {"reason": "small_cohort", "cohort": 2021, "year": 2023, "units": 1, "detail": ""},
             {"reason": "treated_after_last_year", "cohort": None, "year": None, "units": 7, "detail": ""}]
    html = diagnostics_summary({"diagnostics": json.dumps(notes)})
    assert "menos de dos municipios tratados con datos: 2 (cohortes 2021)" in html
    assert "contados como no tratados: 7" in html
    assert "no se omitió ninguna" in diagnostics_summary({"diagnostics": None})


def test_the_chart_draws_the_simultaneous_band():
    points = [{"event_time": e, "estimate": 0.1 * e, "ci_low": 0.1 * e - 0.5, "ci_high": 0.1 * e + 0.5,
               "band_low": 0.1 * e - 0.8, "band_high": 0.1 * e + 0.8} for e in range(-3, 3)]
    wider = [{**p, "band_low": p["band_low"] - 1, "band_high": p["band_high"] + 1} for p in points]
    assert event_study_png(points, "t") != event_study_png(wider, "t")


def test_the_placebo_sentence_shows_the_interval_the_verdict_used_and_names_it():
    """Issue 30: the sentence said "compatible con cero" (from the family band) while the table showed
    the pointwise interval excluding zero. It now quotes the band, names it, and points at the other."""
    from sinfonia.impact.verdict import verdict

    placebo = {"estimate": -1.86, "ci_low": -3.26, "ci_high": -0.46, "p_value": 0.012,
               "band_low": -3.71, "band_high": 0.02}
    text = _reading({"cs_did": CS, "placebo": placebo})
    assert ("Placebo: -1,86 puntos (intervalo 95% conjunto con las tendencias previas -3,71 a +0,02: "
            "compatible con cero, como debe ser; su IC 95% propio, el de la tabla, es -3,26 a -0,46") in text
    # the sentence and the verdict read the same interval: outside the band, both say so
    outside = {**placebo, "band_high": -0.1}
    assert "ATENCIÓN: distinto de cero" in _reading({"cs_did": CS, "placebo": outside})
    _, reason = verdict({**CS, "n_treated": 16}, {"p_value": 0.5}, outside)
    assert "conjunto con las tendencias previas -3,71 a -0,10" in reason
    # without a band the verdict uses the placebo's own interval, and the sentence quotes that one
    alone = {**placebo, "band_low": None, "band_high": None}
    text = _reading({"cs_did": CS, "placebo": alone})
    assert "(IC 95% -3,26 a -0,46: ATENCIÓN: distinto de cero)" in text and "propio" not in text


def test_every_verdict_says_how_large_an_effect_the_data_could_have_shown():
    html = _verdict({**CS, "min_detectable_effect": 3.456}, 6)
    assert "con estos datos, un efecto menor a 3,46 puntos no se distinguiría de cero" in html.lower()
    assert "6 indicadores" in html
    assert "efecto menor" not in _verdict({**CS, "min_detectable_effect": None}, 6)


def test_sinfonia_impact_prints_each_verdict_with_its_reason_and_the_detectable_effect():
    from sinfonia.commands.output import impact_lines

    rows = [("idf", "cs_did", 0.8, -1.2, 2.8, 4.123, "no concluyente", "el efecto no se distingue de cero"),
            ("idf", "naive", 1.5, 0.1, 2.9, 3.9, None, None)]
    lines = impact_lines(rows)
    assert any(line.split()[:2] == ["idf", "cs_did"] and line.endswith("MDE 4.12") for line in lines)
    assert "    no concluyente: el efecto no se distingue de cero" in lines
    assert len(lines) == 4  # header, two estimates, one verdict (the naive row has none)
    assert "none:" in impact_lines([])[-1]


def test_counts_of_treated_municipalities_have_thousands_separators_in_the_sentence_and_the_table():
    """Issue 30: the impact tables printed 1086 where the rest of the report prints 1.086."""
    from sinfonia.report.impact import _table

    many = {**CS, "n_treated": 1086, "n_control": 2345, "std_error": 0.5, "method": "cs_did"}
    assert "con 1.086 municipios tratados" in _reading({"cs_did": many})
    table = _table({"cs_did": many})
    assert "1.086" in table and "2.345" in table and "1086" not in table
