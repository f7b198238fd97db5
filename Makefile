# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo bench chaos clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/wxshop demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# Kills, a Redis restart and (with WXSHOP_CHAOS_DATABASE_URL, a PostgreSQL server) a database cut under load.
chaos: $(STAMP)
	$(BIN)/python -m benchmarks.chaos

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
