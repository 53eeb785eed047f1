#!/usr/bin/env bash
# Runs the suite twice: on SQLite (embedded mode) and on PostgreSQL + Redis (scale-out),
# the latter wherever those servers answer on their standard local ports. In CI both must
# run: a missing PostgreSQL there is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
WORKERS=${TEST_WORKERS:-2}
export SHIPDESK_MODE=embedded
export SHIPDESK_SECRET_KEY=${SHIPDESK_SECRET_KEY:-test-secret-key-not-for-production}
export SHIPDESK_FIELD_ENCRYPTION_KEYS=${SHIPDESK_FIELD_ENCRYPTION_KEYS:-test-field-key}
export CELERY_TASK_ALWAYS_EAGER=true
export TEST_OUTPUT_DIR=${TEST_OUTPUT_DIR:-$PWD/test-output}
mkdir -p "$TEST_OUTPUT_DIR"

echo "== lint =="
.venv/bin/ruff check src bench
.venv/bin/mypy src

echo "== tests on SQLite =="
SQLITE_DIR=$(mktemp -d)
SHIPDESK_DATA_DIR=$SQLITE_DIR DATABASE_URL= REDIS_URL= CELERY_BROKER_URL= \
  $PY -m pytest -n "$WORKERS" -q "$@"

PG_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/shipdesk}
REDIS=${TEST_REDIS_URL:-redis://127.0.0.1:6379/15}
if $PY - "$PG_URL" "$REDIS" <<'PYCHECK'
import sys, psycopg, redis
try:
    psycopg.connect(sys.argv[1].rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
    redis.Redis.from_url(sys.argv[2], socket_connect_timeout=3).ping()
except Exception as exc:
    print(f"PostgreSQL/Redis not reachable: {exc}")
    sys.exit(1)
PYCHECK
then
  echo "== tests on PostgreSQL + Redis =="
  PG_DIR=$(mktemp -d)
  SHIPDESK_DATA_DIR=$PG_DIR DATABASE_URL=$PG_URL REDIS_URL=$REDIS CELERY_BROKER_URL=$REDIS \
    $PY -m pytest -n "$WORKERS" -q "$@"
elif [ "${CI:-}" = "true" ]; then
  echo "CI must run the suite on PostgreSQL and Redis too, and they did not answer." >&2
  exit 1
else
  echo "== PostgreSQL/Redis not present: scale-out run skipped on this machine =="
fi
