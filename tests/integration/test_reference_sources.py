"""Every real publication in ../shared/reference through `sinfonia extract` into a real
PostgreSQL, then dbt's staging models and their tests (issue 15): counts read, loaded and
quarantined, values as in the file, nothing published mapped to NULL."""

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import psycopg
import pytest
from psycopg import sql

from sinfonia import dbt
from sinfonia.ingest.tables import read_xlsx_sheets
from tests.conftest import REFERENCE, sinfonia, throwaway_database

pytestmark = pytest.mark.integration

SCORES = ("movilizacion", "ejecucion", "gobierno", "ot", "gestion", "educacion", "salud", "servicios",
          "seguridad", "resultados", "mdm")


def _need(*parts):
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference {'/'.join(parts)} not found beside the checkout (../shared/reference)")
    return path


def _divided_base(folder: Path) -> Path:
    """The reference MDM base with its scores divided back by 100 (a tmp copy, never committed)."""
    sheets = read_xlsx_sheets(_need("mdm", "Base MDM - DNP.xlsx"))
    wb = openpyxl.Workbook(write_only=True)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        scores = [i for i, h in enumerate(rows[0]) if h in SCORES] if rows and rows[0][:3] == ("ID", "año", "cmpio") else []
        for row in rows:
            row = list(row)
            for i in scores:
                if isinstance(row[i], (int, float)):
                    row[i] = row[i] / 100
            ws.append(row)
    folder.mkdir(parents=True)
    wb.save(folder / "Base MDM - DNP.xlsx")
    return folder


def _edition_2025(folder: Path) -> Path:
    """A 2025-like DIVIPOLA export: 27493 added, 94663 gone, two coordinate columns."""
    lines = _need("divipola", "DIVIPOLA.csv").read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",Longitud,Latitud"] + [line + ',"-75,5","6,2"' for line in lines[1:] if ",94663," not in line]
    out.append('27,27493,CHOCÓ,NUEVO BELÉN DE BAJIRÁ,Municipio,"-76,7","7,4"')
    folder.mkdir(parents=True)
    (folder / "DIVIPOLA_2025.csv").write_text("\n".join(out) + "\n", encoding="utf-8")
    return folder


def _dbt(dsn, *args):
    env = {**os.environ, **dbt.env_for(dsn)}
    exe = Path(sys.executable).with_name("dbt")
    # its artefacts under the state folder (dbt.target_dir), never over the project's own target/
    return subprocess.run([str(exe), *args, "--project-dir", str(dbt.config.DBT_DIR), "--profiles-dir",
                           str(dbt.config.DBT_DIR), "--target-path", str(dbt.target_dir())],
                          capture_output=True, text=True, env=env, timeout=600)


def _sources_folder(folder: Path) -> Path:
    """Every reference file in a sources folder, the MDM base divided back by 100 (tmp copies)."""
    _divided_base(folder / "mdm")
    for sub in ("divipola", "pdet", "idf", "ipm", "cgn"):
        (folder / sub).mkdir(parents=True)
        for path in _need(sub).iterdir():
            (folder / sub / path.name).write_bytes(path.read_bytes())
    return folder


@pytest.fixture(scope="module")
def warehouse(server_dsn, tmp_path_factory):
    """A fresh database with every reference file through the pipeline, as a user would: DIVIPOLA,
    the MDM base as published (refused) and the IDF workbooks each through `sinfonia extract`, then
    the whole sources folder (the MDM base divided back by 100) through `sinfonia run`, which loads
    the rest (the files already loaded are the same bytes: kept), builds staging and the marts and
    publishes them."""
    tmp = tmp_path_factory.mktemp("reference")
    with throwaway_database(server_dsn, "ref") as dsn:
        env = {"WAREHOUSE_DSN": dsn}
        out = {}
        out["divipola"] = sinfonia("extract", "divipola", "--from", str(_need("divipola")), env=env).stdout
        out["mdm_refused"] = sinfonia("extract", "mdm", "--from", str(_need("mdm")), env=env, check=False)
        out["mdm_rows_after_refusal"] = _one(dsn, "select count(*) from raw.mdm")[0][0]
        out["mdm_runs_after_refusal"] = _one(dsn, "select count(*) from meta.load_run where source = 'mdm'")[0][0]
        out["idf"] = sinfonia("extract", "idf", "--from", str(_need("idf")), env=env).stdout
        out["run"] = sinfonia("run", "--sources", str(_sources_folder(tmp / "sources")), env=env, check=False)
        yield dsn, out


def _one(dsn, query, *args):
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, args).fetchall()


def test_mdm_base_as_given_is_refused_and_nothing_of_it_loads(warehouse):
    dsn, out = warehouse
    refused = out["mdm_refused"]
    assert refused.returncode != 0
    text = refused.stdout + refused.stderr
    assert "Base MDM - DNP.xlsx" in text and "column 'mdm'" in text and "100 times" in text
    assert "decimal separator lost" in text
    assert out["mdm_rows_after_refusal"] == 0 and out["mdm_runs_after_refusal"] == 0


