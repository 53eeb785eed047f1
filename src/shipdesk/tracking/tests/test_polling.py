"""Polling as due work, against a fake adapter (the carrier packages have their own tests)."""

from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest
from django.core.cache import cache

from shipdesk.carriers.base import CarrierAdapter, CarrierError, RateLimited, TrackResult
from shipdesk.carriers.models import CarrierAccount
from shipdesk.core import duework
from shipdesk.tracking import polling
from shipdesk.tracking.models import RejectedEvent, TrackingSettings, TrackingState
from shipdesk.tracking.polling import into_window, tracking_poll, tracking_watch
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=3)


class FakeAdapter(CarrierAdapter):
    code: ClassVar[str] = "fake"
    name: ClassVar[str] = "Fake"
    track_batch_size: ClassVar[int] = 2
    calls: ClassVar[list[list[str]]] = []
    answers: ClassVar[dict[str, list]] = {}
    extra: ClassVar[list] = []  # events about numbers nobody asked for
    fail: ClassVar[Exception | None] = None

    def track(self, tracking_numbers: list[str]) -> TrackResult:
        type(self).calls.append(list(tracking_numbers))
        if type(self).fail is not None:
            raise type(self).fail
        events = [e for n in tracking_numbers for e in type(self).answers.get(n, [])]
        return TrackResult(events=tuple(events + type(self).extra),
                           errors={n: "нет данных" for n in tracking_numbers
                                   if n not in type(self).answers})


@pytest.fixture
def fake(monkeypatch):
    cache.clear()  # the daily quota counters live in the cache
    FakeAdapter.calls, FakeAdapter.answers, FakeAdapter.extra, FakeAdapter.fail = [], {}, [], None
    monkeypatch.setattr(polling, "_adapter_for",
                        lambda account: FakeAdapter(credentials={}, base_url="http://127.0.0.1:1"))
    return FakeAdapter


@pytest.fixture
def account(org):
    return CarrierAccount.objects.create(organization=org, carrier_code="fake", name="Fake",
                                         base_url="http://127.0.0.1:1")


def test_poll_goes_out_in_the_adapters_batch_size_and_ingests(org, account, fake):
    ships = [shipment(org, account=account) for _ in range(5)]
    for s in ships[:4]:
        fake.answers[s.tracking_number] = [event(s.tracking_number, 0, Status.ACCEPTED),
                                           event(s.tracking_number, 1, Status.IN_TRANSIT)]
    tracking_watch(shipment_ids=[s.pk for s in ships], now=NOW)
    result = tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW)
    assert [len(c) for c in fake.calls] == [2, 2, 1]
    assert result.asked == 5 and result.ingest.stored == 8 and result.failed == 1
    states = {s.shipment_id: s for s in TrackingState.objects.all()}
    assert states[ships[0].pk].status == Status.IN_TRANSIT
    assert all(s.last_polled_at == NOW for s in states.values())
    assert all(s.next_poll_at > NOW for s in states.values())


def test_someone_elses_parcel_in_a_batch_answer_is_rejected(org, other_org, account, fake):
    mine, foreign = shipment(org, account=account), shipment(other_org)
    fake.answers[mine.tracking_number] = [event(mine.tracking_number, 0, Status.ACCEPTED)]
    fake.extra = [event(foreign.tracking_number, 0, Status.DELIVERED)]
    tracking_watch(shipment_ids=[mine.pk], now=NOW)
    result = tracking_poll(shipment_ids=[mine.pk], now=NOW)
    assert result.ingest.rejected == {"not_requested": 1}
    assert RejectedEvent.objects.get().tracking_number == foreign.tracking_number
    assert not TrackingState.objects.filter(shipment=foreign).exists()


def test_rate_limit_defers_the_rest(org, account, fake):
    ships = [shipment(org, account=account) for _ in range(3)]
    tracking_watch(shipment_ids=[s.pk for s in ships], now=NOW)
    fake.fail = RateLimited("too many", retry_after=120)
    result = tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW)
    assert result.deferred == 3 and len(fake.calls) == 1
    assert {s.next_poll_at for s in TrackingState.objects.all()} == {NOW + timedelta(seconds=120)}


