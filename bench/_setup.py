"""Shared set-up for benchmark scripts: Django configured against the database named by
``BENCH_DATABASE_URL`` (PostgreSQL on this project's machines when it answers, else
SQLite in a temporary folder), with a fresh schema."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def start_gunicorn(port: int, workers: str) -> subprocess.Popen[bytes]:
    """The app served as deployed (``shipdesk.core.gunicorn_conf``) on 127.0.0.1:``port``, with
    persistent database connections, against the database ``setup`` configured."""
    src = str(Path(__file__).resolve().parent.parent / "src")
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "shipdesk.wsgi:application",
         "--config", "python:shipdesk.core.gunicorn_conf", "--bind", f"127.0.0.1:{port}",
         "--workers", workers, "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": src, "SHIPDESK_DEBUG": "false",
             "DATABASE_CONN_MAX_AGE": "600",  # scale-out setting: persistent connections
             "SHIPDESK_ALLOWED_HOSTS": "127.0.0.1,localhost"})


def wait_until_answers(port: int, path: str, timeout: float = 120) -> None:
    """Waits until the server answers ``path`` with 200 (its workers import the app after the
    port opens)."""
    wait_for_port(port)
    deadline = time.monotonic() + timeout
    while asyncio.run(open_loop(port, [path], rate=1))[1] != [200]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"127.0.0.1:{port}{path} does not answer 200")
        time.sleep(0.5)


@dataclass(frozen=True)
class Request:
    path: str
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


async def open_loop(port: int, requests: Sequence[str | Request], *, rate: float
                    ) -> tuple[list[float], list[int]]:
    """Open loop in one asyncio thread: request i is due at start + i/rate whatever happened
    to the others, and its latency runs from that due time to the last byte of the answer
    (a late start, a new connection, a retry, all count). Idle keep-alive connections are
    reused, new ones opened when all are busy. One thread, not dozens of Python threads
    fighting for the GIL on the cores the server needs. Returns latencies and statuses."""
    loop = asyncio.get_running_loop()
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    latencies = [0.0] * len(requests)
    statuses = [0] * len(requests)

    def wire(request: str | Request) -> bytes:
        r = Request(request) if isinstance(request, str) else request
        head = [f"{r.method} {r.path} HTTP/1.1", "Host: 127.0.0.1",
                *(f"{k}: {v}" for k, v in r.headers)]
        if r.body or r.method != "GET":
            head.append(f"Content-Length: {len(r.body)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + r.body

    async def fetch(data: bytes) -> int:
        for attempt in range(2):
            reused = bool(idle)
            reader, writer = idle.pop() if reused else await asyncio.open_connection(
                "127.0.0.1", port)
            try:
                writer.write(data)
                head = await reader.readuntil(b"\r\n\r\n")
            except (OSError, asyncio.IncompleteReadError):
                writer.close()
                if reused and attempt == 0:
                    continue  # the server had closed this idle connection: a new one
                return 0
            lines = head.decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
            await reader.readexactly(int(headers.get("content-length", "0")))
            if headers.get("connection") == "close":
                writer.close()
            else:
                idle.append((reader, writer))
            return int(lines[0].split()[1])
        return 0

    async def one(i: int, data: bytes, due: float) -> None:
        try:
            statuses[i] = await asyncio.wait_for(fetch(data), 10)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            statuses[i] = 0
        latencies[i] = time.perf_counter() - due

    prepared = [wire(r) for r in requests]  # built before the clock starts
    t0 = time.perf_counter() + 0.2
    tasks = []
    for i, data in enumerate(prepared):
        due = t0 + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(loop.create_task(one(i, data, due)))
    await asyncio.gather(*tasks)
    for _reader, writer in idle:
        writer.close()
    return latencies, statuses


def start_program(program: str) -> subprocess.Popen[bytes]:
    """A Python one-liner (an emulator, say) in a process of its own, output discarded."""
    return subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.DEVNULL)


def shop_with_sender(*, email: str, name: str) -> tuple[Any, Any]:
    """A new organization (owner ``email``) with a default sender in Moscow: ``(org, actor)``
    for the benchmarks that register shipments with a carrier."""
    from shipdesk.shipments.models import SenderProfile
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Role

    owner = tenancy.user_create(email=email, password="Bench-Shop-Password-42")
    org = tenancy.organization_create(owner=owner, name=name)
    SenderProfile.objects.create(organization=org, name="Склад", company="ООО Ромашка",
                                 phone="+74951234567", index="101000", region="Москва",
                                 city="Москва", street="ул. Мясницкая", house="1",
                                 is_default=True)
    return org, tenancy.Actor(organization=org, role=Role.OWNER, user=owner)
