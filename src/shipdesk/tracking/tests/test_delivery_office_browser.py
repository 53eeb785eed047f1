"""In a real (headless) Chromium, on a phone: the recipient's page of a Russian Post parcel
that arrived at office 620014 shows where to collect it and when the office is open, loaded
from the carrier's post-office service (the emulator) after the ingest committed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.russian_post.emulator import EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import start_emulator
from shipdesk.tracking.models import TrackingState
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import event, shipment

pytestmark = [pytest.mark.browser]


@pytest.fixture
def rp() -> Iterator[EmulatorServer]:
    server = start_emulator()
    yield server
    server.shutdown()


def test_recipient_sees_the_office_address_and_hours_on_a_phone(
        transactional_db: Any, live_server: Any, chromium: Any, org: Any,
        rp: EmulatorServer) -> None:
    account = CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Почта России", base_url=rp.url,
        credentials={"token": "test-token", "login": "test", "password": "test"})
    s = shipment(org, account=account, carrier="russian_post", index="620014")
    base = timezone.now() - timedelta(days=3)
    n = s.tracking_number
    tracking_events_ingest(events=[  # committed at once: the office loads after it
        event(n, 0, Status.ACCEPTED, "1.2", base=base),
        event(n, 2, Status.ARRIVED_AT_PICKUP, "8.2", place="Екатеринбург 620014",
              index="620014", base=base)], now=timezone.now())
    token = TrackingState.objects.get(shipment=s).public_token
    page = chromium.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/tracking/t/{token}/")
    card = page.locator(".card.office")
    assert card.is_visible()
    text = card.inner_text()
    assert "Заберите до" in text
    assert "Отделение Почты России 620014" in text
    assert "620014, Екатеринбург, ул. Малышева, д. 31" in text
    assert "пн–пт 08:00–20:00 (перерыв 13:00–14:00), сб 09:00–18:00, вс выходной" in text
    # readable on the phone: the card fits the screen's width
    box = card.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
