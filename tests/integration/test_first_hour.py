"""What a new user meets in the first hour, against a real warehouse: a console that is never
silent for long, a build of a warehouse never extracted, a kept year answered at once, a summary
whose warehouse URL psql accepts, and roles that say whether they can log in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import sinfonia, throwaway_database

pytestmark = pytest.mark.integration

SINFONIA = Path(sys.executable).with_name("sinfonia")
MAX_SILENCE_S = 15.0


def _timed(*args: str, env: dict, timeout: float = 900) -> tuple[int, list[tuple[float, str]], str]:
    """Run the command line as a user would, noting when each console line arrives: (exit code,
    [(seconds since the start, line)], stderr)."""
    start = time.monotonic()
    proc = subprocess.Popen([str(SINFONIA), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env}, bufsize=1)
    err: list[str] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)
    reader.start()
    lines = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
    code = proc.wait(timeout=timeout)
    reader.join(timeout=10)
    lines.append((time.monotonic() - start, "<exit>"))
    return code, lines, "".join(err)


@pytest.fixture(scope="module")
def transcript(server_dsn, small_sample, state_dir):
    """``sinfonia run`` on the small sample into a fresh database, each console line timed."""
    with throwaway_database(server_dsn, "firsthour") as dsn:
        code, lines, err = _timed("run", "--sources", str(small_sample), env={"WAREHOUSE_DSN": dsn})
        assert code == 0, "\n".join(line for _, line in lines)[-3000:] + err[-3000:]
        STDERR["run"] = err
        yield dsn, lines


STDERR: dict[str, str] = {}  # the transcript's standard error, for the test of leaked log lines
# A log record as Airflow's structlog, dbt or Python's logging print it: a timestamp, a level in
# brackets or after a dash, a logger's key=value tail, or a JSON object.
LOG_RECORD = re.compile(r"^\s*(\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\[\d{4}-\d\d-\d\d|\{\s*\"|\x1b\[)"
                        r"|\[(debug|info|warning|error|critical)\s*\]|\b(INFO|WARNING|ERROR) - |\bloc=\w+\.py:\d+")


def test_no_raw_log_record_reaches_the_console(transcript):
    """Airflow's, dbt's and the tasks' log records go to the log file; the console holds only the
    command's own lines (issue 30: a structured log line leaked into the console once)."""
    _, lines = transcript
    leaked = [line for _, line in lines if LOG_RECORD.search(line)]
    assert not leaked, leaked
    assert not [line for line in STDERR["run"].splitlines() if line.strip()], STDERR["run"][-3000:]


def test_the_log_record_pattern_knows_a_leaked_line():
    for line in ('2026-12-07T07:33:15.316290Z [info     ] the warehouse is held by cli:25e8 [sinfonia.tasks] '
                 'loc=tasks.py:27', "[2026-12-07T01:02:03.000+0000] {loading.py:88} WARNING - 2 rows quarantined",
                 '{"event": "Task started", "level": "info"}', "\x1b[0m07:49:19  Done. PASS=304 WARN=0 ERROR=0"):
        assert LOG_RECORD.search(line), line
    for line in ("    ok      extract_esap_asistencias                744 rows, 2 quarantined    5.9 s",
                 "→ sinfonia_extract …", "Airflow and dbt logs: logs/20261207-072645-run.log",
                 "    …       gate_raw still running (72 s so far)"):
        assert not LOG_RECORD.search(line), line


def test_no_console_line_is_silent_for_more_than_15_s_and_long_tasks_say_how_long_they_have_run(transcript):
    _, lines = transcript
    gaps = [(b[0] - a[0], b[1]) for a, b in zip([(0.0, "<start>"), *lines[:-1]], lines, strict=True)]
    seconds, before = max(gaps)
    assert seconds <= MAX_SILENCE_S, (f"the console was silent for {seconds:.1f} s before {before!r}",
                                      "\n".join(f"{t:7.1f} {line}" for t, line in lines))
    beats = [line for _, line in lines if "still running (" in line]
    tasks = {m.group(2): float(m.group(3)) for _, line in lines
             if (m := re.match(r"^\s+(ok|[A-Z_]+)\s+(\S+)\s.*?(\d+\.\d) s$", line))}
    long_tasks = [t for t, s in tasks.items() if s > 10]
    for task in long_tasks:  # a task that ran longer than the interval had its heartbeat, with its time
        assert any(re.search(rf"…\s+{task} still running \(\d+ s so far\)", b) for b in beats), (task, beats)
    assert not [b for b in beats if not re.fullmatch(r"    …\s+\S+.* still running \(\d+ s so far\)", b)], beats