def test_carrier_error_reschedules_without_crashing(org, account, fake):
    s = shipment(org, account=account)
    tracking_watch(shipment_ids=[s.pk], now=NOW)
    fake.fail = CarrierError("down", transient=True)
    assert tracking_poll(shipment_ids=[s.pk], now=NOW).failed == 1
    assert TrackingState.objects.get().next_poll_at == NOW + timedelta(minutes=30)


def test_daily_quota_defers_to_the_next_day(org, account, fake):
    account.settings = {polling.QUOTA_SETTING: 2}
    account.save()
    ships = [shipment(org, account=account) for _ in range(3)]
    tracking_watch(shipment_ids=[s.pk for s in ships], now=NOW)
    result = tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW)
    assert result.asked == 2 and result.deferred == 1
    later = tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW + timedelta(hours=1))
    assert later.asked == 0 and later.deferred == 3


def test_final_shipments_are_never_polled_again(org, account, fake):
    s = shipment(org, account=account)
    fake.answers[s.tracking_number] = [event(s.tracking_number, 0, Status.ACCEPTED),
                                       event(s.tracking_number, 2, Status.DELIVERED)]
    tracking_watch(shipment_ids=[s.pk], now=NOW)
    tracking_poll(shipment_ids=[s.pk], now=NOW)
    state = TrackingState.objects.get()
    assert state.final and state.next_poll_at is None
    assert tracking_poll(shipment_ids=[s.pk], now=NOW).asked == 0


def test_sweep_claims_due_polls(org, account, fake, monkeypatch):
    ships = [shipment(org, account=account) for _ in range(3)]
    tracking_watch(shipment_ids=[s.pk for s in ships], now=T0)
    sent = []
    monkeypatch.setattr("shipdesk.tracking.tasks.poll.delay", lambda ids: sent.append(ids))
    with __import__("django.test", fromlist=["TestCase"]).TestCase.captureOnCommitCallbacks(
            execute=True):
        counts = duework.sweep(now=NOW, names=["tracking.poll.sync"])
    assert counts == {"tracking.poll.sync": 3} and sorted(sent[0]) == sorted(s.pk for s in ships)
    # claimed: not due again within the lease
    assert duework.sweep(now=NOW, names=["tracking.poll.sync"]) == {"tracking.poll.sync": 0}


def test_polling_window_at_night():
    window = (22, 6, "Europe/Moscow")  # "check at night"
    noon = datetime(2026, 11, 20, 9, tzinfo=UTC)  # 12:00 in Moscow
    assert into_window(noon, window) == datetime(2026, 11, 20, 19, tzinfo=UTC)  # 22:00 MSK
    night = datetime(2026, 11, 20, 21, tzinfo=UTC)  # 00:00 MSK
    assert into_window(night, window) == night
    assert into_window(noon, None) == noon


def test_watch_respects_the_organizations_window(org, account):
    TrackingSettings.objects.create(organization=org, poll_from_hour=1, poll_to_hour=5)
    s = shipment(org, account=account)
    noon = datetime(2026, 11, 20, 9, tzinfo=UTC)
    tracking_watch(shipment_ids=[s.pk], now=noon)
    assert TrackingState.objects.get().next_poll_at == datetime(2026, 11, 20, 22, tzinfo=UTC)


def test_refresh_now_through_the_api(api, other_api, org, account, fake):
    s = shipment(org, account=account)
    fake.answers[s.tracking_number] = [event(s.tracking_number, 0, Status.ACCEPTED)]
    r = api.post(f"/api/v1/tracking/shipments/{s.pk}/refresh/")
    assert r.status_code == 200, r.content
    assert r.json()["stored"] == 1 and r.json()["status"] == Status.ACCEPTED
    assert other_api.post(f"/api/v1/tracking/shipments/{s.pk}/refresh/").status_code == 404
