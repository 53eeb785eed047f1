"""The "arrived" message names the office the parcel waits at, as the carrier describes it:
a Russian Post parcel's events arrive at office 620014, the office is loaded from the
post-office service (the Russian Post emulator), and the SMS the sms.ru emulator receives
and the e-mail the SMTP server receives carry its address (and hours). A parcel whose
office is not known never gets the buyer's own address as its "office"."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.russian_post.emulator import EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import start_emulator
from shipdesk.notifications.models import Rule
from shipdesk.notifications.tests.conftest import plan_and_send, sms_channel
from shipdesk.shipments.models import Shipment
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import event

pytestmark = pytest.mark.django_db

ADDRESS = "620014, Екатеринбург, ул. Малышева, д. 31"
HOURS = "пн–пт 08:00–20:00 (перерыв 13:00–14:00), сб 09:00–18:00, вс выходной"
HOME = "ул. Тверская"  # the buyer's own street (make_shipment's)


@pytest.fixture
def rp() -> Iterator[EmulatorServer]:
    server = start_emulator()
    yield server
    server.shutdown()


def _send_time() -> dt.datetime:
    """Tomorrow 12:00 in Moscow: inside the sending window, after the events."""
    return (timezone.now() + dt.timedelta(days=1)).replace(hour=9, minute=0, second=0,
                                                          microsecond=0)


def _arrives(org: Any, rp: EmulatorServer, make_shipment: Any, capture: Any, *,
             office: str, **fields: Any) -> Shipment:
    account = CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Почта России", base_url=rp.url,
        credentials={"token": "test-token", "login": "test", "password": "test"})
    s = make_shipment(carrier_code="russian_post", carrier_account=account, index="620014",
                      city="Екатеринбург", tracking_status="", **fields)
    Shipment.objects.filter(pk=s.pk).update(created_at=timezone.now() - dt.timedelta(days=5))
    base = timezone.now() - dt.timedelta(days=3)
    n = s.tracking_number
    with capture(execute=True):
        tracking_events_ingest(events=[
            event(n, 0, Status.ACCEPTED, "1.2", place="Москва 101000", base=base),
            event(n, 2, Status.ARRIVED_AT_PICKUP, "8.2", place=f"Екатеринбург {office}",
                  index=office, base=base)], now=timezone.now())
    return s


def test_arrived_sms_and_email_name_the_office_loaded_from_russian_post(
        org: Any, notif_settings: Any, smsru: Any, email_channel: Any, inbox: Any,
        rp: EmulatorServer, make_shipment: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    sms_channel(org, "smsru", smsru)
    Rule.objects.filter(organization=org, kind="arrived").update(channels=["sms", "email"],
                                                                fallback=False)
    s = _arrives(org, rp, make_shipment, django_capture_on_commit_callbacks, office="620014",
                 recipient_email="anna@example.test")
    plan_and_send(_send_time())
    [sms] = [m for m in smsru.messages if "ждёт" in m["text"]]
    assert sms["text"].startswith(f"Ромашка: заказ {s.order_number} ждёт до ")
    assert f": {ADDRESS}. К оплате 2 490 ₽." in sms["text"]
    assert HOME not in sms["text"]
    [mail] = [m for m in inbox.messages if "ждёт вас" in m["Subject"]]
    text = inbox.text_of(mail)
    assert f"Адрес: {ADDRESS}" in text and f"Часы работы: {HOURS}" in text
    assert HOME not in text


def test_an_office_not_known_is_never_the_buyers_home(
        org: Any, notif_settings: Any, smsru: Any, rp: EmulatorServer, make_shipment: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    """A parcel to the door whose arrival names no office, and one at an office the
    carrier does not know: the SMS says what is known, not the buyer's address."""
    sms_channel(org, "smsru", smsru)
    to_door = _arrives(org, rp, make_shipment, django_capture_on_commit_callbacks, office="",
                       recipient_email="", options={"courier_delivery": True})
    unknown = _arrives(org, rp, make_shipment, django_capture_on_commit_callbacks,
                       office="620999", recipient_email="")
    plan_and_send(_send_time())
    texts = {m["text"].split(" ")[2]: m["text"] for m in smsru.messages if "ждёт" in m["text"]}
    assert ": адрес пункта выдачи уточняется." in texts[to_door.order_number]
    assert ": пункт выдачи 620999." in texts[unknown.order_number]
    for text in texts.values():
        assert HOME not in text and "620014, Екатеринбург" not in text
