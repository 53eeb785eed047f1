"""kill -9 in the middle of a request sent with an ``Idempotency-Key``: the key is not stuck.

Real processes on a database of their own (a SQLite file in a temporary directory): one sets
up an organization, one is killed while its request runs, one retries with the same key."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import shipdesk

SRC = str(Path(shipdesk.__file__).resolve().parents[1])
SETUP = """
import django; django.setup()
from django.core.management import call_command
from shipdesk.tenancy import services
call_command("migrate", verbosity=0)
owner = services.user_create(email="owner@example.test", password="Vkusnyi-Pirog-42")
org = services.organization_create(owner=owner, name="Ромашка")
_key, plain = services.api_key_create(actor=services.Actor(organization=org, role="owner",
                                      user=owner), name="setup", role="owner")
print(plain, flush=True)
"""
# The request's work hangs after the key was taken, until the process is killed.
HANG = """
import sys, time, django; django.setup()
from django.test import Client
from shipdesk.tenancy import services
def hang(**kwargs):
    print("working", flush=True)
    time.sleep(60)
services.api_key_create = hang
Client(headers={"X-API-Key": sys.argv[1]}).post(
    "/api/v1/api-keys", {"name": "после сбоя"}, content_type="application/json",
    headers={"Idempotency-Key": "kill-9"})
"""
RETRY = """
import json, sys, django; django.setup()
from datetime import timedelta
from django.test import Client
from shipdesk.core import idempotency
if sys.argv[2] == "expired":
    idempotency.LEASE = timedelta(0)  # as when the lease has run out
resp = Client(headers={"X-API-Key": sys.argv[1]}).post(
    "/api/v1/api-keys", {"name": "после сбоя"}, content_type="application/json",
    headers={"Idempotency-Key": "kill-9"})
from shipdesk.tenancy.models import ApiKey
print(json.dumps({"status": resp.status_code, "keys": ApiKey.objects.count(),
                  "replayed": resp.get("Idempotent-Replayed") == "true"}), flush=True)
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DATABASE_", "REDIS_", "CELERY_", "SHIPDESK_"))}
    env.update(PYTHONPATH=SRC, SHIPDESK_MODE="embedded", SHIPDESK_DATA_DIR=str(tmp_path),
               SHIPDESK_SECRET_KEY="t", SHIPDESK_FIELD_ENCRYPTION_KEYS="t",
               CELERY_TASK_ALWAYS_EAGER="true", DJANGO_SETTINGS_MODULE="shipdesk.settings")
    return env


def _run(code: str, *args: str, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_a_key_whose_process_was_killed_mid_request_is_taken_over_after_its_lease(
        tmp_path: Path) -> None:
    env = _env(tmp_path)
    api_key = _run(SETUP, env=env)

    victim = subprocess.Popen([sys.executable, "-c", HANG, api_key], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert victim.stdout is not None
        assert victim.stdout.readline().strip() == "working"  # the key is held, work under way
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=30)
    assert victim.returncode == -signal.SIGKILL

    within_lease = json.loads(_run(RETRY, api_key, "running", env=env))
    assert within_lease == {"status": 409, "keys": 1, "replayed": False}  # told to wait, nothing done twice

    after_lease = json.loads(_run(RETRY, api_key, "expired", env=env))
    assert after_lease == {"status": 201, "keys": 2, "replayed": False}  # the retry ran the request

    replay = json.loads(_run(RETRY, api_key, "expired", env=env))
    assert replay == {"status": 201, "keys": 2, "replayed": True}  # and its answer is kept for the next one
