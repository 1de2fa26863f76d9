"""The real DAGs end to end (through the command line, as a user runs them) on a real PostgreSQL."""

import json
import shutil

import openpyxl
import psycopg
import pytest
from psycopg import sql

from sinfonia.ingest.extract import discover
from sinfonia.ingest.sources import SOURCES
from tests.conftest import sample_run, sinfonia
from tests.helpers import landed
from tests.integration.test_retries import tries

pytestmark = pytest.mark.integration

MARTS = ("dim_municipality", "dim_territorial_directorate", "dim_thematic_line", "dim_date",
         "fct_technical_assistance", "fct_municipal_indicator")


def snapshot(dsn):
    """Every published mart's rows, sorted: 'byte for byte' comparable."""
    out = {}
    with psycopg.connect(dsn) as conn:
        for t in MARTS:
            rows = conn.execute(sql.SQL("select * from {}").format(sql.Identifier("marts", t))).fetchall()
            out[t] = sorted(json.dumps(r, default=str) for r in rows)
    return out


@pytest.fixture(scope="module")
def published(server_dsn, small_sample, state_dir):
    """One database, the small sample run through the DAGs once."""
    with sample_run(server_dsn, small_sample, "pipe") as run:
        yield run


def test_run_publishes_every_mart_and_prints_row_counts(published, small_sample):
    dsn, proc = published
    entities = sum(len(json.loads(p.read_text())) for p in (small_sample / "divipola").glob("*.json"))
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from marts.dim_municipality").fetchone()[0] == entities
        assert conn.execute("select count(*) from marts.dim_territorial_directorate").fetchone()[0] == 16
        assert conn.execute("select count(distinct directorate_id) from marts.dim_municipality").fetchone()[0] == 16
    assert "marts.dim_municipality" in proc.stdout and f"{entities:>8,} rows" in proc.stdout


def test_assistances_are_the_latest_export_per_id(published, small_sample):
    dsn, _ = published
    latest = sorted(discover(small_sample, "esap_asistencias"))[-1]
    [batch] = SOURCES["esap_asistencias"].parse([landed(latest)])
    cols = SOURCES["esap_asistencias"].columns
    rows = {r[2]: dict(zip(cols, r[2:], strict=False)) for r in batch.rows}
    with psycopg.connect(dsn) as conn:
        facts = {r[0]: r for r in conn.execute(
            "select assistance_id, status, delivered_date::text, is_on_time, municipality_id "
            "from marts.fct_technical_assistance")}
        orphans = conn.execute("""select count(*) from marts.fct_technical_assistance f
            left join marts.dim_municipality d using (municipality_id) where d.municipality_id is null""").fetchone()[0]
    assert set(facts) == set(rows) and orphans == 0
    for aid, row in list(rows.items())[:50]:
        status, delivered, on_time, muni = facts[aid][1:]
        assert (status, delivered, muni) == (row["status"], row["delivered_date"], row["municipality_code"])
        if status == "Entregada":
            assert on_time == (row["delivered_date"] <= row["due_date"])


def test_idf_values_match_the_workbooks(published, small_sample):
    dsn, _ = published
    batches = SOURCES["idf"].parse([landed(p) for p in discover(small_sample, "idf")])
    expected = {}
    for b in batches:
        for r in b.rows:
            indicator = "idf" if r[3] == "nueva" else "idf_anterior"
            expected[(r[4], indicator, int(r[2]))] = float(r[7])
    with psycopg.connect(dsn) as conn:
        got = {(m, i, y): float(v) for m, i, y, v in conn.execute(
            "select municipality_id, indicator, year, value from marts.fct_municipal_indicator "
            "where indicator in ('idf', 'idf_anterior')")}
        both_2021 = conn.execute("""select count(distinct indicator) from marts.fct_municipal_indicator
            where year = 2021 and indicator in ('idf', 'idf_anterior')""").fetchone()[0]
    assert got.keys() == expected.keys()
    assert all(abs(got[k] - expected[k]) < 1e-9 for k in expected)
    assert both_2021 == 2


def test_loads_reconcile_and_the_raw_gate_is_recorded(published):
    dsn, _ = published
    with psycopg.connect(dsn) as conn:
        assert conn.execute("select count(*) from meta.load_run where rows_read <> rows_loaded + rows_quarantined").fetchone()[0] == 0
        suites = {r[0] for r in conn.execute("select distinct suite from meta.gate_result")}
    assert {"raw_divipola", "raw_idf", "raw_pdet", "raw_esap_asistencias", "marts_dim_municipality"} <= suites


