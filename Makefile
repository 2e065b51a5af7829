# Tertulia — `make run` (install, migrate, demo tenant, serve) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000
export TERTULIA_DATA_DIR ?= ./var

.PHONY: install install-python install-web run test test-sqlite test-postgresql check-readme lint api-types check-api-types bench clean

install: install-python install-web

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

install-python: $(if $(filter .tools/bin/uv,$(UV)),.tools/bin/uv)
	$(UV) sync --frozen --quiet

# The web app is built only when its sources changed since the last build.
install-web:
	@if [ -f web/package.json ]; then \
	  if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then \
	    (cd web && npm ci --no-audit --no-fund --loglevel=error); fi; \
	  if [ ! -f web/dist/index.html ] || [ -n "$$(find web/src web/widget web/index.html web/package.json web/vite.config.ts web/vite.widget.config.ts -newer web/dist/index.html 2>/dev/null | head -1)" ]; then \
	    (cd web && npm run build); fi; \
	fi

# `make run SANDBOX=1`: the demo's WhatsApp numbers talk to the provider sandbox on SANDBOX_PORT
# (started beside the server, stopped with it), with its customer phone page.
SANDBOX ?=
SANDBOX_PORT ?= 8090
LOCAL_HOST := $(if $(filter 0.0.0.0 ::,$(HOST)),127.0.0.1,$(HOST))

run: install
	.venv/bin/tertulia migrate
	.venv/bin/tertulia demo
ifeq ($(SANDBOX),1)
	@echo "Tertulia on http://$(HOST):$(PORT)/  (log in with the demo login above)"
	@echo "Customer phone on http://127.0.0.1:$(SANDBOX_PORT)/phone  (write as a customer of Café Aurora)"
	@.venv/bin/tertulia sandbox --demo --port $(SANDBOX_PORT) --tertulia-url http://$(LOCAL_HOST):$(PORT) & \
	  sandbox=$$!; trap 'kill $$sandbox 2>/dev/null; wait $$sandbox 2>/dev/null' EXIT INT TERM; \
	  TERTULIA_META_GRAPH_URL=http://127.0.0.1:$(SANDBOX_PORT)/v23.0 \
	  TERTULIA_YCLOUD_API_URL=http://127.0.0.1:$(SANDBOX_PORT)/v2 \
	  .venv/bin/tertulia serve --host $(HOST) --port $(PORT)
else
	@echo "Tertulia on http://$(HOST):$(PORT)/  (log in with the demo login above)"
	.venv/bin/tertulia serve --host $(HOST) --port $(PORT)
endif

test: install
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory check-api-types
	cd web && npm test -- --run
	$(MAKE) --no-print-directory test-sqlite test-postgresql

test-sqlite:
	TERTULIA_TEST_DB=sqlite .venv/bin/pytest $(PYTEST_ARGS)

test-postgresql:
	TERTULIA_TEST_DB=postgresql .venv/bin/pytest $(PYTEST_ARGS)

# The web app's API types come from the server's OpenAPI document (regenerate after changing an
# endpoint or a schema; `make test` fails while the committed types differ from the server's).
api-types: install-python
	web/tools/openapi/generate.sh

check-api-types: install-python
	web/tools/openapi/generate.sh --check

# README.md's shell blocks, run as written against servers of their own (tests/readme_check.py).
check-readme: install
	.venv/bin/python -m tests.readme_check

lint:
	.venv/bin/ruff check src tests bench
	.venv/bin/mypy src

clean:
	rm -rf .venv .tools web/node_modules web/tools/openapi/node_modules web/dist
