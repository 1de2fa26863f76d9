"""The report's charts never hide a series and always say what they show."""

import re

from sinfonia.report import monitoring


def national(values_total, values_pdet, values_cat):
    return [{"year": 2023 + k, "municipalities_reached": t, "pdet_reached": p, "category_5_6_reached": c}
            for k, (t, p, c) in enumerate(zip(values_total, values_pdet, values_cat, strict=False))]


def test_identical_coverage_series_are_drawn_apart_and_named_as_equal():
    html = monitoring._national_trend(national([60, 62, 65], [40, 41, 44], [60, 62, 65]))
    caption = re.search(r"<figcaption>(.*?)</figcaption>", html).group(1)
    assert "«Municipios de categoría 5 y 6» coincide con «Municipios»" in caption
    alt = re.search(r'<img alt="([^"]*)"', html).group(1)
    assert "2025: 65 municipios, 44 PDET, 65 de categoría 5 y 6" in alt
    styles = {(s["linestyle"], s["marker"]) for s in monitoring.SERIES_STYLE}
    assert len(styles) == len(monitoring.SERIES_STYLE)  # every series its own line and marker


def test_distinct_coverage_series_carry_no_equality_note():
    html = monitoring._national_trend(national([60, 62, 65], [40, 41, 44], [59, 62, 65]))
    assert "coincide" not in html


# -- text from data is never interpreted: matplotlib's mathtext is off for every label ----------------
MATHTEXT_NAMES = ["San $\\frac{$ José", "$x^{$", "Villa $\\undefinedcommand$", "$\\sqrt{$", "Puerto $^{$ Rico"]


def test_a_municipality_name_with_mathtext_draws_the_ficha_chart():
    import matplotlib

    from sinfonia.report import ficha

    series = {"mdm": {"years": [2022, 2023], "own": [50.0, 52.5], "peers": [48.0, 49.0]},
              "idf": {"years": [2022, 2023], "own": [60.0, None], "peers": [61.0, 62.0]}}
    matplotlib.rcParams["text.parse_math"] = True  # whatever an earlier chart or library left
    for name in MATHTEXT_NAMES:
        html = ficha._trend_figure(series, name, f"G$^{name}")
        assert "data:image/png;base64," in html and "&lt;" not in name
        assert f"Evolución de los indicadores de {name}".replace("&", "&amp;") in html


def test_directorate_and_municipality_names_with_mathtext_draw_the_report_charts():
    import matplotlib
    import pandas as pd

    from sinfonia.report import figure_html, prioritisation

    rows = []
    for k, name in enumerate(MATHTEXT_NAMES):
        rows.append({"directorate_id": f"${k}^{{$", "municipality_name": name, "department_name": "Antioquia",
                     "is_eligible": True, "is_selected": k % 2 == 0, "need_score": 40.0 + k,
                     "directorate_goal": 2, "national_rank": k + 1,
                     **{f"{i}_contribution": 1.0 + k for i in prioritisation.INDICATOR_LABELS}})
    df = pd.DataFrame(rows)
    matplotlib.rcParams["text.parse_math"] = True
    for chart in (prioritisation._score_by_directorate, prioritisation._selected_vs_goal):
        fig, _ = chart(df)
        assert "data:image/png" in figure_html(fig, "alt", "caption")
    matplotlib.rcParams["text.parse_math"] = True
    assert "data:image/png" in figure_html(prioritisation._contributions(df), "alt", "caption")
