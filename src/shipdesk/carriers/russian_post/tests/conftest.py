"""Starts the Russian Post emulator on a free loopback port of this package's range (18100–18199)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from shipdesk.carriers import timing
from shipdesk.carriers.base import Address, Item, ParcelRequest, Party
from shipdesk.carriers.russian_post import emulator
from shipdesk.carriers.russian_post.adapter import Adapter

PORTS = range(18110, 18200)


def free_port() -> int:
    """A port of this package's range nobody listens on now (for emulators in subprocesses)."""
    import socket

    for port in reversed(PORTS):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 18110-18199")


def start_emulator(**config: Any) -> emulator.EmulatorServer:
    """The emulator at real speed; tickets answer at once unless a test sets a delay."""
    config.setdefault("ticket_delay_seconds", 0.0)
    for port in PORTS:
        try:
            return emulator.serve("127.0.0.1", port, config=emulator.Config(**config), speed=1.0)
        except OSError:
            continue
    raise RuntimeError("no free port in 18110-18199")


@pytest.fixture
def server() -> Iterator[emulator.EmulatorServer]:
    srv = start_emulator()
    yield srv
    srv.shutdown()


class Admin:
    def __init__(self, url: str) -> None:
        self.url = url

    def clock(self, **body: Any) -> None:
        """Moves the emulator's clock, and the adapters' with it (``carriers.timing.follow``)."""
        response = httpx.post(f"{self.url}/_emulator/clock", json=body)
        response.raise_for_status()
        timing.follow(datetime.fromisoformat(response.json()["now"]))

    def config(self, **body: Any) -> None:
        httpx.post(f"{self.url}/_emulator/config", json=body).raise_for_status()

    def fault(self, **body: Any) -> None:
        httpx.post(f"{self.url}/_emulator/fault", json=body).raise_for_status()


@pytest.fixture
def admin(server: emulator.EmulatorServer) -> Admin:
    return Admin(server.url)


def make_adapter(
    url: str, *, token: str = "test-token", password: str = "test", timeout: float = 5.0, **settings: Any
) -> Adapter:
    return Adapter(
        credentials={"token": token, "login": "test", "password": password},
        base_url=url,
        settings={"tracking_url": url, "index_from": "101000", "ticket_poll_interval": 0.01, **settings},
        http=httpx.Client(timeout=httpx.Timeout(timeout, connect=2.0)),
    )


@pytest.fixture
def adapter(server: emulator.EmulatorServer) -> Adapter:
    return make_adapter(server.url)


def basic_headers() -> dict[str, str]:
    return {
        "Authorization": "AccessToken test-token",
        "X-User-Authorization": "Basic " + base64.b64encode(b"test:test").decode(),
    }


def parcel(reference: str = "A-1", **overrides: Any) -> ParcelRequest:
    values: dict[str, Any] = {
        "reference": reference,
        "service_code": "POSTAL_PARCEL",
        "sender": Party(
            name="ООО Ромашка",
            phone="+74951234567",
            address=Address(index="101000", city="Москва", street="Мясницкая", house="1"),
        ),
        "recipient": Party(
            name="Иванов Иван Иванович",
            phone="+79001234567",
            address=Address(
                index="644015",
                region="Омская обл",
                city="Омск",
                street="ул. Ленина",
                house="10",
                apartment="5",
            ),
        ),
        "weight_g": 1200,
        "declared_value": Decimal("1500.00"),
        "cod_amount": Decimal("1500.00"),
        "items": (Item(name="Книга", quantity=2, unit_price=Decimal("750.00"), weight_g=500, vat_rate=None),),
        "options": {"fragile": True},
        "comment": "",
    }
    values.update(overrides)
    return ParcelRequest(**values)
