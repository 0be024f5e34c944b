# eafix-forensics — `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# PostgreSQL server binaries: on PATH, or Debian's package location.
export PATH := $(PATH):$(wildcard /usr/lib/postgresql/*/bin)

.PHONY: help install demo test test-unit test-notebooks system-deps notebook-refs bench clean scorecard scorecard-test

help:
	@echo "make demo   build the sample incident INC-DEMO and render output/INC-DEMO/*.html"
	@echo "make test   install everything, start the real servers, run all tests and notebook tests"
	@echo "make bench  run the benchmarks in benchmarks/ (fails when one misses its target)"
	@echo "make scorecard [REBUILD=1]  score the analysis rules on the scenario library (tests/scenarios)"

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev,lab,interactive]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/eafix-forensics demo --output-dir output

# Servers the tests start themselves (tests/harness): PostgreSQL 15 with
# pg_stat_statements, Prometheus (+promtool), git, and Chromium for the browser test.
system-deps:
	@missing=""; \
	command -v prometheus >/dev/null && command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v initdb >/dev/null && command -v pg_ctl >/dev/null || missing="$$missing postgresql postgresql-contrib"; \
	command -v git >/dev/null || missing="$$missing git"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

test: $(STAMP) system-deps
	$(BIN)/eafix-forensics demo --output-dir output >/dev/null
	EAFIX_SCORECARD=1 $(BIN)/python -m pytest tests -q -p no:cacheprovider
	$(MAKE) --no-print-directory test-notebooks

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

# Notebooks are stored clean; nbval runs copies carrying the reference outputs
# of the `# NBVAL_CHECK_OUTPUT` cells from tests/data/notebook_refs/.
test-notebooks: $(STAMP)
	rm -rf build/nbval
	$(BIN)/python scripts/notebook_refs.py assemble build/nbval eafix_forensics/notebooks/*.ipynb
	$(BIN)/python -m pytest --nbval-lax build/nbval -q -p no:cacheprovider

notebook-refs: $(STAMP)
	$(BIN)/eafix-forensics demo --output-dir output >/dev/null
	$(BIN)/python scripts/notebook_refs.py refresh eafix_forensics/notebooks/*.ipynb

# Every benchmark runs (BENCH=benchmarks/x.py for one); each exits 1 when it misses its
# target, and then `make bench` fails, naming them.
BENCH ?= benchmarks/*.py
bench: $(STAMP) system-deps
	@missed=""; for b in $(BENCH); do echo "== $$b"; $(BIN)/python $$b || missed="$$missed $$b"; done; \
	if [ -n "$$missed" ]; then echo "make bench: targets missed in:$$missed"; exit 1; fi

# The scenario library (tests/scenarios): scenarios whose definition changed are rebuilt on
# fresh servers and collected into build/scenarios/ (REBUILD=1: all of them), then every
# cached bundle is re-scored. `scorecard-test` is the pytest form (builds from scratch).
scorecard: $(STAMP) system-deps
	$(BIN)/python -m tests.scenarios $(if $(REBUILD),--rebuild)

scorecard-test: $(STAMP) system-deps
	EAFIX_SCORECARD=1 $(BIN)/python -m pytest tests/scenarios -q -p no:cacheprovider

clean:
	rm -rf output/INC-* output/catalog.db .pytest_cache
