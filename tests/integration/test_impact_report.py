"""Estimates through their real path on a real PostgreSQL: the estimator's rows written to
``intermediate.impact_estimates``, built by dbt into ``marts_build.mart_impact_estimates``
(contract and tests), published into ``marts``; and the report's impact section read back."""

import base64
import re

import psycopg
import pytest

from sinfonia import dbt, publish
from sinfonia.bootstrap import bootstrap
from sinfonia.impact import COLUMNS, estimate_all, store
from sinfonia.report.impact import section
from tests.unit.impact_simulation import simulate

pytestmark = pytest.mark.integration


def build_and_publish(dsn):
    dbt.run(["build", "--selector", "impact_estimates"], dsn)
    return publish.publish(dsn)


@pytest.fixture
def with_estimates(fresh_dsn):
    bootstrap(fresh_dsn)
    rows = estimate_all(simulate(1, 3.0), threshold=5)
    with psycopg.connect(fresh_dsn, autocommit=True) as conn:
        store.write_estimates(conn, rows)
    build_and_publish(fresh_dsn)
    return fresh_dsn, rows


def published(dsn):
    with psycopg.connect(dsn) as conn:
        return sorted(conn.execute("select outcome, method, event_time, estimate from marts.mart_impact_estimates"
                                   ).fetchall(), key=str)


def test_estimates_reach_marts_only_through_dbt_and_publish(with_estimates):
    dsn, rows = with_estimates
    with psycopg.connect(dsn, autocommit=True) as conn:
        assert conn.execute("select count(*) from marts.mart_impact_estimates").fetchone()[0] == len(rows)
        overall = conn.execute("""select estimate, ci_low, ci_high from marts.mart_impact_estimates
            where outcome = 'mdm' and method = 'cs_did' and event_time is null""").fetchone()
        store.write_estimates(conn, rows.head(3))  # new estimates: not published until dbt and publish run
        assert conn.execute("select count(*) from marts.mart_impact_estimates").fetchone()[0] == len(rows)
        comments = dict(conn.execute("""select a.attname, col_description(a.attrelid, a.attnum)
            from pg_attribute a where a.attrelid = 'marts.mart_impact_estimates'::regclass and a.attnum > 0
            and not a.attisdropped""").fetchall())
    assert overall[1] <= 3.0 <= overall[2]
    assert set(COLUMNS) <= set(comments) and all(comments.values())  # persist_docs: every column documented
    build_and_publish(dsn)
    assert len(published(dsn)) == 3


def test_a_column_the_estimator_adds_must_be_typed():
    with pytest.raises(ValueError, match="add its SQL type"):
        store.ddl((*COLUMNS, "new_statistic"))


@pytest.mark.parametrize("broken, message", [
    ("duplicate key", "unique_combination_mart_impact_estimates"),
    ("interval without its estimate", "mart_impact_estimates_ci_contains_the_estimate"),
])
def test_a_duplicate_key_or_an_interval_without_its_estimate_is_refused_and_the_published_rows_stay(
        with_estimates, capfd, broken, message):
    dsn, rows = with_estimates
    before = published(dsn)
    bad = rows.copy()
    if broken == "duplicate key":
        bad.loc[1, ["method", "event_time"]] = bad.loc[0, ["method", "event_time"]].values
    else:
        bad.loc[0, "ci_low"] = bad.loc[0, "estimate"] + 1
    with psycopg.connect(dsn, autocommit=True) as conn:
        store.write_estimates(conn, bad)
    with pytest.raises(RuntimeError, match="dbt build"):
        build_and_publish(dsn)
    assert message in capfd.readouterr().out
    assert published(dsn) == before


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


def test_the_section_opens_with_the_strategy_claim_answered_indicator_by_indicator(with_estimates):
    dsn, rows = with_estimates
    with psycopg.connect(dsn) as conn:
        html = section(conn)
        mde = conn.execute("select min_detectable_effect from marts.mart_impact_estimates "
                           "where outcome = 'mdm' and method = 'cs_did' and event_time is null").fetchone()[0]
    expected = rows[(rows["outcome"] == "mdm") & (rows["method"] == "cs_did") & rows["event_time"].isna()]
    assert mde == pytest.approx(float(expected["min_detectable_effect"].iloc[0])) and mde > 0
    claims = html[:html.index("<h3>")]  # before the first outcome's own heading
    for part in ("Gestión pública", "Pobreza multidimensional", "Uso del suelo con catastro multipropósito",
                 "Otros indicadores evaluados", "Efecto mínimo detectable"):
        assert part in claims
    # the simulated run has only mdm: the claimed outcomes without an estimate say why
    ipm = claims[claims.index("Índice de Pobreza Multidimensional"):]
    assert ipm.split("</tr>")[0].count("sin datos suficientes") == 1
    assert "el panel de impacto aún no está publicado" in ipm.split("</tr>")[0]
    assert f"{mde:.2f}".replace(".", ",") in claims
