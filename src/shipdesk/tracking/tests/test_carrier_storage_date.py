"""The carrier's own storage date (CDEK's keep_free_until, Russian Post's "N days of storage
left") wins over the storage period we would count ourselves: on the tracking state, the
recipient's page and the flags. End to end against the carriers' emulators."""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone as dj_timezone

from shipdesk.carriers.base import TrackingEvent
from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.adapter import parse_keep_free_until
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.registry import adapter_for_account
from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.emulator import _HASHED
from shipdesk.carriers.russian_post.tests.conftest import Admin, start_emulator
from shipdesk.carriers.tests.helpers import control, fast_client, parcel
from shipdesk.shipments.models import Shipment
from shipdesk.tracking import engine
from shipdesk.tracking.models import TrackingEvent as StoredEvent
from shipdesk.tracking.models import TrackingRule, TrackingState
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db
MSK = timezone(timedelta(hours=3))


def _made_a_month_ago(s: Shipment) -> Shipment:
    """The emulators play their parcels on the real clock: the shipment is made before them."""
    Shipment.objects.filter(pk=s.pk).update(created_at=dj_timezone.now() - timedelta(days=30))
    return s


def _page(client: Any, shipment_id: int) -> str:
    token = TrackingState.objects.get(shipment_id=shipment_id).public_token
    return client.get(f"/tracking/t/{token}/").content.decode()


# --------------------------------------------------------------------------- engine

def test_engine_prefers_the_carriers_date_and_the_latest_one_told():
    arrived = T0 + timedelta(days=3)
    facts = [engine.EventFact(T0, Status.ACCEPTED, raw_code="1"),
             engine.EventFact(arrived, Status.ARRIVED_AT_PICKUP, raw_code="2",
                              storage_until=date(2026, 11, 12)),
             # the storage was extended: a later event tells a later date
             engine.EventFact(arrived + timedelta(days=5), Status.ARRIVED_AT_PICKUP,
                              raw_code="3", storage_until=date(2026, 11, 20))]
    context = engine.Context(storage_days=30, zone=MSK)
    v = engine.derive(facts, now=arrived + timedelta(days=6), context=context)
    assert v.storage_deadline == datetime.combine(date(2026, 11, 20), time.max, tzinfo=MSK)
    assert engine.STORAGE_ENDING not in v.flags
    # the same history in another order: the same verdict
    assert engine.derive(facts[::-1], now=arrived + timedelta(days=6),
                         context=context).storage_deadline == v.storage_deadline
    # two days before the carrier's date the shop is warned, whatever our own rule says
    late = engine.derive(facts, now=datetime(2026, 11, 18, 12, tzinfo=UTC), context=context)
    assert engine.STORAGE_ENDING in late.flags
    # without the carrier's date: our rule, counted from the day after the arrival (the
    # 5th in Moscow): 30 free days end with the 5th of December, on the same calendar
    ours = engine.derive([f._replace(storage_until=None) for f in facts],
                         now=arrived + timedelta(days=6), context=context)
    assert ours.storage_deadline == datetime.combine(date(2026, 12, 5), time.max, tzinfo=MSK)


def test_ingest_stores_the_carriers_date_and_the_second_poll_keeps_it(org, client):
    TrackingRule.objects.create(organization=org, storage_days=30)
    s = shipment(org)
    n = s.tracking_number
    told = TrackingEvent(tracking_number=n, occurred_at=T0 + timedelta(days=3),
                         raw_code="8.2", raw_text="Прибыло в место вручения",
                         status=Status.ARRIVED_AT_PICKUP, storage_until=date(2026, 11, 19))
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED, "1.1"), told],
                           now=T0 + timedelta(days=4))
    assert StoredEvent.objects.get(shipment=s, raw_code="8.2").storage_until == date(2026, 11, 19)
    # a later poll re-derives from the stored history: the carrier's date is still there
    tracking_events_ingest(events=[event(n, 4, Status.ARRIVED_AT_PICKUP, "8.24")],
                           now=T0 + timedelta(days=5))
    state = TrackingState.objects.get(shipment=s)
    assert state.storage_deadline.astimezone(MSK).date() == date(2026, 11, 19)
    assert "Заберите до 19.11.2026" in _page(client, s.pk)


def test_a_repeated_event_telling_a_later_storage_date_extends_the_deadline(org, client):
    # CDEK moves keep_free_until when the storage is extended, the status staying the same:
    # the next poll brings the same event with the new date
    s = shipment(org)
    n = s.tracking_number

    def arrived(until: date) -> TrackingEvent:
        return TrackingEvent(tracking_number=n, occurred_at=T0 + timedelta(days=3),
                             raw_code="READY_FOR_PICKUP", raw_text="Принят на склад до востребования",
                             status=Status.ARRIVED_AT_PICKUP, storage_until=until)

    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED, "1.1"), arrived(
        date(2026, 11, 12))], now=T0 + timedelta(days=4))
    tracking_events_ingest(events=[arrived(date(2026, 11, 19))], now=T0 + timedelta(days=8))
    assert StoredEvent.objects.filter(shipment=s).count() == 2  # still stored once
    assert StoredEvent.objects.get(shipment=s, raw_code="READY_FOR_PICKUP").storage_until == (
        date(2026, 11, 19))
    state = TrackingState.objects.get(shipment=s)
    assert state.storage_deadline.astimezone(MSK).date() == date(2026, 11, 19)
    assert "Заберите до 19.11.2026" in _page(client, s.pk)
    # the same date again changes nothing
    again = tracking_events_ingest(events=[arrived(date(2026, 11, 19))],
                                   now=T0 + timedelta(days=9))
    assert (again.stored, again.duplicates) == (0, 1)


