# browserfleet developer entry points. `make help` lists them.
# Set-up logic lives in scripts/install.sh; stamps in .stamps/ keep `make install` fast.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin

ARGS ?=
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install lock serve test check fmt bench bench-sessions bench-dispatch bench-read clean

help: ## List the targets
	@echo "Usage: make <target> [ARGS=...] [PYTEST_ARGS=...]"
	@echo
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "} {printf "  %-8s %s\n", $$1, $$2}'

install: ## Install apt packages, create .venv, sync locked Python deps (idempotent)
	@scripts/install.sh

lock: ## Re-resolve pyproject.toml's dependencies into requirements.lock (pinned, hashed)
	$(BIN)/uv lock
	$(BIN)/uv export --frozen --no-emit-project --all-groups --format requirements-txt --no-header \
		-o requirements.lock

serve: install ## Run the server: .venv/bin/browserfleet serve $(ARGS)
	$(BIN)/browserfleet serve $(ARGS)

test: install ## Run the whole test suite (extra pytest options: PYTEST_ARGS=...)
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS) </dev/null

check: install ## Lint, format check, type check and the layer contracts (import-linter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

fmt: install ## Format the code and apply lint auto-fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install ## Run the render throughput benchmark (options: ARGS=...)
	$(BIN)/python bench/render_throughput.py $(ARGS)

bench-sessions: install ## Run the session start-up and memory benchmark (options: ARGS=...)
	$(BIN)/python bench/session_startup.py $(ARGS)

bench-dispatch: install ## Run the distributed dispatch overhead benchmark (options: ARGS=...)
	$(BIN)/python bench/dispatch_overhead.py $(ARGS)

bench-read: install ## Run the read-path benchmark with wrk (options: ARGS=...)
	$(BIN)/python bench/read_path.py $(ARGS)

clean: ## Remove stamps and caches (keeps .venv)
	rm -rf .stamps .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -print0 | xargs -0 -r rm -rf
