"""Embedded mode holds concurrent use: 8 clients writing and reading at once through real
HTTP (gunicorn, several processes and threads) on one SQLite file get no error at all."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

import shipdesk

CLIENTS = 8
ROUNDS = 6
SRC = str(Path(shipdesk.__file__).resolve().parents[1])


def _free_port() -> int:
    for port in range(18010, 18090):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18010-18089")


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_"))}
    env.update(SHIPDESK_MODE="embedded", SHIPDESK_DATA_DIR=str(data_dir), DATABASE_URL="",
               CELERY_TASK_ALWAYS_EAGER="true", SHIPDESK_SECRET_KEY="concurrency-test",
               SHIPDESK_FIELD_ENCRYPTION_KEYS="concurrency-test", PYTHONPATH=SRC,
               DJANGO_SETTINGS_MODULE="shipdesk.settings", SHIPDESK_LOG_LEVEL="WARNING")
    return env


SETUP = """
import django; django.setup()
from shipdesk.tenancy import services
from shipdesk.tenancy.models import Role
user = services.user_create(email="load@example.test", password="Nagruzka-2024-ok")
org = services.organization_create(owner=user, name="Нагрузка")
_key, plain = services.api_key_create(
    actor=services.Actor(organization=org, role=Role.OWNER, user=user), name="load", role=Role.OWNER)
print(plain)
"""


def _shipment(client: int, round_: int) -> dict[str, Any]:
    """A valid shipment as a shop would send it (the shipments API's own test data shape)."""
    return {"order_number": f"LOAD-{client}-{round_}", "service_code": "POSTAL_PARCEL",
            "recipient_name": "Иванов Иван Иванович", "recipient_phone": "8 (912) 345-67-89",
            "index": "644010", "region": "Омская обл", "city": "г. Омск", "street": "улица Ленина",
            "house": "д. 5", "apartment": f"кв. {client}", "weight_g": 1200,
            "declared_value": "2500.00", "cod_amount": "2500"}


@pytest.fixture
def server(tmp_path: Path) -> Any:
    env = _env(tmp_path)
    subprocess.run([sys.executable, "-m", "shipdesk.cli", "migrate", "--noinput", "-v", "0"],
                   env=env, check=True, cwd=tmp_path, timeout=300)
    journal = subprocess.run([sys.executable, "-c", "import sqlite3,sys; print(sqlite3.connect("
                              f"{str(tmp_path / 'shipdesk.sqlite3')!r}).execute('PRAGMA journal_mode')"
                              ".fetchone()[0])"], capture_output=True, text=True, check=True)
    assert journal.stdout.strip() == "wal"
    key = subprocess.run([sys.executable, "-c", SETUP], env=env, check=True, cwd=tmp_path,
                         capture_output=True, text=True, timeout=120).stdout.strip().splitlines()[-1]
    port = _free_port()
    log = (tmp_path / "gunicorn.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "shipdesk.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "3", "--threads", "4", "--worker-class", "gthread", "--no-control-socket"],
        env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError((tmp_path / "gunicorn.log").read_text())
        yield base, key
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def test_eight_clients_write_and_read_at_once_without_error(server: Any) -> None:
    base, key = server
    errors: list[str] = []
    created: list[int] = []
    shipments: list[int] = []
    start = threading.Barrier(CLIENTS)
    lock = threading.Lock()

    def client(number: int) -> None:
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=60) as http:
            start.wait()
            for round_ in range(ROUNDS):
                calls = [
                    ("POST", "/api/v1/api-keys", {"name": f"c{number}-r{round_}", "role": "viewer"},
                     {"Idempotency-Key": f"c{number}-r{round_}"}),
                    ("GET", "/api/v1/api-keys", None, {}),
                    ("PATCH", "/api/v1/organization", {"phone": f"+7999{number:03d}{round_:04d}"}, {}),
                    ("GET", "/api/v1/organization", None, {}),
                    ("GET", "/api/v1/audit", None, {}),
                    ("POST", "/api/v1/shipments/", _shipment(number, round_),
                     {"Idempotency-Key": f"s{number}-r{round_}"}),
                    ("GET", "/api/v1/shipments/", None, {}),
                ]
                for method, path, body, headers in calls:
                    response = http.request(method, path, json=body, headers=headers)
                    if response.status_code >= 300:
                        with lock:
                            errors.append(f"{method} {path}: {response.status_code} {response.text[:200]}")
                    elif method == "POST" and path == "/api/v1/api-keys":
                        with lock:
                            created.append(response.json()["id"])
                    elif method == "POST":
                        shipment_id = response.json()["id"]
                        with lock:
                            shipments.append(shipment_id)
                        again = http.get(f"/api/v1/shipments/{shipment_id}")
                        if again.status_code != 200 or again.json()["order_number"] != body["order_number"]:
                            with lock:
                                errors.append(f"GET shipment {shipment_id}: {again.status_code}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(created)) == CLIENTS * ROUNDS
    assert len(set(shipments)) == CLIENTS * ROUNDS
    listed = httpx.get(base + "/api/v1/api-keys", headers={"X-API-Key": key}).json()
    assert {item["id"] for item in listed} >= set(created)
