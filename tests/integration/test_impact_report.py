"""Estimates written to a real PostgreSQL and the report's impact section read back from it."""

import base64
import re

import psycopg
import pytest

from sinfonia.impact import estimate_all, store
from sinfonia.report.impact import section
from tests.unit.impact_simulation import simulate

pytestmark = pytest.mark.integration


@pytest.fixture
def with_estimates(fresh_dsn):
    rows = estimate_all(simulate(1, 3.0), threshold=5)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        store.write_estimates(conn, rows)
    return fresh_dsn, rows


def test_writing_replaces_the_previous_estimates(with_estimates):
    dsn, rows = with_estimates
    with psycopg.connect(dsn, autocommit=True) as conn:
        store.write_estimates(conn, rows)
        assert conn.execute("select count(*) from marts.mart_impact_estimates").fetchone()[0] == len(rows)
        overall = conn.execute("""select estimate, ci_low, ci_high from marts.mart_impact_estimates
            where outcome = 'mdm' and method = 'cs_did' and event_time is null""").fetchone()
    assert overall[1] <= 3.0 <= overall[2]


def test_a_duplicate_key_is_refused_and_the_published_rows_stay(with_estimates):
    dsn, rows = with_estimates
    bad = rows.copy()
    bad.loc[1, ["method", "event_time"]] = bad.loc[0, ["method", "event_time"]].values
    with psycopg.connect(dsn, autocommit=True) as conn:
        with pytest.raises(ValueError, match="duplicate impact estimate keys"):
            store.write_estimates(conn, bad)
        inverted = rows.copy()
        inverted.loc[0, "ci_low"] = inverted.loc[0, "estimate"] + 1
        with pytest.raises(psycopg.errors.CheckViolation):
            store.write_estimates(conn, inverted)
        assert conn.execute("select count(*) from marts.mart_impact_estimates").fetchone()[0] == len(rows)


def test_report_section_shows_the_event_study_and_naive_next_to_cs(with_estimates):
    dsn, rows = with_estimates
    with psycopg.connect(dsn) as conn:
        html = section(conn)
    assert html.startswith('<section id="impacto">') and html.endswith("</section>")
    assert "Impacto de la asistencia técnica" in html and "MDM (puntaje total)" in html
    png = re.search(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html).group(1)
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
    overall = rows[rows["event_time"].isna()].set_index("method")["estimate"]
    for method in ("cs_did", "naive"):
        assert f"{overall[method]:+.2f}".replace(".", ",") in html
    assert "Comparación ingenua" in html and "sesgo de selección" in html
    assert "Placebo" in html and "Tendencias previas" in html


def test_report_section_says_when_there_are_no_estimates(fresh_dsn):
    with psycopg.connect(fresh_dsn) as conn:
        html = section(conn)
    assert "Aún no hay estimaciones" in html and "<img" not in html
