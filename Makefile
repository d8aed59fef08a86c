# Quick start: `make run [PORT=5000]` serves the newsletter on http://127.0.0.1:5000, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
NEWSLETTER_TEST_DATABASE_URL ?= $(PG_TEST_URL)
PYTEST_ARGS ?=
PORT ?= 5000

.PHONY: install install-test run lint format test test-sqlite test-postgres bench catalogues clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/newsletter db upgrade
	$(BIN)/newsletter serve --port $(PORT)

LINTED := newsletter tests bench migrations wsgi.py

lint: install-test
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy

format: install-test
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

test: install-test
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

test-sqlite: install-test
	@echo "=== test suite on SQLite ==="
	$(BIN)/pytest --db=sqlite $(PYTEST_ARGS)

test-postgres: install-test
	@echo "=== test suite on PostgreSQL ($(NEWSLETTER_TEST_DATABASE_URL)) ==="
	NEWSLETTER_TEST_DATABASE_URL=$(NEWSLETTER_TEST_DATABASE_URL) $(BIN)/pytest --db=postgresql $(PYTEST_ARGS)

bench: install-test
	$(BIN)/python bench/delivery.py

catalogues: install
	$(BIN)/pybabel extract -F babel.cfg -k _l -o newsletter/core/translations/messages.pot .
	$(BIN)/pybabel update -i newsletter/core/translations/messages.pot -d newsletter/core/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) instance .pytest_cache
