# riskmgr — two commands do all the setup: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 5000
export FLASK_APP := app

.PHONY: run test install install-dev kernel lint bench clean help

help:
	@echo "make run    install what is needed and serve the dashboard on http://$(HOST):$(PORT)"
	@echo "make test   install what is needed and run the whole suite"
	@echo "make lint   ruff over the code, the import layers (import-linter) and the types (mypy)"
	@echo "make bench  run the benchmarks under benchmarks/"
	@echo "make kernel compile the backtest's hot modules with Cython (make run, test and bench do it)"

$(VENV)/.stamp-python: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

# the suite's tools (pytest, hypothesis, responses, ruff, import-linter, mypy, playwright): `make test` / `make bench`
$(VENV)/.stamp-dev: requirements-dev.txt $(VENV)/.stamp-python
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.stamp-npm: package.json
	npm install --no-audit --no-fund --silent
	touch $@

static/vendor/.stamp-vendor: node_modules/.stamp-npm scripts/vendor_assets.sh
	bash scripts/vendor_assets.sh
	touch $@

install: $(VENV)/.stamp-python static/vendor/.stamp-vendor

# the backtest's hot modules compiled by Cython from their unchanged sources (riskmgr/backtest/kernel.py says which);
# rebuilt when a source of the package changes. Without it the backtests run in plain Python: same results, slower.
KERNEL := riskmgr/backtest/kernel.json
$(KERNEL): $(filter-out riskmgr/backtest/kernel.py,$(wildcard riskmgr/backtest/*.py riskmgr/backtest/*.pxd)) \
		scripts/build_kernel.py $(VENV)/.stamp-python
	$(PY) scripts/build_kernel.py

kernel: $(KERNEL)

install-dev: install $(VENV)/.stamp-dev

run: install
	@$(MAKE) --no-print-directory $(KERNEL) || echo "make run: going on without the compiled backtest kernel (see above)"
	mkdir -p instance
	$(VENV)/bin/flask db upgrade
	HOST=$(HOST) PORT=$(PORT) $(VENV)/bin/gunicorn --config gunicorn.conf.py wsgi:app

test: install-dev $(KERNEL)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy
	RISKMGR_KERNEL_REQUIRED=1 $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/mypy

bench: install-dev $(KERNEL)
	@failed=""; for f in benchmarks/*.py; do echo "== $$f"; $(PY) $$f || failed="$$failed $$f"; done; \
	if [ -n "$$failed" ]; then echo "benchmarks that missed a target:$$failed"; exit 1; fi; echo "every benchmark met its targets"

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .ruff_cache .mypy_cache build $(KERNEL)
	rm -f riskmgr/backtest/*.so
