# hggis: the two commands of the README are `make demo` and `make test`.
# Both do the whole set-up on a fresh Debian/Ubuntu machine and are safe to repeat.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: demo test setup system python node db serve bench clean-var

## demo: install everything, start the embedded PostGIS, migrate, load the demo data, serve on :8000
demo: setup db
	$(BIN)/hggis demo load
	$(BIN)/hggis serve

## test: install everything, then run the whole suite against a real PostGIS the tests start themselves
test: setup
	$(BIN)/pytest

setup: system python node

system:
	./scripts/setup-system.sh

python: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,boundaries]'
	touch $(STAMP)

## node: the front-end assets (Leaflet and its plugins, Chart.js, …) from package-lock.json into node_modules/
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $(NODE_STAMP)

## db: start the embedded cluster (or check DATABASE_URL) and migrate
db: setup
	$(BIN)/hggis db up
	$(BIN)/hggis db migrate

serve: setup
	$(BIN)/hggis serve

## bench: the platform benchmarks (see bench/RESULTS.md)
bench: setup
	$(BIN)/python bench/platform_bench.py

clean-var:
	-$(BIN)/hggis db down
	rm -rf var
