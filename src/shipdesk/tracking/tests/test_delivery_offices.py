"""Russian Post's delivery offices, loaded on demand: a parcel's arrival event names its
office index; after the ingest commits, the office becomes due work and is asked of the
carrier's post-office service (the Russian Post emulator over real HTTP) once, then shown
with its address and hours on the shipment page and the recipient's page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import caches
from django.utils import timezone

from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.russian_post.emulator import EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import Admin, start_emulator
from shipdesk.core import duework
from shipdesk.shipments.models import PostalOffice
from shipdesk.tracking import selectors
from shipdesk.tracking.models import PickupOffice, TrackingState
from shipdesk.tracking.services import (
    tracking_events_ingest,
    tracking_pickup_offices_note,
    tracking_pickup_offices_sync,
)
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import event, shipment

pytestmark = pytest.mark.django_db

ADDRESS = "620014, Екатеринбург, ул. Малышева, д. 31"
HOURS = "пн–пт 08:00–20:00 (перерыв 13:00–14:00), сб 09:00–18:00, вс выходной"


@pytest.fixture
def rp() -> Iterator[EmulatorServer]:
    server = start_emulator()
    yield server
    server.shutdown()


def office_calls(server: EmulatorServer) -> int:
    """How many times the emulator's post-office service was asked (its request log)."""
    return server.state.counts.get("postoffice-calls", 0)


