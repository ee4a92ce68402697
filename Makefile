# hggis: the two commands of the README are `make demo` and `make test`.
# Both do the whole set-up on a fresh Debian/Ubuntu machine and are safe to repeat.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp

.PHONY: demo test setup system python node db serve bench clean-var lock

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

# Exactly the versions of requirements.lock, each checked against its hash; then hggis itself.
# After changing dependencies in pyproject.toml: `make lock`.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## lock: re-resolve requirements.lock from pyproject.toml, keeping the versions already locked where they still fit
lock:
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --extra boundaries --generate-hashes --universal \
	  --python-version 3.11 --index-url https://pypi.org/simple -o requirements.lock

## node: the front-end assets (Leaflet and its plugins, Chart.js, …) from package-lock.json into node_modules/
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
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
