# Sinfonía: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test test-fast run bench docs lint stop clean

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

## make demo: sample sources → every DAG end to end on the embedded warehouse → summary
demo: install
	$(VENV)/bin/sinfonia demo

## make test: the whole test suite (unit, DAG, integration against a throwaway PostgreSQL)
test: install
	$(PY) -m pytest -q

test-fast: install
	$(PY) -m pytest -q -m "not integration"

## make run SOURCES=dir: the pipeline on a folder of real or sample source files
run: install
	$(VENV)/bin/sinfonia run --sources $(SOURCES)

stop:
	@test -x $(VENV)/bin/sinfonia && $(VENV)/bin/sinfonia warehouse stop || true

clean: stop
	rm -rf .sinfonia dbt_project/target dbt_project/logs
