"""Fixtures shared by every domain's tests: organizations, users, actors, API clients, a
headless browser."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Membership, Organization, Role

_seq = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    """Parallel test processes (pytest-xdist) share one Redis, or one data folder: each
    takes a Redis database (gw0 the one given, gw1 the one below...) or a cache folder of
    its own, so that one's ``cache.clear()`` never wipes the rate-limit windows and breakers
    another process's test is counting on."""
    from django.conf import settings

    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    if settings.REDIS_URL:
        base, _slash, db = settings.REDIS_URL.rpartition("/")
        url = f"{base}/{(int(db or 0) - int(worker[2:])) % 16}"
        settings.REDIS_URL = url
        settings.CACHES["default"]["LOCATION"] = url
    else:
        settings.CACHES["default"]["LOCATION"] = str(settings.DATA_DIR / f"cache-{worker}")
# Debian's Chromium (``make install-test-system`` installs it), driven by Playwright
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@pytest.fixture(autouse=True)
def _fresh_breakers_and_limits() -> Iterator[None]:
    """Circuit breakers and rate-limit windows live in the cache (a folder or a Redis database
    per test process) and are keyed by account id: one test's tripped breaker must not fail
    the next test whose account got the same id."""
    from django.core.cache import cache

    from shipdesk.carriers import http as carrier_http

    cache.clear()
    carrier_http._breakers.clear()
    yield


@pytest.fixture(autouse=True)
def _russian_first() -> Iterator[None]:
    """Each test starts in the installation's language: a request in English (the test
    client's language cookie) leaves its language active in the thread after it."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture
def mail_type_limits() -> None:
    """Russian Post's mail types as migration 0003 loads them: a test on a transactional
    database may run after another one emptied the tables."""
    from importlib import import_module

    from django.apps import apps as django_apps

    import_module("shipdesk.shipments.migrations.0003_mail_type_limits").load(django_apps, None)


@pytest.fixture(autouse=True)
def _carrier_clock() -> Iterator[None]:
    """A test that moved a carrier emulator's clock moved the adapters' with it
    (``carriers.timing.follow``): the next test starts on the real time again."""
    from shipdesk.carriers import timing

    yield
    timing.reset()


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless Chromium (a Playwright ``Browser``) for tests of pages as users see them."""
    from playwright.sync_api import sync_playwright

    # Playwright runs an event loop in this thread; the tests' ORM calls are synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def make_user(db: Any):
    def make(email: str | None = None, password: str = "Vkusnyi-Pirog-42") -> Any:
        return tenancy.user_create(email=email or f"user{next(_seq)}@example.test",
                                   password=password)
    return make


@pytest.fixture
def make_org(db: Any, make_user: Any):
    def make(name: str | None = None, owner: Any = None, **details: Any) -> Organization:
        return tenancy.organization_create(owner=owner or make_user(),
                                           name=name or f"Магазин {next(_seq)}", **details)
    return make


@pytest.fixture
def org(make_org: Any) -> Organization:
    return make_org("Ромашка")


@pytest.fixture
def other_org(make_org: Any) -> Organization:
    return make_org("Чужой магазин")


@pytest.fixture
def owner(org: Organization) -> Any:
    return Membership.objects.get(organization=org, role=Role.OWNER).user


@pytest.fixture
def actor(org: Organization, owner: Any) -> tenancy.Actor:
    return tenancy.Actor(organization=org, role=Role.OWNER, user=owner)


def actor_with_role(org: Organization, role: str, make_user: Any) -> tenancy.Actor:
    user = make_user()
    Membership.objects.create(user=user, organization=org, role=role)
    return tenancy.Actor(organization=org, role=role, user=user)


@pytest.fixture
def api_key(actor: tenancy.Actor) -> str:
    _key, plain = tenancy.api_key_create(actor=actor, name="tests", role=Role.OWNER)
    return plain


@pytest.fixture
def api(api_key: str) -> Client:
    """A test client that authenticates every request with the organization's API key."""
    return Client(headers={"X-API-Key": api_key}, enforce_csrf_checks=True)


@pytest.fixture
def other_api(other_org: Organization) -> Client:
    owner = Membership.objects.get(organization=other_org, role=Role.OWNER).user
    _key, plain = tenancy.api_key_create(
        actor=tenancy.Actor(organization=other_org, role=Role.OWNER, user=owner), name="other")
    return Client(headers={"X-API-Key": plain}, enforce_csrf_checks=True)


@pytest.fixture
def web(owner: Any) -> Client:
    client = Client()
    client.force_login(owner)
    return client


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Inbox:
    """Messages received by the test SMTP server, parsed (``email.message.EmailMessage``)."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import email
        from email import policy

        message = email.message_from_bytes(envelope.content, policy=policy.default)
        message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(message)
        return "250 OK"

    def body(self, index: int = -1) -> str:
        part = self.messages[index].get_body(preferencelist=("plain", "html"))
        return str(part.get_content())


@pytest.fixture
def smtp_server(settings: Any) -> Any:
    """A real SMTP server on 127.0.0.1; Django sends its mail there. Yields the inbox."""
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield inbox
    finally:
        controller.stop()
