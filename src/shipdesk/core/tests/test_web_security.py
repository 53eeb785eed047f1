"""The web edge as an attacker meets it: bodies refused unread, guessing throttled, scripts
only from our files, spreadsheets without live formulas, scale-out refusing weak set-ups."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

import shipdesk

SRC = Path(shipdesk.__file__).resolve().parent


def _raw_request_headers_only(live_url: str, head: str) -> str:
    """Sends a request's head announcing a huge body, sends none of it, reads the answer:
    a server that waited for the body would time out here."""
    parts = urlsplit(live_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        conn.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode("latin-1")


def test_a_huge_login_post_is_refused_before_its_body_is_read(live_server: Any,
                                                              transactional_db: Any) -> None:
    answer = _raw_request_headers_only(live_server.url, (
        "POST /login/ HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {200 * 2**20}\r\n\r\n"))
    assert answer.startswith("HTTP/1.1 413"), answer[:200]


def test_a_huge_api_upload_is_refused_with_a_problem_before_reading(
        live_server: Any, transactional_db: Any, api_key: str) -> None:
    answer = _raw_request_headers_only(live_server.url, (
        "POST /api/v1/shipments/imports HTTP/1.1\r\nHost: localhost\r\n"
        f"X-API-Key: {api_key}\r\nContent-Type: multipart/form-data; boundary=x\r\n"
        f"Content-Length: {200 * 2**20}\r\n\r\n"))
    assert answer.startswith("HTTP/1.1 413") and "application/problem+json" in answer


def test_a_small_anonymous_post_still_works(client: Client, db: Any) -> None:
    page = client.post("/login/", {"username": "nobody@example.test", "password": "x"})
    assert page.status_code == 200  # the form again, with its error


@pytest.fixture
def api_key(org: Any) -> str:
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Role

    _key, plain = tenancy.api_key_create(actor=tenancy.system_actor(org), name="t", role=Role.OWNER)
    return str(plain)


def test_password_guessing_is_throttled_per_user_and_address(
        client: Client, make_user: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 5
    victim = make_user(email="victim@example.test")
    bystander = make_user(email="bystander@example.test")
    for _attempt in range(4):
        page = client.post("/login/", {"username": victim.email, "password": "wrong"})
        assert page.status_code == 200
    # the fifth failure locks the pair out; now even the right password waits
    assert client.post("/login/", {"username": victim.email, "password": "x"}).status_code == 429
    locked = client.post("/login/", {"username": victim.email, "password": "Vkusnyi-Pirog-42"})
    assert locked.status_code == 429 and int(locked["Retry-After"]) > 0
    assert "Слишком много неудачных попыток" in locked.content.decode()
    # someone else signs in from the same address meanwhile
    ok = Client().post("/login/", {"username": bystander.email, "password": "Vkusnyi-Pirog-42"})
    assert ok.status_code == 302


def test_admin_login_is_throttled_too(client: Client, make_user: Any,
                                      settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    for _attempt in range(2):
        client.post("/admin/login/", {"username": "root@example.test", "password": "bad"})
    assert client.post("/admin/login/", {"username": "root@example.test",
                                         "password": "bad"}).status_code == 429


def test_api_key_guessing_is_throttled_with_401_then_429(
        client: Client, api_key: str, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 4
    for attempt in range(3):
        answer = client.get("/api/v1/shipments/", HTTP_X_API_KEY=f"sd_guess{attempt}")
        assert answer.status_code == 401
    # the fourth bad key locks the address out, and the right key waits as well
    assert client.get("/api/v1/shipments/", HTTP_X_API_KEY="sd_guess-4").status_code == 429
    locked = client.get("/api/v1/shipments/", HTTP_X_API_KEY=api_key)
    assert locked.status_code == 429 and locked["Content-Type"] == "application/problem+json"
    assert locked.json()["type"] == "urn:shipdesk:problem:too_many_failures"
    assert int(locked["Retry-After"]) > 0


def test_pages_carry_a_script_policy_without_inline_scripts(client: Client) -> None:
    page = client.get("/login/")
    policy = page["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert "'unsafe-inline'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_no_template_has_inline_handlers_or_unnonced_scripts() -> None:
    """Inline handlers (onclick=…) and inline <script> would be blocked by the policy above:
    behaviour goes in core/static/core/shipdesk.js through data attributes."""
    offenders = []
    for path in SRC.rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"\son[a-z]+\s*=", text):
            offenders.append(f"{path.relative_to(SRC)}: inline handler")
        for tag in re.findall(r"<script\b[^>]*>", text):
            if "src=" not in tag and "nonce=" not in tag and "application/json" not in tag:
                offenders.append(f"{path.relative_to(SRC)}: {tag}")
        if "javascript:" in text:
            offenders.append(f"{path.relative_to(SRC)}: javascript: URL")
    assert offenders == []


def test_every_spreadsheet_is_written_through_the_escaping_writers() -> None:
    """Formula injection is closed by construction: XLSX and CSV are written only through
    core/spreadsheets.py (the emulators imitate carriers' own files and are exempt)."""
    writer = re.compile(r"\bWorkbook\(|csv\.writer\(|DictWriter\(")
    offenders = [str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
                 if "tests" not in path.parts and not path.name.startswith("emulator")
                 and path.name != "spreadsheets.py" and writer.search(path.read_text("utf-8"))]
    assert offenders == []


# --- scale-out refuses what check --deploy warns about ------------------------------------

STRONG = "Zq8v" + "x7Lr-K2pW_tY9mN4bH6jD1sF3gA5cE0uI8oP-lkjhgfdsa" + "QWERT"


def _scale_out(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("DATABASE_", "REDIS_", "CELERY_", "SHIPDESK_"))}
    base.update(SHIPDESK_MODE="scale-out", SHIPDESK_DATA_DIR=str(tmp_path),
                SHIPDESK_ALLOWED_HOSTS="shipdesk.example.test",
                DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", PYTHONPATH=str(SRC.parent))
    base.update(env)
    return subprocess.run([sys.executable, "-m", "shipdesk.cli", "check", "--deploy",
                           "--fail-level", "WARNING"], env=base, capture_output=True, text=True,
                          timeout=120)


def test_scale_out_with_strong_secrets_passes_the_deploy_check(tmp_path: Path) -> None:
    done = _scale_out(tmp_path, SHIPDESK_SECRET_KEY=STRONG,
                      SHIPDESK_FIELD_ENCRYPTION_KEYS=STRONG[::-1])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


@pytest.mark.parametrize("weak", ["x", "y" * 80, "short-but-varied-0123456789"])
def test_scale_out_refuses_weak_secrets(tmp_path: Path, weak: str) -> None:
    done = _scale_out(tmp_path, SHIPDESK_SECRET_KEY=weak, SHIPDESK_FIELD_ENCRYPTION_KEYS=STRONG)
    assert done.returncode != 0
    assert "SHIPDESK_SECRET_KEY is too weak" in done.stderr
    done = _scale_out(tmp_path, SHIPDESK_SECRET_KEY=STRONG,
                      SHIPDESK_FIELD_ENCRYPTION_KEYS=f"{STRONG},{weak}")
    assert "SHIPDESK_FIELD_ENCRYPTION_KEYS is too weak" in done.stderr
