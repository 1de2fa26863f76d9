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