def test_run_announces_the_list_it_prioritised_and_build_would_not(transcript, capsys):
    from sinfonia.commands import output

    dsn, lines = transcript
    assert any(line.startswith("Prioritised list ") for _, line in lines)
    output.summary(dsn, prioritised=False)  # what `build` and `run --weekly` print
    out = capsys.readouterr().out
    assert "Published marts" in out and "Prioritised list" not in out


def test_a_year_already_written_is_answered_as_kept_before_any_task_runs(transcript):
    dsn, _ = transcript
    with psycopg.connect(dsn) as conn:
        year, runs = conn.execute("select max(prioritisation_year), count(*) from meta.prioritisation_run").fetchone()
    start = time.monotonic()
    proc = sinfonia("prioritise", "--year", str(year), env={"WAREHOUSE_DSN": dsn})
    seconds = time.monotonic() - start
    assert f"prioritisation {year}" in proc.stdout and "kept (already snapshotted; --force rewrites it)" in proc.stdout
    assert "Airflow and dbt logs" not in proc.stdout and "→ sinfonia_prioritisation" not in proc.stdout
    assert seconds < 30, seconds
    with psycopg.connect(dsn) as conn:
        last = conn.execute("select count(*), (array_agg(status order by run_id desc))[1] "
                            "from meta.prioritisation_run").fetchone()
    assert last == (runs + 1, "kept")


def test_build_of_a_warehouse_never_extracted_says_extract_first_at_once(server_dsn, state_dir):
    from sinfonia.bootstrap import bootstrap

    with throwaway_database(server_dsn, "neverextracted") as dsn:
        for bootstrapped in (False, True):  # a new database, then one with its empty raw tables
            if bootstrapped:
                bootstrap(dsn)
            start = time.monotonic()
            proc = sinfonia("build", env={"WAREHOUSE_DSN": dsn}, check=False)
            assert proc.returncode == 1, proc.stdout + proc.stderr
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1 and "nothing has been extracted" in lines[0] and "extract first" in lines[0]
            assert "sinfonia run --sources DIR" in lines[0] and "Airflow and dbt logs" not in proc.stdout
            assert time.monotonic() - start < 30


