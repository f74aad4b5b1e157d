# The newcomer's commands: `make demo` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install prereqs demo test test-fast lint bench clean image test-image

# The S3 tests' boto3 and moto (in server mode) go in without their dependency pins: botocore asks for
# python-dateutil<3, kubernetes 37 (the typed client the code and mypy use) for >=3, and botocore runs
# on dateutil 3+. Their other dependencies are listed here instead.
S3_TEST_PACKAGES := 'boto3>=1.35' botocore s3transfer jmespath 'moto>=5.1' responses xmltodict werkzeug \
	py-partiql-parser flask flask-cors itsdangerous blinker

$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,helm]' 'kubernetes>=37'
	$(BIN)/pip install --quiet --no-deps $(S3_TEST_PACKAGES)
	touch $(STAMP)

install: $(STAMP)

# The demo exits 1 because it finds the drift planted in it; only 2 (could not check) fails the target.
demo: $(STAMP)
	$(BIN)/driftcheck demo || [ $$? -eq 1 ]

# System programs the tests use (git, kubectl, chromium, sshd, docker-registry, jsonnet): apt as root.
prereqs:
	bash testing/prereqs.sh

# The whole suite, spread over the machine's cores; the image's tests after it, on the image just built.
test: $(STAMP) prereqs lint
	$(BIN)/pytest -q -n auto --dist loadfile -m 'not image'
	$(MAKE) test-image

# The CronJob's image, built with buildah from the Dockerfile (image/build.sh): prints its size and layers.
image: $(STAMP) prereqs
	bash image/build.sh

# The image run as the CronJob runs it: uid 10001, read-only root, the demo, a check, SIGTERM.
test-image: image
	DRIFTCHECK_IMAGE=localhost/driftcheck:dev $(BIN)/pytest -q tests/image -m image

# The unit tests alone, in under 30 s: the edit-test loop (the hostile suite and the rest run in make test).
test-fast: $(STAMP)
	$(BIN)/pytest -q -n auto tests/unit -m 'not slow' -x

lint: $(STAMP)
	$(BIN)/ruff check driftcheck tests testing bench
	$(BIN)/mypy driftcheck

bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
