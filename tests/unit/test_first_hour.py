"""What a new user meets in the first hour, without a pipeline run: mistyped options, the
warehouse line of the summary, a build of a warehouse never extracted."""

from __future__ import annotations

import pytest

from sinfonia import cli, dbt
from sinfonia.commands import output


@pytest.mark.parametrize(("argv", "named", "hint"), [
    (["prioritise", "--yaer", "2025"], "--yaer", "--year"),
    (["extract", "idf", "--form", "x.xlsx"], "--form", "--from"),
    (["prioritise", "--year", "2025", "--forse"], "--forse", "--force"),
    (["report", "--out", "r", "--yera", "2024"], "--yera", "--year"),
])
def test_a_mistyped_option_is_reported_as_unknown_with_the_closest_one(argv, named, hint, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"unrecognized arguments: {named} (did you mean {hint}?)" in err, err
    assert "required" not in err.splitlines()[-1], err


def test_a_missing_required_option_is_still_reported_as_missing(capsys):
    with pytest.raises(SystemExit):
        cli.main(["report"])
    assert "the following arguments are required: --out" in capsys.readouterr().err


def test_the_summary_gives_the_embedded_warehouse_url_whole_and_a_configured_one_masked(monkeypatch):
    monkeypatch.setattr(output, "STARTED_WITH", [])  # no command started in this process: the environment
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SINFONIA_WAREHOUSE", raising=False)
    word = "s3cret"
    url = f"postgresql://postgres:{word}@127.0.0.1:5544/sinfonia"
    assert output.warehouse_line(url).splitlines()[0] == f"Warehouse: {url}"
    configured = f"postgresql://ana:{word}@db.example.org/sinfonia"
    monkeypatch.setenv("WAREHOUSE_DSN", configured)
    line = output.warehouse_line(configured)
    assert word not in line and "ana:***@db.example.org" in line and "password hidden" in line


def test_a_build_that_found_no_raw_table_names_them_once_each():
    message = ('Database Error in model stg_divipola\n  relation "raw.divipola" does not exist\n'
               'Database Error in model stg_cgn\n  relation "raw.cgn_categories" does not exist\n'
               'relation "raw.cgn_categories" does not exist\nrelation "marts_build.x" does not exist')
    assert dbt.missing_sources(message) == ["raw.divipola", "raw.cgn_categories"]
    assert dbt.missing_sources("Got 3 results, configured to fail if != 0") == []


# -- make lock: the same tree, the same bytes -------------------------------------------------------
def _install_script():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "install.py"
    spec = importlib.util.spec_from_file_location("install_script_first_hour", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_make_lock_on_an_unchanged_tree_writes_the_same_bytes_and_leaves_the_file_alone(tmp_path):
    import os
    import random
    from pathlib import Path

    install = _install_script()
    committed = Path(install.LOCK).read_text(encoding="utf-8")
    pins = install.locked(install.LOCK)
    shuffled = pins[:]
    random.Random(3).shuffle(shuffled)  # pip lists the same packages in another order after uv
    assert install.lock_text("\n".join(shuffled) + "\n") == committed
    lock = tmp_path / "requirements.lock"
    assert install.write_lock(lock, committed) is True
    os.utime(lock, (1_000_000, 1_000_000))
    assert install.write_lock(lock, install.lock_text("\n".join(reversed(pins)))) is False
    assert lock.stat().st_mtime == 1_000_000 and lock.read_text(encoding="utf-8") == committed
    assert install.write_lock(lock, install.lock_text("\n".join([*pins, "zzz-new==1.0"]))) is True


def test_the_install_says_what_it_is_doing_when_it_has_been_silent():
    import io
    import time

    install = _install_script()
    out = io.StringIO()
    progress = install.Progress(3, stream=out)
    with install.Heartbeat(progress, every=1.0) as beat:
        beat.enter("byte-compiling")
        time.sleep(3.4)
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 4 and all(line.startswith("  … byte-compiling (") for line in lines), lines


# -- the console's heartbeat ------------------------------------------------------------------------
class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_silent_task_gets_a_heartbeat_line_with_its_elapsed_time_and_a_talking_one_does_not():
    from sinfonia import console

    clock, lines = _Clock(), []
    out = console.Console(lines.append, every=10, clock=clock)
    out.close()  # the test drives beat() itself
    clock.now = 30
    assert out.beat() is False  # nothing running: no heartbeat (before the first task, after the last)
    out("→ sinfonia_transform …")
    out.doing("sinfonia_transform")
    with out.running("dbt_build"):
        clock.now = 39
        assert out.beat() is False
        clock.now = 41
        assert out.beat() is True
        clock.now = 45
        out("    ok      gate_raw   1.0 s")  # a line resets the silence
        clock.now = 54
        assert out.beat() is False
        clock.now = 55.5
        assert out.beat() is True
    clock.now = 70
    assert out.beat() is True
    assert lines == ["→ sinfonia_transform …", console.heartbeat_line("dbt_build", 11), "    ok      gate_raw   1.0 s",
                     console.heartbeat_line("dbt_build", 25.5), console.heartbeat_line("sinfonia_transform", 40)]
    assert lines[1] == "    …       dbt_build still running (11 s so far)"


def test_while_silent_prints_heartbeats_from_its_thread_and_returns_the_result(monkeypatch):
    import time

    from sinfonia import console

    monkeypatch.setenv("SINFONIA_HEARTBEAT_S", "0.5")
    lines = []
    assert console.while_silent("writing the report", lambda: time.sleep(1.8) or 42, lines.append) == 42
    assert 2 <= len(lines) <= 4 and all("writing the report still running" in line for line in lines), lines
    monkeypatch.setenv("SINFONIA_HEARTBEAT_S", "soon")
    with pytest.raises(ValueError, match="SINFONIA_HEARTBEAT_S"):
        console.heartbeat_seconds()


# -- the characterisation sheets and the report, on fixed rows --------------------------------------
def _suggestion(rule: str, line: str, indicator: str, value: float) -> dict:
    return {"rule_id": rule, "thematic_line_id": line, "thematic_line_name": f"Línea {line}", "indicator": indicator,
            "reason": f"regla {rule}", "value": value, "year": 2024, "peer_percentile": 10, "peer_median": 50.0}


def test_a_line_suggested_by_three_rules_is_listed_once_with_the_three_reasons():
    import re

    from sinfonia.report import ficha

    row = {"suggestions": [_suggestion("a", "GP", "mdm", 30.5), _suggestion("b", "FI", "idf", 40.0),
                           _suggestion("c", "GP", "mdm_gestion", 20.0), _suggestion("d", "GP", "ipm", 70.0)]}
    page = ficha._suggestions_html(row)
    heads = re.findall(r"<strong>Línea (\w+)</strong>", page)
    assert heads == ["GP", "FI"]
    assert "por 3 reglas" in page and all(f"regla {r}" in page for r in "abcd")


def test_an_indicator_with_one_year_is_not_charted_but_named_and_charts_come_two_a_row():
    import re

    from sinfonia.report import ficha

    def series(years, own):
        return {"years": years, "own": own, "peers": [50.0] * len(years)}

    found = {"mdm": series([2021, 2022, 2023], [40.0, 42.0, 45.0]), "idf": series([2022, 2023], [60.0, 61.0]),
             "mdm_gestion": series([2022, 2023], [30.0, 33.0]), "ipm": series([2018], [35.0]),
             "imrc_exceso": series([2019, 2020], [None, 12.0])}
    page = ficha._trend_figure(found, "Ciudad", "G3")
    assert len(re.findall(r"<figure>", page)) == 2  # mdm + gestión, then idf alone
    assert "IPM: pobreza multidimensional" in page.split("</figure>")[-1]  # in the note, not in a chart
    assert "IMRC: riesgo por exceso de lluvias" in page.split("</figure>")[-1]
    assert "sin tendencia que graficar" in page
    assert "@media print" in ficha.PRINT_STYLE and "break-inside: avoid" in ficha.PRINT_STYLE


@pytest.mark.parametrize(("elapsed", "done", "total", "said"), [
    (10.0, 1, 67, " (about 11 min left)"), (10.0, 2, 4, " (about 10 s left)"), (30.0, 3, 3, "")])
def test_a_long_run_of_sheets_says_how_long_is_left(elapsed, done, total, said):
    from sinfonia.report import ficha

    assert ficha._time_left(elapsed, done, total) == said


def test_the_report_explains_a_year_without_goals_and_says_nothing_for_a_year_with_goals():
    import pandas as pd

    from sinfonia.report import prioritisation

    none = pd.DataFrame({"directorate_goal": [0, 0, None]})
    text = prioritisation._no_goals_html(none, 2031)
    assert "2031 no tiene metas" in text and "sinfonia prioritise --year 2031 --force" in text
    assert prioritisation._no_goals_html(pd.DataFrame({"directorate_goal": [0, 4]}), 2025) == ""


# -- smaller things a user trips on -----------------------------------------------------------------
def test_a_file_where_a_folder_is_expected_is_said_plainly(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SINFONIA_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SINFONIA_WAREHOUSE", raising=False)
    afile = tmp_path / "README.md"
    afile.write_text("not a folder")
    assert cli.main(["run", "--sources", str(afile)]) == 1
    assert f"{afile} is a file, not a sources folder" in capsys.readouterr().err
    assert cli.main(["report", "--out", str(afile)]) == 1
    err = capsys.readouterr().err
    assert f"--out {afile} is a file" in err and "FileExistsError" not in err
    assert not (tmp_path / "state" / "warehouse").exists()  # refused before any server was started


def test_an_unreachable_configured_warehouse_names_the_setting(tmp_path, capsys, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WAREHOUSE_DSN", f"postgresql://ana@127.0.0.1:{port}/sinfonia?connect_timeout=3")
    assert cli.main(["report", "--out", str(tmp_path / "r")]) == 1
    first = capsys.readouterr().err.splitlines()[0]
    assert first.startswith("sinfonia report: error: cannot use the warehouse of WAREHOUSE_DSN")
    assert "OperationalError" not in first


def test_the_weekly_messages_are_reported_as_messages_not_rows():
    from sinfonia import pipeline

    assert pipeline.rows_text({"sent": 4, "already_sent": 12, "failed": 0, "without_recipients": 0}) == \
        "4 sent, 12 already sent"
    assert pipeline.rows_text({"sent": 0, "already_sent": 0, "failed": 2, "without_recipients": 1}) == \
        "0 sent, 2 failed, 1 without recipients"


def test_a_skipped_notification_says_which_connection_is_missing(monkeypatch):
    from sinfonia import pipeline

    monkeypatch.delenv("AIRFLOW_CONN_SINFONIA_SMTP", raising=False)
    monkeypatch.delenv("SINFONIA_SMTP_CONN_ID", raising=False)
    from sinfonia import notify

    monkeypatch.setattr(notify, "_connection_exists", lambda name: False)
    assert pipeline.skip_reason("notify_directorates") == "no mail connection sinfonia_smtp (AIRFLOW_CONN_SINFONIA_SMTP)"
    assert pipeline.skip_reason("publish") is None
    monkeypatch.setattr(notify, "_connection_exists", lambda name: True)
    assert pipeline.skip_reason("notify_directorates") is None


def test_the_docs_front_page_is_styled_and_says_what_each_site_holds(tmp_path):
    from sinfonia import docs

    pages = {"dbt": tmp_path / "dbt" / "index.html", "data_docs": tmp_path / "data_docs" / "index.html"}
    page = docs.index_html(pages, tmp_path, 7)
    assert "<style>" in page and "href='dbt/index.html'" in page and "href='data_docs/index.html'" in page
    assert "lineage graph" in page and "7 suites validated" in page


def test_dbt_docs_open_on_the_projects_overview_with_the_music_metaphor_explained():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "dbt_project"
    overview = (root / "models" / "overview.md").read_text(encoding="utf-8")
    assert "{% docs __overview__ %}" in overview
    for official, metaphor in (("territorial directorate", "record label"), ("technical assistance", "song"),
                               ("goal of the year", "playlist")):
        assert official in overview and metaphor in overview
    cited = [p for p in root.rglob("*") if p.suffix in (".yml", ".sql", ".md") and "target" not in p.parts
             and ("DESIGN.md" in p.read_text(encoding="utf-8") or "(issue " in p.read_text(encoding="utf-8"))]
    assert cited == [], "documents that are not in the repository are cited"


def test_the_summary_names_no_setting_the_run_itself_exported(monkeypatch, capsys):
    monkeypatch.delenv("WAREHOUSE_DSN", raising=False)
    monkeypatch.delenv("AIRFLOW_CONN_SINFONIA_WAREHOUSE", raising=False)
    monkeypatch.setattr(output, "STARTED_WITH", [])
    with pytest.raises(SystemExit):
        cli.main(["report"])  # notes the settings at the start, then stops on the missing --out
    capsys.readouterr()
    word = "s3cret"
    url = f"postgresql://postgres:{word}@127.0.0.1:5544/sinfonia"
    monkeypatch.setenv("AIRFLOW_CONN_SINFONIA_WAREHOUSE", url)  # what pipeline.prepare_environment exports
    assert output.warehouse_line(url).splitlines()[0] == f"Warehouse: {url}"


def test_pages_say_when_they_were_written_as_their_readers_write_dates():
    from datetime import UTC, datetime

    from sinfonia.report.spanish import generated_at

    assert generated_at(datetime(2026, 12, 7, 1, 48, tzinfo=UTC)) == "06/12/2026 a las 20:48 (hora de Bogotá)"