# --------------------------------------------------------------------------- CDEK

@pytest.fixture
def cdek() -> Iterator[Running]:
    running = start(CdekEmulator())
    yield running
    running.stop()


def test_cdek_keep_free_until_reaches_the_state_and_the_page(org, client, cdek):
    TrackingRule.objects.create(organization=org, storage_days=30)
    CdekAdapter.tokens._local.clear()
    adapter = CdekAdapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                          base_url=f"{cdek.url}/v2", http=fast_client())
    created = adapter.create_parcels([parcel("SHOP-7", service_code="136",
                                             comment="scenario:not_picked_up")]).created[0]
    control(cdek.url, "clock", advance_hours=30 + 24)  # a day at the pickup point
    events = adapter.track([created.tracking_number]).events
    assert events[-1].status == Status.ARRIVED_AT_PICKUP
    until = events[-1].storage_until
    arrived = events[-1].occurred_at
    # the emulator's storage: 7 days from the arrival, the last of them in Moscow's calendar
    assert until == (arrived + timedelta(days=6)).astimezone(MSK).date()
    assert all(e.storage_until is None for e in events[:-1])

    s = _made_a_month_ago(shipment(org, number=created.tracking_number, carrier="cdek"))
    tracking_events_ingest(events=list(events), now=dj_timezone.now() + timedelta(hours=55))
    state = TrackingState.objects.get(shipment=s)
    assert state.status == Status.ARRIVED_AT_PICKUP
    assert state.storage_deadline.astimezone(MSK).date() == until  # not our 30 days
    assert f"Заберите до {until:%d.%m.%Y}" in _page(client, s.pk)


def test_cdek_unreadable_keep_free_until_leaves_the_statuses_alone():
    assert parse_keep_free_until("2026-11-30") == date(2026, 11, 30)
    assert parse_keep_free_until("2026-11-30T23:59:59+0700") == date(2026, 11, 30)
    assert parse_keep_free_until(None) is None
    assert parse_keep_free_until("до востребования") is None


# --------------------------------------------------------------------------- Russian Post

@pytest.fixture
def rp() -> Iterator[Any]:
    server = start_emulator(ticket_delay_seconds=0)
    yield server
    server.shutdown()


def _not_picked_up_barcode() -> str:
    return next(b for b in (barcodes.rp14_make(f"8008474{i:06d}") for i in range(1000))
                if _HASHED[zlib.crc32(b.encode()) % len(_HASHED)] == "not_picked_up")


@pytest.mark.parametrize("mode", ["ticket", "single"])
def test_russian_post_days_left_reach_the_state_and_the_page(org, client, rp, mode):
    cache.clear()
    TrackingRule.objects.create(organization=org, storage_days=30)
    account = CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Почта", base_url=rp.url,
        credentials={"token": "test-token", "login": "test", "password": "test"},
        settings={"tracking_url": rp.url, "max_attempts": 1})
    number = _not_picked_up_barcode()
    # the emulator's parcel was accepted (crc32 % 288) hours before it started; its
    # "5 days of storage left" comes 300 hours after the acceptance, "expired" at 420
    accepted_ago = zlib.crc32(number.encode()) % (24 * 12)
    advance = 310 - accepted_ago
    Admin(rp.url).clock(advance=advance * 3600)
    with adapter_for_account(account) as adapter:
        if mode == "single":
            events = adapter.track_single(number)
        else:
            ticket = adapter.track_request([number])
            answer = adapter.track_fetch(ticket.ticket)
            assert answer is not None
            events = list(answer.events)
    reminder = next(e for e in events if e.raw_code == "8.28")
    until = reminder.occurred_at.astimezone(MSK).date() + timedelta(days=5)
    assert reminder.storage_until == until
    assert [e for e in events if e.storage_until is not None] == [reminder]

    s = _made_a_month_ago(shipment(org, number=number, carrier="russian_post", account=account))
    tracking_events_ingest(events=events, now=dj_timezone.now() + timedelta(hours=advance + 1))
    state = TrackingState.objects.get(shipment=s)
    assert state.status == Status.ARRIVED_AT_PICKUP
    assert state.storage_deadline.astimezone(MSK).date() == until
    assert f"Заберите до {until:%d.%m.%Y}" in _page(client, s.pk)