def test_information_schema_agrees_with_the_documented_columns(published):
    """Every built model's columns in the database are exactly the ones documented in dbt."""
    from sinfonia import dbt

    manifest = json.loads(dbt.ensure_manifest().read_text(encoding="utf-8"))
    dsn, _ = published
    problems = []
    with psycopg.connect(dsn) as conn:
        for node in manifest["nodes"].values():
            if node["resource_type"] != "model" or node["config"]["materialized"] == "ephemeral":
                continue  # an ephemeral model is a CTE of the models that read it, not a relation
            schemas = ["marts", "marts_build"] if node["schema"] == "marts_build" else [node["schema"]]
            for schema in schemas:
                actual = [r[0] for r in conn.execute(
                    "select column_name from information_schema.columns where table_schema = %s "
                    "and table_name = %s order by ordinal_position", (schema, node["name"]))]
                if set(actual) != set(node["columns"]):
                    problems.append(f"{schema}.{node['name']}: in the database {sorted(set(actual) - set(node['columns']))}"
                                    f" undocumented, documented {sorted(set(node['columns']) - set(actual))} missing")
    assert not problems, "\n".join(problems)


def test_every_source_is_fresh_by_its_load_timestamp_after_a_run(published, tmp_path):
    """The loader stamps every raw row with _loaded_at, the sources' loaded_at_field: dbt source
    freshness finds it on every source and, just loaded, passes."""
    from sinfonia import dbt

    dsn, _ = published
    out = tmp_path / "sources.json"
    dbt.run(["source", "freshness", "--output", str(out)], dsn)
    results = {r["unique_id"].split(".", 2)[2]: r["status"] for r in json.loads(out.read_text())["results"]}
    assert {"divipola.divipola", "esap.esap_asistencias", "restricted.esap_equipos", "ipm.ipm_privations"} <= set(results)
    assert set(results.values()) == {"pass"}, results
    with psycopg.connect(dsn) as conn:
        stale = conn.execute("select count(*) from raw.idf where _loaded_at < now() - interval '1 day'").fetchone()[0]
    assert stale == 0


def test_published_marts_carry_their_contracts_primary_keys(published):
    """publish copies marts_build's tables with their constraints: the contract's primary keys
    hold in marts too."""
    from tests.unit.test_dbt_project_evaluator import PRIMARY_KEY_EXCEPTIONS, models

    expected = {m["name"] for m in models() if m["schema"] == "marts_build"} - PRIMARY_KEY_EXCEPTIONS
    dsn, _ = published
    with psycopg.connect(dsn) as conn:
        keyed = {r[0] for r in conn.execute(
            "select rel.relname from pg_constraint c join pg_class rel on rel.oid = c.conrelid "
            "join pg_namespace n on n.oid = rel.relnamespace where n.nspname = 'marts' and c.contype = 'p'")}
    assert expected <= keyed, f"published marts without their primary key: {sorted(expected - keyed)}"


def test_gate_summary_is_recorded_per_suite(published):
    dsn, _ = published
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("""select suite, passed, failed_critical, seconds from meta.gate_run
                               where gate = 'marts_'""").fetchall()
    suites = {r[0] for r in rows}
    assert {"marts_dim_date", "marts_dim_municipality", "marts_dim_territorial_directorate", "marts_dim_thematic_line",
            "marts_fct_technical_assistance", "marts_fct_municipal_indicator"} <= suites
    assert all(r[1] > 0 and r[2] == 0 and r[3] >= 0 for r in rows)


def test_second_run_is_idempotent(published, small_sample):
    dsn, _ = published
    before = snapshot(dsn)
    sinfonia("run", "--sources", str(small_sample), env={"WAREHOUSE_DSN": dsn})
    assert snapshot(dsn) == before


