"""Outbound requests reach public addresses only (unless the installation allows more),
checked on save and again at connect time (DNS rebinding)."""

from __future__ import annotations

import http.server
import ipaddress
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shipdesk.core import outbound
from shipdesk.core.errors import ValidationFailed

pytestmark = pytest.mark.django_db

INTERNAL = ("http://169.254.169.254/latest/meta-data/", "http://10.1.2.3/", "http://192.168.0.1/",
            "http://[fd00::1]/", "http://[::ffff:10.0.0.1]/", "http://0.0.0.0/",
            "http://100.64.0.1/")


@pytest.fixture
def strict(settings: Any) -> None:
    """An installation that allows nothing internal (scale-out's default)."""
    settings.OUTBOUND_ALLOW = []


@pytest.fixture
def local_server() -> Iterator[str]:
    """A web server on loopback that answers "inside" (what an attacker wants to read)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"inside {self.headers.get('Host')}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_with_a_reason(url: str) -> None:
    with pytest.raises(outbound.OutboundRefused, match="внутреннюю сеть"):
        outbound.check_url(url)


def test_public_and_allowed_addresses_pass(settings: Any) -> None:
    assert outbound.check_url("https://93.184.216.34/x") == "https://93.184.216.34/x"
    settings.OUTBOUND_ALLOW = ["10.20.0.0/16", "smtp.internal"]
    outbound.check_url("http://10.20.3.4/hook")
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url("http://10.21.0.1/hook")


def test_loopback_is_allowed_only_where_the_installation_says(settings: Any) -> None:
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8", "::1", "localhost"]  # embedded mode's default
    outbound.check_url("http://127.0.0.1:18100/")
    settings.OUTBOUND_ALLOW = []
    with pytest.raises(outbound.OutboundRefused):
        outbound.check_url("http://127.0.0.1:18100/")


def test_connections_are_checked_again_when_made(strict: None, local_server: str) -> None:
    with outbound.guarded_client() as client, pytest.raises(httpx.ConnectError,
                                                            match="внутреннюю сеть"):
        client.get(f"http://{local_server}/")


def test_a_name_rebound_to_an_internal_address_is_refused_at_connect_time(
        strict: None, local_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The name resolved to a public address when saved, to loopback when connecting."""
    port = int(local_server.rsplit(":", 1)[1])
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def rebinding(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        ip = next(answers)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", rebinding)
    url = f"http://shop.example.test:{port}/hook"
    assert outbound.check_url(url) == url  # public now
    with outbound.guarded_client() as client, pytest.raises(httpx.ConnectError):
        client.get(url)  # loopback now: refused, the answer never read


def test_the_checked_address_is_the_one_connected_to(
        settings: Any, local_server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolved once: a second lookup (the rebinding trick) is never made."""
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]
    port = int(local_server.rsplit(":", 1)[1])
    lookups: list[str] = []

    def once(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(outbound.socket, "getaddrinfo", once)
    with outbound.guarded_client() as client:
        answer = client.get(f"http://named.example.test:{port}/")
    assert answer.text == f"inside named.example.test:{port}"  # the Host header kept
    # the name looked up once; the socket is then opened to the literal address checked
    assert lookups[0] == "named.example.test" and set(lookups[1:]) <= {"127.0.0.1"}


def test_carrier_base_url_into_the_network_is_refused_on_save(actor: Any, strict: None) -> None:
    from shipdesk.carriers import services

    with pytest.raises(ValidationFailed) as info:
        services.carrier_account_create(actor=actor, carrier_code="cdek", name="x",
                                        base_url="http://169.254.169.254/", credentials={})
    assert info.value.errors[0].loc == ("base_url",)
    assert "внутреннюю сеть" in info.value.errors[0].message


def test_carrier_requests_never_reach_an_internal_address(actor: Any, strict: None,
                                                          local_server: str) -> None:
    """An account saved while loopback was allowed, used after: the exchange log shows the
    refusal, never the internal answer."""
    from shipdesk.carriers.base import CarrierError
    from shipdesk.carriers.http import build_client
    from shipdesk.carriers.models import CarrierExchange

    with build_client(key="ssrf-test", organization_id=actor.organization.pk,
                      options={"max_attempts": 1}) as client, pytest.raises(CarrierError):
        client.get(f"http://{local_server}/")
    logged = CarrierExchange.objects.filter(organization=actor.organization).get()
    assert logged.status is None and "внутреннюю сеть" in logged.error
    assert "inside" not in logged.response_body


def test_notification_webhook_and_smtp_into_the_network_are_refused(actor: Any,
                                                                     strict: None) -> None:
    from shipdesk.notifications import services

    with pytest.raises(ValidationFailed) as info:
        services.channel_config_save(actor=actor, gateway="webhook", config={
            "url": "http://169.254.169.254/hook", "secret": "s" * 20})
    assert [e.loc for e in info.value.errors] == [("config", "url")]
    with pytest.raises(ValidationFailed) as info:
        services.channel_config_save(actor=actor, gateway="smtp", config={
            "host": "10.0.0.25", "port": "25", "from_email": "shop@example.test"})
    assert [e.loc for e in info.value.errors] == [("config", "host")]


def test_mapped_and_literal_forms_are_judged_by_the_address() -> None:
    assert not outbound.address_allowed(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert outbound.address_allowed(ipaddress.ip_address("8.8.8.8"))


def test_an_organizations_smtp_server_is_checked_when_connecting(settings: Any,
                                                                 smtp_server: Any) -> None:
    """Saved while allowed, used after the installation stopped allowing it: refused, the
    mail not handed over; allowed again, it goes."""
    from django.core.mail import EmailMessage, get_connection

    def send() -> int:
        connection = get_connection("shipdesk.core.outbound.GuardedEmailBackend",
                                    fail_silently=False, host=settings.EMAIL_HOST,
                                    port=settings.EMAIL_PORT, timeout=5)
        return EmailMessage("s", "b", "shop@example.test", ["buyer@example.test"],
                            connection=connection).send()

    settings.OUTBOUND_ALLOW = []
    with pytest.raises(ConnectionRefusedError, match="внутреннюю сеть"):
        send()
    assert not smtp_server.messages
    settings.OUTBOUND_ALLOW = ["127.0.0.0/8"]
    assert send() == 1
    assert len(smtp_server.messages) == 1
