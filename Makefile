# The two commands of the README: `make demo` and `make test`.
# Everything a fresh machine needs is installed here (venv, Python packages,
# the Debian packages the tests drive), so nothing is installed by hand.

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)

NODE_DIR := tests/.node
NODE_PKGS := openapi-typescript@7.13.0 typescript@5.9.3

.PHONY: demo test install system-deps node-deps lint typecheck pytest build check bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Debian packages the test-suite starts or drives: redis-server (shared rate
# limits), chromium (portal browser test). Installed only when missing.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Node packages the SDK tests drive (TypeScript types from the contract, tsc).
node-deps:
	@[ -x $(NODE_DIR)/node_modules/.bin/tsc ] && [ -x $(NODE_DIR)/node_modules/.bin/openapi-typescript ] || \
	  npm install --prefix $(NODE_DIR) --no-save --no-audit --no-fund --loglevel=error $(NODE_PKGS)

demo: install
	$(BIN)/unispec build
	$(BIN)/unispec portal build
	$(BIN)/unispec up

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy --strict src/unispec
	$(BIN)/lint-imports

pytest: install system-deps node-deps
	$(BIN)/pytest

test: lint typecheck pytest

build: install
	$(BIN)/unispec build

check: install
	$(BIN)/unispec check

bench: install
	$(BIN)/python bench/merge.py
	$(BIN)/python bench/gateway.py
	$(BIN)/python bench/policies.py
	$(BIN)/python bench/diff.py
	$(BIN)/python bench/portal.py

clean:
	rm -rf $(VENV) site .pytest_cache .mypy_cache .ruff_cache