def test_the_summary_gives_a_url_psql_accepts(server_dsn, monkeypatch):
    from sinfonia.commands import output

    for name in ("WAREHOUSE_DSN", "AIRFLOW_CONN_SINFONIA_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(output, "STARTED_WITH", [])
    line = output.warehouse_line(server_dsn).splitlines()[0]
    url = line.removeprefix("Warehouse: ")
    with psycopg.connect(url, connect_timeout=10) as conn:  # libpq, as psql
        assert conn.execute("select 1").fetchone() == (1,)
    psql = subprocess.run(["psql", url, "-Atc", "select 2"], capture_output=True, text=True) \
        if any((Path(p) / "psql").exists() for p in os.environ.get("PATH", "").split(os.pathsep)) else None
    if psql is not None:
        assert psql.returncode == 0 and psql.stdout.strip() == "2", psql.stderr


def test_warehouse_roles_says_which_roles_can_log_in(server_dsn, state_dir):
    from sinfonia import roles

    with throwaway_database(server_dsn, "roles") as dsn:
        proc = sinfonia("warehouse", "roles", env={"WAREHOUSE_DSN": dsn})
        with psycopg.connect(dsn) as conn:
            login = dict(conn.execute("select rolname, rolcanlogin from pg_roles where rolname = any(%s)",
                                      (list(roles.ROLES),)).fetchall())
    for role in roles.ROLES:
        [line] = [line for line in proc.stdout.splitlines() if line.strip().startswith(role)]
        said = "can log in" if login[role] else "cannot log in"
        assert said in line and roles.PASSWORD_ENV[role] in line, proc.stdout
        assert ("cannot log in" in line) is not login[role]


# -- the characterisation sheets ---------------------------------------------------------------------
def pdf_images(pdf: bytes) -> tuple[int, int]:
    """(images in the PDF, times an image is drawn on a page). An image cut by a page break is
    drawn once on each page it spans, so the two differ exactly when a chart was cut."""
    import zlib

    images = len(re.findall(rb"/Subtype\s*/Image", pdf))
    draws = 0
    for m in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            content = zlib.decompress(m.group(1))
        except zlib.error:
            continue  # not a Flate stream (an image's own bytes, a font)
        draws += len(re.findall(rb"/[\w.+-]+\s+Do\b", content))
    return images, draws


def test_the_pdf_check_sees_a_picture_cut_by_a_page_break(tmp_path):
    import base64
    import io

    from PIL import Image

    from sinfonia.report import printer

    browser = printer.chromium()
    if not browser:
        pytest.skip("Chromium is not installed (make test installs it as root with apt)")
    picture = io.BytesIO()
    Image.new("RGB", (600, 2400), "white").save(picture, "PNG")  # taller than an A4 page
    page = tmp_path / "tall.html"
    page.write_text(f"<html><body><figure><img src='data:image/png;base64,"
                    f"{base64.b64encode(picture.getvalue()).decode()}'></figure></body></html>")
    printer.print_pdf(page, tmp_path / "tall.pdf", browser)
    images, draws = pdf_images((tmp_path / "tall.pdf").read_bytes())
    assert images == 1 and draws >= 2


def test_sheets_keep_every_chart_whole_on_a_page_and_the_index_keeps_every_sheet(transcript, tmp_path):
    from sinfonia.report import ficha

    dsn, _ = transcript
    with psycopg.connect(dsn) as conn:
        year, directorate, other = conn.execute("""
            select prioritisation_year, directorate_id,
                   (select municipality_id from marts.mart_municipality_profile o
                    where o.prioritisation_year = p.prioritisation_year and o.directorate_id <> p.directorate_id
                    order by municipality_id limit 1)
            from marts.mart_municipality_profile p where is_selected group by 1, 2
            order by 1 desc, count(*) > 1 desc, count(*), 2 limit 1""").fetchone()
    lines: list[str] = []
    written = ficha.build(dsn, tmp_path, directorate=directorate, year=year, progress=lines.append)
    first = sorted(p.name for p in tmp_path.glob("ficha_*.html"))
    ficha.build(dsn, tmp_path, municipality=other, year=year, progress=lines.append)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    for name in [*first, f"ficha_{other}_{year}.html"]:  # the sheets written earlier are still listed
        assert f'href="{name}"' in index, name
    assert index.count("DATOS SINTÉTICOS DE MUESTRA") == 2
    if len(first) > 1:  # the first counted line has its estimate (after a note when Chromium is missing)
        counted = [line for line in lines if line.lstrip().startswith("[")]
        assert counted and re.search(r"\[1/\d+\] .* \(about \d+ (s|min) left\)$", counted[0]), lines
    for pdf in sorted(p for p in written if p.suffix == ".pdf"):
        images, draws = pdf_images(pdf.read_bytes())
        page = pdf.with_suffix(".html").read_text(encoding="utf-8")
        assert images == page.count("<img ") and draws == images, (pdf.name, images, draws)


def test_a_directorate_without_selection_says_why(transcript, server_dsn):
    from sinfonia.report import ficha
    from tests.conftest import dbname

    dsn, _ = transcript
    with throwaway_database(server_dsn, "nogoals", template=dbname(dsn)) as copy:
        with psycopg.connect(copy) as conn:
            year, directorate = conn.execute("select prioritisation_year, directorate_id from "
                                             "marts.mart_municipality_profile where is_selected "
                                             "group by 1, 2 order by 1 desc, 2 limit 1").fetchone()
            conn.execute("update marts.mart_prioritisation set directorate_goal = 0 "
                         "where prioritisation_year = %s and directorate_id = %s", (year, directorate))
            conn.execute("update marts.mart_municipality_profile set is_selected = false "
                         "where prioritisation_year = %s and directorate_id = %s", (year, directorate))
        with pytest.raises(ficha.FichaError, match=rf"{directorate} has no goal in {year}"):
            ficha.build(copy, Path("unused"), directorate=directorate, year=year, pdf=False, progress=print)
        with psycopg.connect(copy) as conn:  # a year written with --allow-no-goals: no goal anywhere
            conn.execute("update marts.mart_prioritisation set directorate_goal = 0 where prioritisation_year = %s",
                         (year,))
        with pytest.raises(ficha.FichaError, match=rf"{year} has no goals .*--allow-no-goals.*--force"):
            ficha.build(copy, Path("unused"), directorate=directorate, year=year, pdf=False, progress=print)
