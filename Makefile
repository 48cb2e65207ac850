# Recording — the few commands a developer needs. `make help` lists them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.DEFAULT_GOAL := help
.PHONY: help install install-pgbouncer run test check bench bench-sdk bench-openloop bench-disk bench-export bench-purge profile clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml client/pyproject.toml
	@command -v pgbouncer >/dev/null || [ "$$(id -u)" != 0 ] || $(MAKE) --no-print-directory install-pgbouncer
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python 3.11+ is required (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e './client[cli]' -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Build .venv/ with the service, the producer SDK and CLI, and the test tools

install-pgbouncer: ## Install PgBouncer from Debian's packages (for the tests through it)
	apt-get update -q && apt-get install -y -q pgbouncer

run: $(STAMP) ## Serve on 127.0.0.1:8000 (embedded PostgreSQL when DATABASE_URL is unset)
	$(BIN)/clone-recording serve --host 127.0.0.1 --port 8000

test: $(STAMP) ## Run the test suite against a fresh database, then the API through PgBouncer
	$(BIN)/pytest
	@if command -v pgbouncer >/dev/null; then \
		echo "== again through PgBouncer (transaction pooling, statement cache off)"; \
		TEST_VIA_PGBOUNCER=1 $(BIN)/pytest -q -p no:cacheprovider tests/api tests/db/test_races.py tests/db/test_bookend_model.py; \
	else echo "pgbouncer is not installed: skipping the PgBouncer run (make install-pgbouncer)"; fi

check: $(STAMP) ## Lint and type-check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(STAMP) ## Load benchmark (installs wrk, matplotlib): closed loop, then open loop; writes bench/results/ and docs/*.png
	@command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/run.py --output bench/results/latest.json
	$(BIN)/python bench/plot.py bench/results/latest.json docs/performance.png
	$(BIN)/python bench/openloop.py

bench-sdk: $(STAMP) ## The producer SDK's cost per record() and its throughput; writes bench/results/sdk.json
	$(BIN)/python bench/sdk.py --output bench/results/sdk.json

bench-openloop: $(STAMP) ## Latency at 25/50/75% of saturation (open loop), PostgreSQL alone beside it; writes bench/results/openloop.json
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/openloop.py

bench-disk: $(STAMP) ## The disk alone: 8 kB write + fdatasync at 300/s for 120 s, its stalls; writes bench/results/disk.json
	$(BIN)/python bench/disk.py --seconds 120 --rate 300 --output bench/results/disk.json

bench-export: $(STAMP) ## Export a 200,000-event session; the worker's RSS growth; writes bench/results/export.json
	$(BIN)/python bench/export.py

bench-purge: $(STAMP) ## Ingest throughput while purging 1 M old events; writes bench/results/purge.json
	$(BIN)/python bench/purge.py

profile: $(STAMP) ## CPU per request by process, and a py-spy profile: make profile BATCH=1 WORKERS=1
	@command -v wrk >/dev/null || { apt-get update -q && apt-get install -y -q wrk; }
	@test -x $(BIN)/py-spy || $(BIN)/pip install --quiet -e '.[dev,bench]'
	$(BIN)/python bench/profile.py --batch $(or $(BATCH),100) --workers $(or $(WORKERS),2) --py-spy

clean: ## Remove the virtualenv and the embedded database
	rm -rf $(VENV) .data
