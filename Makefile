# Sinfonía: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lock browser demo test test-fast run bench docs lint mutants stop clean airflow

# Every package comes from requirements.lock (the whole tree pinned), installed with --no-deps and
# checked with `pip check`; pip's own output goes to .venv/pip-install.log, progress to the console.
$(STAMP): requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) scripts/install.py
	@touch $(STAMP)

## make lock: rewrite requirements.lock from .venv (after installing a changed requirements.txt into it)
lock:
	$(PY) scripts/install.py --freeze

# The dbt manifest (the weekly DAG checks the warehouse against it); rebuilt when dbt files change.
MANIFEST := dbt_project/target/manifest.json
$(MANIFEST): $(STAMP) $(shell find dbt_project -path dbt_project/target -prune -o -type f \( -name '*.sql' -o -name '*.yml' -o -name '*.csv' \) -print)
	@echo "Parsing the dbt project (the manifest the weekly DAG reads) …"
	@$(PY) -c "from sinfonia import console, dbt; console.while_silent('parsing the dbt project', dbt.ensure_manifest)"
	@touch $(MANIFEST)

install: $(STAMP) $(MANIFEST)

## make demo: sample sources → every DAG end to end on the embedded warehouse → summary
demo: install
	$(VENV)/bin/sinfonia demo

# The report's test renders the HTML in headless Chromium (Debian's package), installed here when
# missing and running as root with apt; without it, that test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get install -y -qq chromium >/dev/null 2>&1 || echo "chromium could not be installed: the report's browser test will skip"); } || true

## make lint: ruff over the Python (pyproject.toml: Airflow 3 rules, SQL built from strings), the package's layering
## contracts (import-linter, [tool.importlinter] in pyproject.toml: no import cycle, imports only downward), then sqlfluff over
## the dbt models, macros and data tests (dbt_project/.sqlfluff). sqlfluff's dbt templater compiles through dbt,
## which connects to the warehouse, so it runs as a pytest test against its own throwaway PostgreSQL.
SQLFLUFF_TEST := tests/integration/test_sqlfluff.py
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q $(SQLFLUFF_TEST)

## make test: the whole lint and the whole test suite (unit, DAG, integration against a throwaway PostgreSQL):
## ruff and the layering contracts first, then every test module, sqlfluff's among them (so it runs on a worker beside the others rather
## than alone before them), on one pytest-xdist worker per core (TEST_WORKERS=0: one process); a test module
## stays on one worker, so its module fixtures (a pipeline run, a warehouse) are built once
TEST_WORKERS ?= auto
test: install browser
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: install
	$(PY) -m pytest -q -m "not integration"

## make bench: loader, DAG parse, full refresh, incremental and scale measurements → bench/results.json
bench: install
	$(PY) bench/run.py $(BENCH_ARGS)

## make mutants: plant each bug of tests/mutation/mutants.toml, run the tests declared for it, restore;
## score and survivors → .sinfonia/mutation/results.json (not part of make test; MUTANTS_ARGS="--only ID")
mutants: install
	$(PY) tests/mutation/run.py $(MUTANTS_ARGS)

## make docs: dbt docs (static page) and GX Data Docs (suites + latest validations) into docs-site/
docs: install
	$(VENV)/bin/sinfonia docs

## make airflow: Airflow's web UI and scheduler on 127.0.0.1:8080 for these DAGs (AIRFLOW_ARGS="--port N")
airflow: install
	$(VENV)/bin/sinfonia airflow $(AIRFLOW_ARGS)

## make run SOURCES=dir: the pipeline on a folder of real or sample source files
run: install
	@test -n "$(SOURCES)" || { echo "make run needs SOURCES=DIR (a sources folder, one sub-folder per source; \
	\`.venv/bin/sinfonia sample --out DIR\` writes one)" >&2; exit 2; }
	$(VENV)/bin/sinfonia run --sources $(SOURCES)

stop:
	@test -x $(VENV)/bin/sinfonia && $(VENV)/bin/sinfonia warehouse stop || true

clean: stop
	rm -rf .sinfonia dbt_project/target dbt_project/logs
