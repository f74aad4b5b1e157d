# The newcomer's commands: `make demo` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,helm]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/driftcheck demo

test: $(STAMP)
	$(BIN)/ruff check driftcheck tests bench
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check driftcheck tests bench

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
