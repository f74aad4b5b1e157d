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

# The demo exits 1 because it finds the drift planted in it; only 2 (could not check) fails the target.
demo: $(STAMP)
	$(BIN)/driftcheck demo || [ $$? -eq 1 ]

test: $(STAMP)
	$(BIN)/ruff check driftcheck tests bench
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check driftcheck tests bench

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
