# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test setup migrate clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(BIN)/.installed

# Create or upgrade the schema, sync roles and permissions, add demo data if the database is empty.
migrate: setup
	$(BIN)/flask db upgrade
	$(BIN)/flask sync-roles
	$(BIN)/flask seed --if-empty

run: migrate
	$(BIN)/python run.py

test: setup
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) instance
