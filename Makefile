# `make run` tries the console out; `make test` is what CI runs. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
# A generated first password waits here until the start-up's last words print it again.
FIRST_LOGIN = $${CONSOLE_VAR_DIR:-var}/first-login

# The test suite runs against real Postgres and Redis (see README, "Tests").
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Test processes side by side (pytest-xdist): the end-to-end tests mostly wait on real processes.
# Each takes a database of its own and two Redis databases below TEST_REDIS_URL's (tests/parallel.py).
# Work stealing: "load" handed the first process a first chunk holding every end-to-end test (they
# are collected first) and left the second idle for minutes at the end; an idle process now takes
# tests from the other's queue.
TEST_WORKERS ?= 2

.PHONY: run test lint install install-dev clean bench-ingest bench-engine bench-notify bench-retention bench-partman soak browser screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py ensure_admin --url http://127.0.0.1:$(PORT)/admin/ --remember "$(FIRST_LOGIN)"
	@# One foreground process group: Ctrl-C stops the web server, both workers and beat together.
	PATH="$(CURDIR)/$(BIN):$$PATH" CONSOLE_PORT=$(PORT) FIRST_LOGIN="$(FIRST_LOGIN)" \
		exec $(BIN)/honcho start --procfile Procfile

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

# The browser tests drive Debian's Chromium (Playwright downloads no browser of its own).
browser:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium; }

test: $(VENV)/.installed-dev lint browser
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	SECRET_KEY="$${SECRET_KEY:-test-only-secret-key}" \
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal

# The README's pictures: the browser tests, saving what they see.
screenshots: $(VENV)/.installed-dev browser
	DATABASE_URL="$${DATABASE_URL:-$(TEST_DATABASE_URL)}" \
	REDIS_URL="$${REDIS_URL:-$(TEST_REDIS_URL)}" \
	SECRET_KEY="$${SECRET_KEY:-test-only-secret-key}" \
	SCREENSHOTS_DIR="$(CURDIR)/docs/screenshots" \
	$(BIN)/pytest tests/e2e/test_browser.py

# Benchmarks: each prints its figures next to a baseline measured in the same run (README).
bench-ingest: $(VENV)/.installed-dev
	$(BIN)/python -m bench.ingest

bench-engine: $(VENV)/.installed-dev
	$(BIN)/python -m bench.engine

bench-notify: $(VENV)/.installed-dev
	$(BIN)/python -m bench.notify

bench-retention: $(VENV)/.installed-dev
	$(BIN)/python -m bench.retention

# Needs the pg_partman extension in the Postgres server (bench/partman.py).
bench-partman: $(VENV)/.installed-dev
	$(BIN)/python -m bench.partman

soak: $(VENV)/.installed-dev
	$(BIN)/python -m bench.soak

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
