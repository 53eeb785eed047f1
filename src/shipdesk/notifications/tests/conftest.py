"""Fixtures: a real SMTP server (aiosmtpd), the SMS gateway emulators, shipments, feed rows."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from shipdesk.notifications import services
from shipdesk.notifications.gateways.emulators import (
    SmsAeroEmulator,
    SmscEmulator,
    SmsRuEmulator,
    WebhookReceiver,
)
from shipdesk.notifications.models import ChannelConfig, NotificationSettings
from shipdesk.notifications.services import settings_ensure

logging.getLogger("mail.log").setLevel(logging.WARNING)
_seq = itertools.count(1)
# a moment inside the default sending window in Moscow (12:00 MSK)
NOON = dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.lock = threading.Lock()
        self.before_data: Any = None  # an async hook (e.g. a slow server)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.original_content or envelope.content,
                                 policy=policy.default)
        if self.before_data is not None:
            await self.before_data()
        with self.lock:
            self.envelopes.append(envelope)
            self.messages.append(msg)  # type: ignore[arg-type]
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.endswith("@rejected.test"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def text_of(self, msg: EmailMessage) -> str:
        part = msg.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[tuple[_Inbox, int]]:
    # A port of the OS's choosing: test processes running side by side (pytest-xdist)
    # each get their own server.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def inbox(smtp_server: tuple[_Inbox, int]) -> _Inbox:
    box, _port = smtp_server
    with box.lock:
        box.messages.clear()
        box.envelopes.clear()
        box.before_data = None
    return box


@pytest.fixture
def smsru() -> Iterator[SmsRuEmulator]:
    emu = SmsRuEmulator(0).start()
    yield emu
    emu.stop()


@pytest.fixture
def smsc() -> Iterator[SmscEmulator]:
    emu = SmscEmulator(0).start()
    yield emu
    emu.stop()


@pytest.fixture
def smsaero() -> Iterator[SmsAeroEmulator]:
    emu = SmsAeroEmulator(0).start()
    yield emu
    emu.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    emu = WebhookReceiver(0).start()
    yield emu
    emu.stop()


@pytest.fixture
def notif_settings(org: Any) -> NotificationSettings:
    return settings_ensure(organization=org)


@pytest.fixture
def email_channel(org: Any, inbox: _Inbox, smtp_server: tuple[_Inbox, int]) -> ChannelConfig:
    return ChannelConfig.objects.create(organization=org, gateway="smtp", config={
        "host": "127.0.0.1", "port": smtp_server[1], "from_email": "shop@romashka.test"})


def plan_and_send(now: dt.datetime = NOON) -> services.SendStats:
    """Plans messages from the status feed and sends what is due, both at ``now``."""
    services.outbox_plan_from_feed(now=now)
    return services.outbox_send_due(now=now)


def sms_channel(org: Any, gateway: str, emu: Any, **extra: Any) -> ChannelConfig:
    config: dict[str, Any] = {"base_url": emu.base_url, "timeout": 2}
    if gateway == "smsru":
        config.update(api_id=emu.api_id, sender="Romashka")
    elif gateway == "smsc":
        config.update(login=emu.login, password=emu.password)
    elif gateway == "smsaero":
        config.update(email=emu.email, api_key=emu.api_key, sign="Romashka")
    config.update(extra)
    NotificationSettings.objects.filter(organization=org).update(sms_gateway=gateway)
    return ChannelConfig.objects.create(organization=org, gateway=gateway, config=config)


@pytest.fixture
def make_shipment(org: Any) -> Any:
    from shipdesk.shipments.models import Shipment

    def make(organization: Any = None, **fields: Any) -> Shipment:
        n = next(_seq)
        values: dict[str, Any] = {
            "order_number": f"A-{n:05d}", "recipient_surname": "Иванова",
            "recipient_given_name": "Анна", "recipient_phone": "+79001234567",
            "recipient_email": f"anna{n}@example.test", "index": "101000", "city": "Москва",
            "street": "ул. Тверская", "house": "7", "cod_amount": Decimal("2490.00"),
            "tracking_number": f"8008{n:010d}", "tracking_status": "accepted",
            "state": "handed_over"}
        values.update(fields)
        return Shipment.objects.create(organization=organization or org, **values)
    return make


@pytest.fixture
def status_change() -> Any:
    from shipdesk.shipments.models import Shipment
    from shipdesk.tracking.models import ShipmentStatusChange

    def change(shipment: Any, status: str, at: dt.datetime = NOON) -> ShipmentStatusChange:
        Shipment.objects.filter(pk=shipment.pk).update(tracking_status=status,
                                                       tracking_status_at=at)
        return ShipmentStatusChange.objects.create(
            organization_id=shipment.organization_id, shipment=shipment, status=status,
            changed_at=at)
    return change