@pytest.fixture(autouse=True)
def count_office_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counts the post-office requests each emulator answers, through its handler."""
    from shipdesk.carriers.russian_post import emulator

    original = emulator.Handler.postoffice

    def counted(self: Any, method: str, parts: list[str], query: dict[str, list[str]]) -> None:
        with self.state.lock:
            self.state.counts["postoffice-calls"] = self.state.counts.get("postoffice-calls", 0) + 1
        original(self, method, parts, query)

    monkeypatch.setattr(emulator.Handler, "postoffice", counted)


def rp_account(org: Any, url: str, **kw: Any) -> CarrierAccount:
    return CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Почта России", base_url=url,
        credentials={"token": "test-token", "login": "test", "password": "test"},
        settings={"tracking_url": url, "max_attempts": 1}, **kw)


def arrive(org: Any, account: Any, capture: Any, *, index: str = "620014",
           to_door: bool = False) -> Any:
    """A Russian Post parcel accepted in Moscow that arrives at office ``index`` (8.2
    "Прибыло в место вручения"), ingested as a poll would; after-commit work runs."""
    options = {"courier_delivery": True} if to_door else {}
    s = shipment(org, account=account, carrier="russian_post", index=index, options=options)
    base = timezone.now() - timedelta(days=3)
    n = s.tracking_number
    with capture(execute=True):
        tracking_events_ingest(events=[
            event(n, 0, Status.ACCEPTED, "1.2", place="Москва 101000", base=base),
            event(n, 1, Status.IN_TRANSIT, "8.3", place="СЦ Москва", index="140983", base=base),
            event(n, 2, Status.ARRIVED_AT_PICKUP, "8.2", place=f"Екатеринбург {index}",
                  index=index, base=base)], now=timezone.now())
    return s


def test_the_arrival_office_is_loaded_once_with_address_and_hours(
        org: Any, rp: EmulatorServer, django_capture_on_commit_callbacks: Any) -> None:
    account = rp_account(org, rp.url)
    arrive(org, account, django_capture_on_commit_callbacks)
    office = PickupOffice.objects.get(carrier_code="russian_post", code="620014")
    assert (office.address, office.work_hours) == (ADDRESS, HOURS)
    assert office.name == "Отделение Почты России 620014"
    assert office.source == PickupOffice.CARRIER and office.next_fetch_at is None
    assert office_calls(rp) == 1
    # the next parcel at the same office finds it loaded: the carrier is not asked again
    arrive(org, account, django_capture_on_commit_callbacks)
    assert office_calls(rp) == 1
    assert PickupOffice.objects.filter(code="620014").count() == 1


def test_an_office_loaded_long_ago_is_asked_again_when_a_parcel_arrives(
        org: Any, rp: EmulatorServer, django_capture_on_commit_callbacks: Any) -> None:
    PickupOffice.objects.create(carrier_code="russian_post", code="620014", address="старый",
                                work_hours="пн 9–10", source=PickupOffice.CARRIER,
                                fetched_at=timezone.now() - timedelta(days=31))
    arrive(org, rp_account(org, rp.url), django_capture_on_commit_callbacks)
    office = PickupOffice.objects.get(code="620014")
    assert (office.address, office.work_hours) == (ADDRESS, HOURS)
    assert office_calls(rp) == 1


def test_the_ingest_itself_never_calls_the_carrier(
        org: Any, rp: EmulatorServer, django_capture_on_commit_callbacks: Any) -> None:
    s = shipment(org, account=rp_account(org, rp.url), carrier="russian_post")
    n = s.tracking_number
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tracking_events_ingest(events=[
            event(n, 0, Status.ACCEPTED, "1.2"),
            event(n, 2, Status.ARRIVED_AT_PICKUP, "8.2", index="620014")], now=timezone.now())
    assert office_calls(rp) == 0 and not PickupOffice.objects.exists()
    assert callbacks  # the offices are handed over after the commit


def test_a_lost_dispatch_is_taken_again_by_the_due_work_sweep(
        org: Any, rp: EmulatorServer, django_capture_on_commit_callbacks: Any) -> None:
    rp_account(org, rp.url)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False):  # the task message is lost
        [office_id] = tracking_pickup_offices_note(offices=[("russian_post", "620014")], now=now)
    office = PickupOffice.objects.get(pk=office_id)
    assert office.address == "" and office.next_fetch_at is not None
    assert duework.sweep(now=now, names=["tracking.pickup_offices"]) == {
        "tracking.pickup_offices": 0}  # claimed by the lost dispatch, for its lease
    with django_capture_on_commit_callbacks(execute=True):
        done = duework.sweep(now=now + timedelta(minutes=11), names=["tracking.pickup_offices"])
    assert done == {"tracking.pickup_offices": 1}
    office.refresh_from_db()
    assert (office.address, office.work_hours, office.next_fetch_at) == (ADDRESS, HOURS, None)


def test_while_the_service_fails_the_directory_names_the_office_and_it_is_asked_later(
        org: Any, rp: EmulatorServer, django_capture_on_commit_callbacks: Any) -> None:
    PostalOffice.objects.create(index="620014", name="Екатеринбург 14", city="Екатеринбург",
                                region="Свердловская область")
    rp_account(org, rp.url)
    Admin(rp.url).fault(mode="status", status=503, count=1)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        tracking_pickup_offices_note(offices=[("russian_post", "620014")], now=now)
    office = PickupOffice.objects.get(code="620014")
    assert (office.name, office.address) == ("Екатеринбург 14", "620014, Екатеринбург")
    assert office.source == PickupOffice.DIRECTORY and office.work_hours == ""
    assert office.fetch_failures == 1 and "503" in office.fetch_error
    assert office.next_fetch_at is not None and office.next_fetch_at > timezone.now()
    # the service is back when the office comes due again
    with django_capture_on_commit_callbacks(execute=True):
        duework.sweep(now=office.next_fetch_at, names=["tracking.pickup_offices"])
    office.refresh_from_db()
    assert (office.address, office.work_hours) == (ADDRESS, HOURS)
    assert office.source == PickupOffice.CARRIER and office.fetch_failures == 0


def test_an_index_the_carrier_does_not_know_is_not_asked_again_at_each_arrival(
        org: Any, rp: EmulatorServer, django_capture_on_commit_callbacks: Any) -> None:
    account = rp_account(org, rp.url)
    arrive(org, account, django_capture_on_commit_callbacks, index="620999")
    office = PickupOffice.objects.get(code="620999")
    assert office.address == "" and office.next_fetch_at is None
    assert office.fetched_at is not None and office.fetch_error
    arrive(org, account, django_capture_on_commit_callbacks, index="620999")
    assert office_calls(rp) == 1


def test_a_refused_account_gives_way_to_the_next(
        org: Any, other_org: Any, rp: EmulatorServer,
        django_capture_on_commit_callbacks: Any) -> None:
    bad = rp_account(org, rp.url)
    bad.credentials = {"token": "revoked", "login": "test", "password": "test"}
    bad.save()
    rp_account(other_org, rp.url)
    arrive(org, bad, django_capture_on_commit_callbacks)
    assert PickupOffice.objects.get(code="620014").address == ADDRESS


def test_the_daily_sync_never_lists_all_russian_post_offices(org: Any, rp: EmulatorServer) -> None:
    rp_account(org, rp.url)
    assert tracking_pickup_offices_sync() == 0
    assert office_calls(rp) == 0


def test_shipment_page_shows_the_office_the_parcel_waits_at(
        web: Any, org: Any, rp: EmulatorServer, django_capture_on_commit_callbacks: Any) -> None:
    s = arrive(org, rp_account(org, rp.url), django_capture_on_commit_callbacks)
    html = web.get(f"/shipments/{s.pk}/").content.decode()
    assert "Ждёт в отделении" in html
    assert "Отделение Почты России 620014" in html
    assert ADDRESS in html and HOURS in html


def test_shipment_page_before_the_office_is_loaded_says_so(web: Any, org: Any) -> None:
    s = shipment(org, carrier="russian_post")
    tracking_events_ingest(events=[event(s.tracking_number, 2, Status.ARRIVED_AT_PICKUP, "8.2",
                                         index="620014")], now=timezone.now())
    html = web.get(f"/shipments/{s.pk}/").content.decode()
    assert "Ждёт в отделении" in html and "620014" in html
    assert "загружается от перевозчика" in html
    assert "ул. Малышева" not in html


def test_public_page_shows_the_office_address_and_hours(
        client: Any, org: Any, rp: EmulatorServer,
        django_capture_on_commit_callbacks: Any) -> None:
    s = arrive(org, rp_account(org, rp.url), django_capture_on_commit_callbacks)
    token = TrackingState.objects.get(shipment=s).public_token
    r = client.get(f"/tracking/t/{token}/")
    html = r.content.decode()
    assert "Ожидает в пункте выдачи" in html
    assert "Отделение Почты России 620014" in html and ADDRESS in html
    assert f"Часы работы: {HOURS}" in html
    assert r["ETag"] and r["Cache-Control"].startswith("public")


def test_public_page_with_the_office_not_loaded_yet_is_kept_by_no_cache(
        client: Any, org: Any, rp: EmulatorServer,
        django_capture_on_commit_callbacks: Any) -> None:
    caches["pages"].clear()
    account = rp_account(org, rp.url)
    s = shipment(org, account=account, carrier="russian_post", index="620014")
    n = s.tracking_number
    with django_capture_on_commit_callbacks(execute=False) as loading:
        tracking_events_ingest(events=[event(n, 2, Status.ARRIVED_AT_PICKUP, "8.2",
                                             index="620014")], now=timezone.now())
    token = TrackingState.objects.get(shipment=s).public_token
    before = client.get(f"/tracking/t/{token}/")
    assert "Пункт выдачи 620014" in before.content.decode()
    assert "ETag" not in before and before["Cache-Control"] == "no-store"
    with django_capture_on_commit_callbacks(execute=True):
        for callback in loading:  # the office is loaded a moment later
            callback()
    after = client.get(f"/tracking/t/{token}/")
    assert ADDRESS in after.content.decode() and HOURS in after.content.decode()


def test_summary_names_the_latest_arrival_office(org: Any) -> None:
    """A parcel sent on from one office to another waits at the second."""
    for code, address in (("620014", "первое"), ("620075", "второе")):
        PickupOffice.objects.create(carrier_code="russian_post", code=code, address=address)
    s = shipment(org, carrier="russian_post")
    n = s.tracking_number
    tracking_events_ingest(events=[
        event(n, 2, Status.ARRIVED_AT_PICKUP, "8.2", index="620014"),
        event(n, 3, Status.IN_TRANSIT, "4.3", index="620014"),
        event(n, 4, Status.ARRIVED_AT_PICKUP, "8.2", index="620075")], now=timezone.now())
    got = selectors.shipment_tracking_summary(shipment_ids=[s.pk])[s.pk]
    assert (got.pickup_office_index, got.pickup_office_address) == ("620075", "второе")


def test_a_pickup_point_chosen_at_ordering_is_resolved_through_the_same_table(org: Any) -> None:
    PickupOffice.objects.create(carrier_code="cdek", code="MSK5", name="На Дмитровке",
                                address="Москва, Большая Дмитровка, 7/5",
                                work_hours="Пн-Вс 09:00-21:00")
    s = shipment(org, carrier="cdek", pickup_point_code="MSK5")
    tracking_events_ingest(events=[event(s.tracking_number, 2, Status.ARRIVED_AT_PICKUP, "3",
                                         index="")], now=timezone.now())
    office = selectors.delivery_offices(shipment_ids=[s.pk])[s.pk]
    assert (office.name, office.address, office.work_hours) == (
        "На Дмитровке", "Москва, Большая Дмитровка, 7/5", "Пн-Вс 09:00-21:00")
    assert not office.arrived
    summary = selectors.shipment_tracking_summary(shipment_ids=[s.pk])[s.pk]
    assert summary.pickup_office_address == "Москва, Большая Дмитровка, 7/5"


def test_a_parcel_to_the_door_without_an_office_has_none(org: Any) -> None:
    s = shipment(org, carrier="russian_post", options={"courier_delivery": True})
    tracking_events_ingest(events=[event(s.tracking_number, 2, Status.ARRIVED_AT_PICKUP, "8.2",
                                         index="")], now=timezone.now())
    assert selectors.delivery_offices(shipment_ids=[s.pk]) == {}
    summary = selectors.shipment_tracking_summary(shipment_ids=[s.pk])[s.pk]
    assert (summary.pickup_office_index, summary.pickup_office_address) == ("", "")


def test_offices_of_carriers_listed_whole_are_left_to_the_daily_sync(org: Any) -> None:
    assert tracking_pickup_offices_note(offices=[("cdek", "MSK5"), ("nobody", "1")]) == []
    assert not PickupOffice.objects.exists()


def test_without_an_account_the_directory_names_the_office_until_it_is_stale(
        org: Any, django_capture_on_commit_callbacks: Any) -> None:
    PostalOffice.objects.create(index="620014", name="Екатеринбург 14", city="Екатеринбург")
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert tracking_pickup_offices_note(offices=[("russian_post", "620014")], now=now)
    office = PickupOffice.objects.get(code="620014")
    assert (office.name, office.address, office.source) == (
        "Екатеринбург 14", "620014, Екатеринбург", PickupOffice.DIRECTORY)
    assert office.next_fetch_at is None and "договора" in office.fetch_error
    # further arrivals do not ask again and again
    assert tracking_pickup_offices_note(offices=[("russian_post", "620014")],
                                        now=now + timedelta(hours=1)) == []
    assert tracking_pickup_offices_note(offices=[("russian_post", "620014")],
                                        now=now + timedelta(days=31)) == [office.pk]
