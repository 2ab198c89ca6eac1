# The two commands: `make run` (the product on its embedded default) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha1sum | cut -c1-12)
FLASK := $(BIN)/flask --app wsgi
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install run migrate seed worker test test-fast lint bench clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

migrate: install
	$(FLASK) db upgrade

seed: migrate
	$(FLASK) seed-demo --if-empty

# Web + API + sandbox + simulator + worker thread, SQLite and in-process Redis by default.
run: seed
	HOST=$(HOST) PORT=$(PORT) $(FLASK) dev

# A separate worker process (production shape): `flask worker`.
worker: install
	$(FLASK) worker

# The whole suite: SQLite always, PostgreSQL + Redis when reachable
# (REQUIRE_SERVICES=1: fail instead of skipping when they are not), in TEST_WORKERS
# pytest-xdist processes, each on databases, Redis namespaces and ports of its own
# (tests/conftest.py; TEST_WORKERS=0 runs it in this process). 3 on the 2 cores here: a
# worker waits about half the time (PostgreSQL, worker subprocesses, Chromium).
# PYTHONDONTWRITEBYTECODE emptied: each worker would otherwise rewrite the asserts of every
# test module again (6 s of CPU per worker; pytest keeps them in __pycache__).
TEST_WORKERS ?= 3
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup
test: install
	$(PYTEST)

# The same without the tests marked slow: a quicker loop while working.
test-fast: install
	$(PYTEST) -m "not slow"

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) instance .pytest_cache
