"""Shared set-up for benchmark scripts: Django configured against the database named by
``BENCH_DATABASE_URL`` (PostgreSQL on this project's machines when it answers, else
SQLite in a temporary folder), with a fresh schema."""

from __future__ import annotations

import os
import resource
import socket
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/shipdesk_bench"


def postgres_available(url: str = DEFAULT_PG) -> bool:
    try:
        import psycopg

        psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", connect_timeout=3).close()
        return True
    except Exception:
        return False


def setup(database_url: str | None = None) -> str:
    """Configures Django and migrates a fresh database; returns the vendor name."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    os.environ.setdefault("SHIPDESK_DATA_DIR", tempfile.mkdtemp(prefix="shipdesk-bench-"))
    os.environ.setdefault("SHIPDESK_SECRET_KEY", "bench")
    os.environ.setdefault("SHIPDESK_FIELD_ENCRYPTION_KEYS", "bench")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "true"
    url = database_url or os.environ.get("BENCH_DATABASE_URL") or (
        DEFAULT_PG if postgres_available() else "")
    if url:
        os.environ["DATABASE_URL"] = url
        if url.startswith("postgres"):
            _recreate_pg(url)
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shipdesk.settings")
    import django
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    call_command("migrate", verbosity=0)
    return connection.vendor


def _recreate_pg(url: str) -> None:
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def result(name: str, value: float, unit: str, op: str, target: float, note: str = "") -> None:
    print(f"RESULT {name} {value:.6g} {unit} target {op} {target:g} {note}".rstrip(), flush=True)


def wait_for_port(port: int, timeout: float = 60) -> None:
    """Waits until a server the benchmark started listens on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")
