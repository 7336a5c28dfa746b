# The two commands of the README:
#   make demo   set up .venv from scratch and analyse the bundled demo call
#   make test   set up .venv and run the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check

.PHONY: demo test lint bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch first, pinned: an open range would pull GBs of CUDA packages.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/callintel models
	# Trains the default understanding models once (seeded) into the cache; skipped when there.
	$(VENV)/bin/callintel train --if-missing
	# The bundled call is an after-sales call (a service light): the service_call scorecard, no purchase grade.
	$(VENV)/bin/callintel analyze demo/auto_repairs_call.flac --scenario service_call --json demo-result.json

test: $(VENV)/.installed
	$(PY) -m ruff check callintel api tests bench
	$(PY) -m mypy callintel api
	# The layering of docs/architecture.md (pyproject.toml [tool.importlinter]).
	$(VENV)/bin/lint-imports
	# Debian's chromium for the browser tests (scripts/chromium.sh): installed with apt when missing,
	# before PostgreSQL starts so that a failed install leaves no server behind; Playwright is
	# given its path and never downloads a browser.
	scripts/chromium.sh >/dev/null
	# A throw-away PostgreSQL on 127.0.0.1 for the tests (scripts/postgres.sh, docs/deploy.md);
	# stopped whatever pytest returns, and make returns pytest's status.
	scripts/postgres.sh start
	CALLINTEL_TEST_POSTGRES_URL=$$(scripts/postgres.sh url) CALLINTEL_TEST_CHROMIUM=$$(scripts/chromium.sh) \
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(PY) -m pytest; \
	status=$$?; scripts/postgres.sh stop; exit $$status

bench: $(VENV)/.installed
	$(PY) bench/bench_pipeline.py

clean:
	rm -rf $(VENV) .pytest_cache demo-result.json