def test_reference_files_run_through_the_dags(warehouse):
    """Every reference file (the MDM base divided back by 100) in a sources folder, through
    `sinfonia run`: extract, raw gates, dbt build with its tests, marts gates and publish."""
    dsn, out = warehouse
    proc = out["run"]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    quarantined = _one(dsn, "select source, split_part(reason, ':', 1), count(*) from meta.quarantine group by 1, 2")
    assert {(s, r, n) for s, r, n in quarantined} == {
        ("idf", "expected a number", 12),
        ("cgn_categories", "historic sheet 'Categoría con historicos' (Municipios histórico anterior a 2018)", 1)}
    seguridad = _one(dsn, "select count(*), max(value)::float8 from marts.fct_municipal_indicator "
                          "where indicator = 'mdm_seguridad' and value > 100")
    assert seguridad == [(14, 100.23)]
    indicators = dict(_one(dsn, "select indicator, count(*) from marts.fct_municipal_indicator group by 1"))
    assert indicators["mdm"] == 9913 and indicators["capacity_group"] >= 1102
    assert _one(dsn, "select count(*) from marts.fct_municipal_indicator where indicator = 'category' "
                     "and year = 2021 and value_label = '6' and source like 'CGN%%'") == [(957,)]
    medellin = _one(dsn, "select category, capacity_group, is_current from marts.dim_municipality "
                         "where municipality_id = '05001'")
    assert medellin == [("E", "C", True)]


def test_load_runs_reconcile_with_the_files(warehouse):
    dsn, _ = warehouse
    runs = {(s, p): (read, loaded, q) for s, p, read, loaded, q in _one(
        dsn, "select source, period, rows_read, rows_loaded, rows_quarantined from meta.load_run")}
    assert runs[("divipola", "current")] == (1122, 1122, 0)
    # The by-municipality sheet loads; Talaigua Nuevo (13780), in the historic sheet only, is quarantined.
    assert runs[("cgn_categories", "2021")] == (1102, 1101, 1)
    assert runs[("pdet", "2017")] == (170, 170, 0)
    assert runs[("idf", "2018-anterior")] == (1101, 1097, 4)
    assert runs[("idf", "2020-nueva")] == (1101, 1097, 4)
    assert runs[("idf", "2021-nueva")] == (1102, 1098, 4)
    assert runs[("idf", "2023-nueva")] == (1102, 1102, 0)
    assert runs[("idf", "2015-anterior")] == (1101, 1101, 0)  # IDF2015.xlsx, its category under CATEG_LEY 617
    assert {p for s, p in runs if s == "mdm"} == {str(y) for y in range(2016, 2025)}
    assert all(q == 0 for (s, p), (_, _, q) in runs.items() if s == "mdm" and p != "2024")
    # 1,102 municipalities × (mdm, gestión, resultados, 8 dimensions, grupo); the 14 seguridad
    # values DNP published just above 100 (100.23, 100.13) load as published, flagged on the load.
    assert runs[("mdm", "2024")] == (13224, 13224, 0)
    messages = dict(((s, p), m) for s, p, m in _one(dsn, "select source, period, message from meta.load_run"))
    assert messages[("mdm", "2024")].startswith("14 value(s) above 100 loaded as published (mdm_seguridad: 100.13–100.23")
    # and the IDF editions without a capacity-group column say so, as the DIVIPOLA export without
    # coordinates does (no optional column lost silently)
    assert sorted(k for k, m in messages.items() if m) == [("divipola", "current"), ("idf", "2015-anterior"),
                                                           ("idf", "2018-anterior"), ("mdm", "2024")]
    assert "no column for capacity_group" in messages[("idf", "2015-anterior")]
    assert "no column for latitude" in messages[("divipola", "current")]
    assert "longitude" in messages[("divipola", "current")]


def test_staged_values_match_the_files_for_medellin_and_others(warehouse):
    dsn, _ = warehouse
    mdm = dict(((m, i), (v, g)) for m, i, v, g in [(r[0], r[1], r[2], r[3]) for r in _one(
        dsn, "select municipality_id, indicator, value, capacity_group from staging.stg_mdm__scores where year = 2024")])
    assert float(mdm[("05001", "mdm")][0]) == 83.33 and mdm[("05001", "capacity_group")][1] == "C"
    assert mdm[("25214", "capacity_group")][1] == "G1"  # Cota, published as 1
    assert float(mdm[("05030", "mdm")][0]) == 49.35
    assert float(mdm[("05004", "mdm_seguridad")][0]) == 100.23 and float(mdm[("27025", "mdm_seguridad")][0]) == 100.13
    groups = dict(_one(dsn, "select coalesce(capacity_group, 'NULL'), count(*) from staging.stg_mdm__scores "
                            "where indicator = 'capacity_group' group by 1"))
    assert set(groups) == {"C", "G1", "G2", "G3", "G4", "G5"} and sum(groups.values()) == 9918
    cgn = dict(_one(dsn, "select category, count(*) from staging.stg_cgn__categories where year = 2021 group by 1"))
    assert cgn["6"] == 957 and sum(cgn.values()) == 1101  # as the by-municipality sheet gives
    held = _one(dsn, "select file_name, row_number, column_name, value, reason from meta.quarantine "
                     "where source = 'cgn_categories'")
    assert [h[:4] for h in held] == [("CT01 Categorizacion 2021.xlsx", 9, "Categoría", "6")]
    assert "historic sheet 'Categoría con historicos'" in held[0][4] and "does not list 13780" in held[0][4]
    assert _one(dsn, "select category from staging.stg_cgn__categories where year = 2021 and municipality_id = '05001'") == [("E",)]
    idf = dict(_one(dsn, "select municipality_id, round(idf_score, 4) from staging.stg_idf__scores "
                         "where year = 2018 and municipality_id in ('05001', '76001')"))
    assert float(idf["05001"]) == 83.1074


