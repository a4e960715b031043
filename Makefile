# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export FLASK_APP := wsgi

.PHONY: run test test-sqlite test-postgres lint fuzz format install install-dev bench clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# The reasons' translations (marketplace/i18n.py): each language's catalog, compiled.
CATALOGS := $(wildcard marketplace/translations/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGS:.po=.mo)
$(COMPILED): %.mo: %.po $(VENV)/.runtime
	$(BIN)/pybabel compile --statistics -i $< -o $@ 2>/dev/null

install: $(VENV)/.runtime $(COMPILED)
install-dev: $(VENV)/.dev $(COMPILED)

## Migrate the embedded database, load the demo data, serve on gunicorn (port $(PORT)).
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask seed demo
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start --port $(PORT) -f Procfile

## The whole suite on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set.
test: install-dev
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		$(MAKE) --no-print-directory test-postgres; \
	else \
		echo "PostgreSQL suite not run: set TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test)"; \
	fi

test-sqlite: install-dev
	TEST_BACKEND=sqlite $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install-dev
	TEST_BACKEND=postgres $(BIN)/pytest $(PYTEST_ARGS)

## docs/screenshots taken anew by the browser tests (PostgreSQL, Debian's chromium).
screenshots: install-dev
	UPDATE_SCREENSHOTS=1 REQUIRE_BROWSER=1 TEST_BACKEND=postgres $(BIN)/pytest tests/console/test_browser*.py

## Style, formatting, and the layering of docs/architecture.md (import-linter, pyproject.toml).
lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

## schemathesis over the served API document, as every kind of caller, on a scratch PostgreSQL
## database (TEST_DATABASE_URL's server); fails on any finding. See tests/fuzz_api.py.
fuzz: install-dev
	$(BIN)/python -m tests.fuzz_api $(FUZZ_ARGS)

format: install-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install-dev
	$(BIN)/python bench/catalog.py

clean:
	rm -rf $(VENV) instance .pytest_cache