def test_failed_gate_names_expectations_and_leaves_published_marts_untouched(published, small_sample, tmp_path):
    dsn, _ = published
    before = snapshot(dsn)
    bad = tmp_path / "bad"
    shutil.copytree(small_sample, bad)
    path = sorted((bad / "idf").glob("ResultadosIDF*"))[-1]
    wb = openpyxl.load_workbook(path)
    ws = wb[[n for n in wb.sheetnames if n.startswith("Municipios")][0]]
    score_col = [c.value for c in ws[7]].index("Nuevo IDF") + 1
    ws.cell(row=8, column=1, value="99999")  # not in DIVIPOLA: quarantined at extract time
    ws.cell(row=9, column=score_col, value=130)  # out of range: quarantined at extract time
    wb.save(path)
    # A DIVIPOLA page that no longer lists a PDET municipality: the PDET file, unchanged, is not
    # extracted again, so raw.pdet still refers to it and only the raw gate can stop the run.
    pdet = openpyxl.load_workbook(bad / "pdet" / "MunicipiosPDET.xlsx").active
    code_col = [c.value for c in pdet[1]].index("Código DANE Municipio")
    gone = f"{int(pdet.cell(row=2, column=code_col + 1).value):05d}"
    [page] = (bad / "divipola").glob("*.json")
    page.write_text(json.dumps([r for r in json.loads(page.read_text(encoding="utf-8")) if r["cod_mpio"] != gone]),
                    encoding="utf-8")
    proc = sinfonia("run", "--sources", str(bad), env={"WAREHOUSE_DSN": dsn}, check=False)
    assert proc.returncode != 0
    assert "gate_raw" in proc.stderr and "every PDET code exists in DIVIPOLA" in proc.stderr
    assert tries("gate_raw") == (1, "failed")  # a failed gate is not retried: the data would not change
    with psycopg.connect(dsn) as conn:
        quarantined = conn.execute("select row_number, value, reason from meta.quarantine where file_name = %s",
                                   (path.name,)).fetchall()
    assert (9, "130", "outside the published range 0–100") in quarantined
    assert (8, "99999", "code 99999 does not resolve to DIVIPOLA (in no edition of raw.divipola: current)") in quarantined
    assert snapshot(dsn) == before
    # A clean run afterwards publishes normally again.
    sinfonia("run", "--sources", str(small_sample), env={"WAREHOUSE_DSN": dsn})
    assert snapshot(dsn) == before


MDM_DIMENSIONS = {"mdm_movilizacion", "mdm_ejecucion", "mdm_gobierno_abierto", "mdm_ordenamiento_territorial",
                  "mdm_educacion", "mdm_salud", "mdm_servicios", "mdm_seguridad"}
INDICATORS = MDM_DIMENSIONS | {"mdm", "mdm_gestion", "mdm_resultados", "idf", "idf_anterior", "idf_bono_catastro", "ipm", "ipm_cabecera", "ipm_rural",
              "imrc_exceso", "imrc_deficit", "category", "capacity_group"}


def test_every_indicator_code_of_the_contract_is_published(published, small_sample):
    dsn, _ = published
    with psycopg.connect(dsn) as conn:
        codes = {r[0] for r in conn.execute("select distinct indicator from marts.fct_municipal_indicator")}
        labels = dict(conn.execute("""select indicator, array_agg(distinct value_label order by value_label)
            from marts.fct_municipal_indicator where indicator in ('category', 'capacity_group') group by 1"""))
        cgn_wins = conn.execute("""select count(*) filter (where source like 'CGN%%'), count(*)
            from marts.fct_municipal_indicator where indicator = 'category' and year between 2019 and 2026""").fetchone()
        sources = {r[0] for r in conn.execute(
            "select source from meta.load_run where rows_read = rows_loaded + rows_quarantined and rows_loaded > 0")}
    assert codes == INDICATORS
    assert set(labels["category"]) <= {"E", "1", "2", "3", "4", "5", "6"} and "6" in labels["category"]
    assert set(labels["capacity_group"]) <= {"C", "G1", "G2", "G3", "G4", "G5"}
    assert cgn_wins[0] == cgn_wins[1] > 0  # CGN's certified category wins over the IDF one
    assert {"mdm", "ipm", "ipm_privations", "imrc", "cgn_categories"} <= sources


def test_mdm_values_match_the_socrata_pages_and_dnp_workbooks(published, small_sample):
    dsn, _ = published
    expected = {}
    for b in SOURCES["mdm"].parse([landed(p) for p in discover(small_sample, "mdm")]):
        for r in b.rows:
            expected[(r[4], r[7], int(r[2]))] = float(r[9])
    with psycopg.connect(dsn) as conn:
        got = {(m, i, y): float(v) for m, i, y, v in conn.execute(
            "select municipality_id, indicator, year, value from marts.fct_municipal_indicator "
            "where indicator like 'mdm%%'")}
        published_on = dict(conn.execute("""select year, min(published_on) from marts.fct_municipal_indicator
            where indicator = 'mdm' group by year"""))
    assert got.keys() == expected.keys() and all(abs(got[k] - expected[k]) < 1e-9 for k in expected)
    # The dimensions come with the workbooks (2021 on), never from the API's pages.
    assert {y for (_, i, y) in got if i in MDM_DIMENSIONS} == {2021, 2022, 2023, 2024}
    assert all(d.isoformat() == f"{y + 1}-10-31" for y, d in published_on.items())  # from MANIFEST.csv
