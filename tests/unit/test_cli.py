"""The command line without a pipeline run: help, the console's lines, safe refusals."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sinfonia import cli, pipeline, warehouse
from sinfonia.ingest import extract

SINFONIA = Path(sys.executable).with_name("sinfonia")


def _subcommands(parser):
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices


def test_every_argument_of_every_command_is_described_and_no_missing_document_is_cited():
    parser = cli.build_parser()
    texts = [parser.format_help()]
    for name, sub in _subcommands(parser).items():
        texts.append(sub.format_help())
        for action in sub._actions:
            assert action.help, f"sinfonia {name}: argument {action.option_strings or action.dest} has no help"
    assert not any("DESIGN.md" in text for text in texts)


def _env(tmp_path) -> dict:
    """A private, empty state folder and no configured warehouse."""
    env = {**os.environ, "SINFONIA_STATE_DIR": str(tmp_path / "state")}
    for name in ("WAREHOUSE_DSN", "AIRFLOW_CONN_SINFONIA_WAREHOUSE"):
        env.pop(name, None)
    return env


def run(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([str(SINFONIA), *args], capture_output=True, text=True, env=env, timeout=120)


def one_line_error(proc) -> str:
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode != 0 and len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def test_a_year_out_of_range_is_refused_in_one_line_before_anything_starts(tmp_path):
    env = _env(tmp_path)
    line = one_line_error(run("prioritise", "--year", "1990", env=env))
    assert line == "sinfonia prioritise: error: --year 1990 is out of range (2000–2100)"
    assert not (tmp_path / "state" / "warehouse").exists()


@pytest.mark.parametrize("args", [("report", "--out", "OUT"), ("prioritise", "--year", "2024"),
                                  ("build",), ("warehouse", "roles")])
def test_commands_that_read_a_warehouse_refuse_an_empty_state_without_starting_a_server(tmp_path, args):
    env = _env(tmp_path)
    args = tuple(str(tmp_path / "out") if a == "OUT" else a for a in args)
    line = one_line_error(run(*args, env=env))
    assert "no warehouse yet" in line and "sinfonia demo" in line
    assert not (tmp_path / "state" / "warehouse").exists()
    assert not (tmp_path / "out").exists()


def test_a_sources_folder_without_a_recognised_file_is_an_error_listing_what_is_expected(tmp_path):
    env = _env(tmp_path)
    empty = tmp_path / "empty"
    (empty / "divipola").mkdir(parents=True)
    (empty / "divipola" / "notes.md").write_text("not a source")  # (.txt is delimited text, read like .csv)
    line = one_line_error(run("run", "--sources", str(empty), env=env))
    assert f"no recognised source file in {empty}" in line
    for expected in ("divipola/*.json|*.csv|*.xlsx|*.txt", "pdet/", "esap/asistencias*.csv", "mdm/", "imrc/"):
        assert expected in line
    assert not (tmp_path / "state" / "warehouse").exists()


def test_extract_finds_the_files_when_given_the_source_folder_itself(tmp_path):
    folder = tmp_path / "sources" / "pdet"
    folder.mkdir(parents=True)
    (folder / "MunicipiosPDET.xlsx").write_bytes(b"x")
    found = ([folder / "MunicipiosPDET.xlsx"], tmp_path / "sources")
    assert extract.source_files(tmp_path / "sources", "pdet") == found
    assert extract.source_files(folder, "pdet") == found
    with pytest.raises(extract.NoSourceFiles, match=r"no esap_asistencias files in .*expected esap/asistencias"):
        extract.source_files(folder, "esap_asistencias")


def _url(password: str, user: str = "analyst", rest: str = "127.0.0.1:1/sinfonia") -> str:
    """A URL with a password, built so that no literal one sits in the repository (test_no_secrets)."""
    return "postgresql://" + user + ":" + password + "@" + rest


def test_warehouse_url_and_status_report_the_configured_server_with_its_password_hidden(tmp_path):
    env = {**_env(tmp_path), "WAREHOUSE_DSN": _url("s3cret")}
    url = run("warehouse", "url", env=env)
    assert url.returncode == 0 and url.stdout.strip() == _url("***")
    status = run("warehouse", "status", env=env)
    assert status.returncode == 3 and "s3cret" not in status.stdout + status.stderr
    assert status.stdout.startswith(f"unreachable: {_url('***')} (from WAREHOUSE_DSN)")
    start = run("warehouse", "start", env=env)
    assert "WAREHOUSE_DSN is set" in one_line_error(start)
    assert not (tmp_path / "state" / "warehouse").exists()


def test_masking_hides_passwords_of_urls_and_keyword_strings():
    assert warehouse.masked(_url("p", "u", "h:5/d")) == _url("***", "u", "h:5/d")
    assert warehouse.masked("postgresql://u@h:5/d") == "postgresql://u@h:5/d"
    assert warehouse.masked("host=h user=u password=p dbname=d") == "host=h user=u password=*** dbname=d"
    assert warehouse.masked("host=h password='a b' dbname=d") == "host=h password=*** dbname=d"


def test_rows_are_read_from_what_each_kind_of_task_returns():
    loads = [{"source": "idf", "rows_loaded": 1000, "rows_quarantined": 2},
             {"source": "idf", "rows_loaded": 234, "rows_quarantined": 0}]
    assert pipeline.rows_text(loads) == "1,234 rows, 2 quarantined"
    assert pipeline.rows_text([]) == "0 rows"
    assert pipeline.rows_text({"run_id": 3, "rows": 1122, "status": "written"}) == "1,122 rows"
    assert pipeline.rows_text({"dim_date": 4018, "fct_x": 12}) == "4,030 rows in 2 tables"
    assert pipeline.rows_text("12/12 expectations passed") is None
    assert pipeline.rows_text({"ok": True}) is None
    assert pipeline.rows_text(None) is None


def test_a_task_line_names_the_task_its_rows_and_seconds():
    line = pipeline.task_line("extract_idf", "success", "1,234 rows", 4.25)
    assert line.split() == ["ok", "extract_idf", "1,234", "rows", "4.2", "s"]
    assert pipeline.task_line("gate_raw", "failed", None, 1.0).split()[:2] == ["FAILED", "gate_raw"]


def test_output_to_sends_the_process_and_its_children_to_the_log_and_lines_to_the_terminal(tmp_path):
    log = tmp_path / "run.log"
    code = textwrap.dedent(f"""
        import logging, subprocess, sys
        from pathlib import Path
        from sinfonia import pipeline
        print("before")
        with pipeline.output_to(Path({str(log)!r})) as say:
            print("python print")
            logging.basicConfig()
            logging.getLogger("airflow.task").warning("a logged warning")
            subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('child stderr\\\\n')"])
            say("a progress line")
        print("after")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["before", "a progress line", "after"] and proc.stderr == ""
    logged = log.read_text()
    for text in ("python print", "a logged warning", "child stderr"):
        assert text in logged
    assert "a progress line" not in logged
