# Two commands set everything up on a fresh clone: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -c requirements.lock -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/postroom --site examples/site run --once

# the suite twice: on SQLite, then on a throwaway PostgreSQL server (tests/pg/suite)
test: $(STAMP)
	$(BIN)/ruff check .
	tests/pg/suite $(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/pickup.py

clean:
	rm -rf $(VENV) examples/site/public examples/site/postroom.db