BAD_MAPPINGS = {  # raw table → (columns, values) of a row whose published value maps to NULL
    "mdm": ("year, entity_level, entity_code, indicator, published_indicator, value_label, source_format",
            "'2024', 'municipio', '05001', 'capacity_group', 'grupo', 'Grupo seis', 'dnp_workbook'"),
    "idf": ("year, methodology, municipality_code, idf_score, range_label, category, capacity_group",
            "'2030', 'nueva', '05001', '50', 'Riesgo medio', 'Séptima', 'Grupo 9'"),
    "cgn_categories": ("year, municipality_code, category_published, category", "'2030', '05001', 'Séptima', null"),
    "imrc": ("edition, hazard, municipality_code, imrc, capacity_group", "'2030', 'exceso', '05001', '10', 'Alto'"),
}
EXPECTED_FAILURES = ("mapped_without_loss_stg_mdm__scores_capacity_group",
                     "mapped_without_loss_stg_idf__scores_category", "mapped_without_loss_stg_idf__scores_capacity_group",
                     "mapped_without_loss_stg_idf__scores_range_level", "mapped_without_loss_stg_cgn__categories_category",
                     "mapped_without_loss_stg_imrc__scores_capacity_group")


def test_a_published_value_mapped_to_null_fails_the_staging_tests(warehouse):
    dsn, _ = warehouse
    models = ["stg_mdm__scores", "stg_idf__scores", "stg_cgn__categories", "stg_imrc__scores"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        for table, (columns, values) in BAD_MAPPINGS.items():
            conn.execute(sql.SQL("insert into {} ({}, _load_id, _period, _file, _row_number) "
                                 "values ({}, 0, 'test', 'test', 1)")
                         .format(sql.Identifier("raw", table), sql.SQL(columns), sql.SQL(values)))
        try:
            failed = _dbt(dsn, "test", "--select", *models)
        finally:
            for table in BAD_MAPPINGS:
                conn.execute(sql.SQL("delete from {} where _period = 'test'").format(sql.Identifier("raw", table)))
    assert failed.returncode != 0
    for name in EXPECTED_FAILURES:
        assert any(name in line and "FAIL" in line for line in failed.stdout.splitlines()), (name, failed.stdout[-3000:])
    assert _dbt(dsn, "test", "--select", *models).returncode == 0


def test_idf_2015_loads_its_category_and_the_yearly_mdm_results_their_scores(warehouse, server_dsn):
    dsn, out = warehouse
    assert "no column for capacity_group" in out["idf"]  # the extract's output names the missing column
    idf = _one(dsn, "select round(idf_score, 4), category from staging.stg_idf__scores "
                    "where year = 2015 and municipality_id = '05001'")
    assert [(float(v), c) for v, c in idf] == [(83.7331, "E")]
    assert _one(dsn, "select count(*) from staging.stg_idf__scores where year = 2015 and category = '6'") == [(968,)]
    with throwaway_database(server_dsn, "mdmres") as other:
        env = {"WAREHOUSE_DSN": other}
        sinfonia("extract", "divipola", "--from", str(_need("divipola")), env=env)
        printed = sinfonia("extract", "mdm", "--from", str(_need("mdm", "ResultadosMDM2018.xlsx")), env=env).stdout
        assert "mdm 2018: read 13212, loaded 13212, quarantined 0" in printed
        scores = dict(_one(other, "select indicator, round(value::numeric, 4) from raw.mdm "
                                  "where entity_code = '05001' and year = '2018' and value is not null"))
        assert float(scores["mdm"]) == 80.5844 and float(scores["mdm_gestion"]) == 81.2977


def test_a_newer_divipola_edition_keeps_entities_that_are_gone(warehouse, tmp_path):
    dsn, _ = warehouse
    sinfonia("extract", "divipola", "--from", str(_edition_2025(tmp_path / "divipola")), "--year", "2025",
             env={"WAREHOUSE_DSN": dsn})
    assert _dbt(dsn, "build", "--select", "stg_divipola__municipalities").returncode == 0
    rows = {r[0]: r[1:] for r in _one(dsn, "select municipality_id, is_current, first_seen_edition, last_seen_edition "
                                           "from staging.stg_divipola__municipalities")}
    assert len(rows) == 1123
    assert rows["94663"] == (False, "current", "current")
    assert rows["27493"] == (True, "2025", "2025")
    assert rows["05001"] == (True, "current", "2025")

