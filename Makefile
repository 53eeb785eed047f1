# Shipdesk: `make run` starts everything in embedded mode, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := $(shell command -v $(PYTHON))

.PHONY: run test bench lint install install-test-system help

help:
	@echo "make run    - start Shipdesk in embedded mode (SQLite, embedded broker, sandbox carriers);"
	@echo "              PORT=8000 by default, data in ./var (SHIPDESK_DATA_DIR)"
	@echo "make test   - run the whole test suite (SQLite, and PostgreSQL + Redis when present)"
	@echo "make bench  - run the benchmarks in bench/ and print each figure beside its target (BENCH_DATABASE_URL: a database they drop and recreate)"
	@echo "make lint   - ruff and mypy"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

install: $(UV)
	$(UV) sync --locked --quiet

PORT ?= 8000
run: install
	$(VENV)/bin/shipdesk embedded --port $(PORT)

# The test suite also needs a browser (Debian's chromium, driven by Playwright) and an IMAP
# server (Debian's Dovecot) for the finance mail-in tests.
install-test-system:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium for the browser tests..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || { \
	  echo "Installing Debian's Dovecot for the mail-in tests (IMAP)..."; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; }

test: install install-test-system
	scripts/test.sh

bench: install
	$(VENV)/bin/python bench/run.py

lint: install
	$(VENV)/bin/ruff check src bench
	$(VENV)/bin/mypy src
