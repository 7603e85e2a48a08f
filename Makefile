# Message Dispatcher. `make run` and `make test` need nothing but Python 3.11.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PYTEST := $(PY) -m tests.services $(PY) -m pytest

.DEFAULT_GOAL := help
.PHONY: help run test test-unit test-integration test-e2e test-browser test-coverage \
        test-race-condition test-deployment soak bench bench-scale bench-steady lint fmt migrate docker-build clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-22s %s\n", $$1, $$2}'

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV)/.bench: $(VENV)/.dev requirements-bench.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

run: $(VENV)/.runtime ## Install, migrate and start the API on :8080 (embedded PostgreSQL without DATABASE_URL)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py run_stack

migrate: $(VENV)/.runtime ## Apply database migrations
	$(PY) manage.py migrate --noinput

test: $(VENV)/.dev ## Run the whole suite (embedded PostgreSQL/Redis unless DATABASE_URL/REDIS_URL are set)
	$(PYTEST) -q

test-unit: $(VENV)/.dev ## Domain unit tests against in-memory fakes (no Django, no services)
	$(PY) -m pytest tests/unit -p no:django -q

test-integration: $(VENV)/.dev ## Tests against the real PostgreSQL, Redis and HTTP
	$(PYTEST) -q tests/integration

test-e2e: $(VENV)/.dev ## End-to-end tests with server and dispatcher processes
	$(PYTEST) -q tests/e2e

test-race-condition: $(VENV)/.dev ## Three dispatcher processes, one database: each message delivered once
	$(PYTEST) -q tests/e2e/test_several_dispatchers.py -k three_dispatchers

test-deployment: $(VENV)/.dev ## Dispatchers started against an existing backlog of pending messages
	$(PYTEST) -q tests/e2e/test_several_dispatchers.py -k existing_backlog

test-browser: $(VENV)/.dev ## Headless Chromium tests (Debian's chromium package)
	$(PYTEST) -q tests/browser

test-coverage: $(VENV)/.dev ## The suite with a coverage report
	$(PYTEST) -q --cov=core_domain --cov=adapters --cov=messaging --cov=dispatcher_project --cov-report=term-missing

soak: $(VENV)/.dev ## 100,000 messages, 3 dispatchers, flaky receiver, a SIGKILL every 30 s; then a long API fuzz
	$(PY) -m tests.services $(PY) -m benchmarks.soak $(SOAK_ARGS)
	FUZZ_EXAMPLES=300 $(PYTEST) -q tests/integration/test_api_fuzz.py

bench: $(VENV)/.bench ## Throughput vs a requests loop, Celery, procrastinate; claim, API, memory (10-20 min; BENCH_ARGS=--quick)
	$(PY) -m tests.services $(PY) -m benchmarks.run $(BENCH_ARGS)

bench-scale: $(VENV)/.dev ## Reads, claims and prune at 5M rows vs 10k (SCALE_ARGS="--rows 50000000 --keep", --quick)
	$(PY) -m tests.services $(PY) -m benchmarks.scale $(SCALE_ARGS)

bench-steady: $(VENV)/.dev ## 200 msgs/s for 6 min, MESSAGE_RETENTION=1m: does the size stop growing? (STEADY_ARGS)
	$(PY) -m tests.services $(PY) -m benchmarks.scale.steady $(STEADY_ARGS)

lint: $(VENV)/.dev ## ruff check, ruff format --check and the import-linter contracts
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

fmt: $(VENV)/.dev ## Format the code and fix what ruff can
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

docker-build: ## Build the container image (needs a Docker engine)
	docker build -t message-dispatcher .

clean: ## Remove the virtualenv, embedded data and caches
	rm -rf $(VENV) .data staticfiles .pytest_cache .ruff_cache
