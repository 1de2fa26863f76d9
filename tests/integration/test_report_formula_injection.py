"""Text from a source can never become a live formula in the staff workbook (issue 16, OWASP's
CSV injection): spreadsheet payloads as DIVIPOLA municipality names, through the whole pipeline
(extract, dbt, gates, publish, prioritisation) and ``sinfonia report``."""

import json
import shutil

import openpyxl
import psycopg
import pytest

from sinfonia.report.spanish import place_name
from tests.conftest import sample_run, sinfonia

pytestmark = pytest.mark.integration

PAYLOADS = ("=Cmd|' /C Calc'!A0", '=Hyperlink("Http://X","Y")', "+1+1", "-2+3", "@SUM(1+1)")


def inject(folder) -> int:
    """Every municipality of the sample's DIVIPOLA pages gets a payload in front of its name
    (kept unique by the name after it); returns how many names were changed."""
    changed = 0
    for page in sorted((folder / "divipola").glob("*.json")):
        records = json.loads(page.read_text(encoding="utf-8"))
        for k, record in enumerate(records):
            record["nom_mpio"] = f"{PAYLOADS[k % len(PAYLOADS)]} {record['nom_mpio']}"
            changed += 1
        page.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    return changed


def looks_like_a_formula(value) -> bool:
    return isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.fixture(scope="module")
def hostile_report(server_dsn, small_sample, state_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile") / "sources"
    shutil.copytree(small_sample, folder)
    assert inject(folder) > 100
    out = tmp_path_factory.mktemp("informe")
    with sample_run(server_dsn, folder, "inject") as (dsn, _):
        sinfonia("report", "--out", str(out), env={"WAREHOUSE_DSN": dsn})
        with psycopg.connect(dsn) as conn:
            names = [r[0] for r in conn.execute(  # the universe of the prioritised list
                "select municipality_name from marts.dim_municipality where entity_type <> 'area_no_municipalizada'")]
        yield out, names


def test_payload_names_reach_the_marts_unchanged(hostile_report):
    _, names = hostile_report
    assert sum(n.startswith(PAYLOADS[:2]) for n in names) > 40  # the payloads went all the way through


def test_no_cell_of_any_workbook_is_a_formula_and_the_payloads_are_there_as_text(hostile_report):
    out, names = hostile_report
    books = sorted(out.glob("*.xlsx"))
    assert books
    texts = []
    for path in books:
        # read twice: as stored (formulas kept as formulas) and as a spreadsheet would show values
        for wb in (openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)):
            for ws in wb.worksheets:
                for row in ws.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", f"{path.name}!{ws.title}!{cell.coordinate} is a formula"
                        assert not looks_like_a_formula(cell.value), (
                            f"{path.name}!{ws.title}!{cell.coordinate} starts like a formula: {cell.value!r}")
                        if isinstance(cell.value, str):
                            texts.append(cell.value)
    # every name is still there, readable, behind OWASP's single quote (nothing was dropped)
    shown = set(texts)
    missing = [n for n in names if n.startswith(PAYLOADS) and "'" + place_name(n) not in shown]
    assert not missing, missing[:3]
    assert sum(t.startswith("'=Cmd|' /C Calc'!A0") for t in texts) > 20


def test_the_html_report_escapes_the_payloads(hostile_report):
    out, _ = hostile_report
    page = (out / "index.html").read_text(encoding="utf-8")
    assert '=Hyperlink("Http://X","Y")' not in page and "=Cmd|' /C Calc'!A0" not in page
    assert ("=Hyperlink(&quot;Http://X&quot;,&quot;Y&quot;)" in page
            or "=Cmd|&#x27; /C Calc&#x27;!A0" in page)
