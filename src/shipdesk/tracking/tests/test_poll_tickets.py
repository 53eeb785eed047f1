"""Deferred batch tracking (Russian Post tickets): the poll requests a ticket, a due-work sweep
fetches the answer when the carrier allows it and ingests it. A fake ticket carrier for the
rules, the Russian Post emulator for the real path and the rate limit."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, ClassVar

import httpx
import pytest
from django.core.cache import cache
from django.test import TestCase
from django.utils import timezone

from shipdesk.carriers import http as carrier_http
from shipdesk.carriers import registry
from shipdesk.carriers.base import (
    CarrierAdapter,
    CarrierError,
    TicketExpired,
    TrackResult,
    TrackTicket,
)
from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.tests.conftest import Admin, start_emulator
from shipdesk.core import duework
from shipdesk.tracking import polling
from shipdesk.tracking.models import TrackingEvent, TrackingState, TrackingTicket
from shipdesk.tracking.polling import tracking_poll, tracking_tickets_fetch, tracking_watch
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=3)
FIRST, EVERY, KEPT = timedelta(minutes=15), timedelta(minutes=15), timedelta(hours=32)


class TicketAdapter(CarrierAdapter):
    """A carrier that answers batches later: tickets "T1", "T2"... ready when ``ready`` says."""

    code: ClassVar[str] = "fake"
    name: ClassVar[str] = "Fake"
    track_batch_size: ClassVar[int] = 2
    requested: ClassVar[list[list[str]]] = []
    fetched: ClassVar[list[str]] = []
    answers: ClassVar[dict[str, list]] = {}
    ready: ClassVar[bool] = True
    fail: ClassVar[Exception | None] = None

    def tracks_by_ticket(self) -> bool:
        return True

    def track_request(self, tracking_numbers: list[str]) -> TrackTicket:
        type(self).requested.append(list(tracking_numbers))
        return TrackTicket(ticket=f"T{len(type(self).requested)}", numbers=tuple(tracking_numbers),
                           first_fetch_after=FIRST, fetch_interval=EVERY, keep_for=KEPT)

    def track_fetch(self, ticket: str) -> TrackResult | None:
        type(self).fetched.append(ticket)
        if type(self).fail is not None:
            raise type(self).fail
        if not type(self).ready:
            return None
        asked = type(self).requested[int(ticket[1:]) - 1]
        return TrackResult(events=tuple(e for n in asked for e in type(self).answers.get(n, [])),
                           errors={n: "нет данных" for n in asked if n not in type(self).answers})


@pytest.fixture
def carrier(monkeypatch: pytest.MonkeyPatch) -> type[TicketAdapter]:
    cache.clear()
    TicketAdapter.requested, TicketAdapter.fetched, TicketAdapter.answers = [], [], {}
    TicketAdapter.ready, TicketAdapter.fail = True, None
    monkeypatch.setattr(polling, "_adapter_for",
                        lambda account: TicketAdapter(credentials={}, base_url="http://127.0.0.1:1"))
    # the fake carrier's polls are claimed as a ticket carrier's (their long lease)
    monkeypatch.setattr(polling, "ticket_carrier_codes", lambda: frozenset({"fake"}))
    return TicketAdapter


@pytest.fixture
def account(org: Any) -> CarrierAccount:
    return CarrierAccount.objects.create(organization=org, carrier_code="fake", name="Fake",
                                         base_url="http://127.0.0.1:1")


def watched(org: Any, account: CarrierAccount, n: int) -> list[Any]:
    ships = [shipment(org, account=account) for _ in range(n)]
    tracking_watch(shipment_ids=[s.pk for s in ships], now=NOW - timedelta(hours=1))
    return ships


def sweep_tickets(now: Any) -> list[list[int]]:
    """The ids each ``fetch_tickets`` task would get from a sweep at ``now``."""
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        duework.sweep(now=now, names=["tracking.tickets"])
    return [callback.args[0] for callback in callbacks]  # partial(fetch_tickets.delay, ids)


def test_poll_requests_tickets_and_holds_the_shipments_until_the_answer(org, account, carrier):
    ships = watched(org, account, 3)
    result = tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW)
    assert [len(r) for r in carrier.requested] == [2, 1] and carrier.fetched == []
    assert (result.tickets, result.asked, result.ingest.stored) == (2, 3, 0)
    tickets = list(TrackingTicket.objects.order_by("ticket"))
    assert [t.ticket for t in tickets] == ["T1", "T2"]
    assert tickets[0].numbers == [s.tracking_number for s in ships[:2]]
    # counted from when the carrier issued each ticket (this task's start plus its calls)
    assert all(NOW + FIRST <= t.next_fetch_at < NOW + FIRST + timedelta(seconds=30)
               for t in tickets)
    # not polled yet, and not due again while the ticket is pending
    states = TrackingState.objects.all()
    assert {s.last_polled_at for s in states} == {None}
    expires = {sid: t.expires_at for t in tickets for sid in t.shipment_ids}
    assert all(s.next_poll_at == expires[s.shipment_id] for s in states)


def test_a_claimed_poll_whose_lease_outlasts_the_first_fetch_is_not_written_again(
        org, account, carrier):
    ships = watched(org, account, 2)
    claimed = duework.claim_due(duework.registered()["tracking.poll.ticket"], now=NOW, limit=10)
    lease_end = TrackingState.objects.get(pk=ships[0].pk).next_poll_at
    assert lease_end >= NOW + FIRST + polling.HOLD_MARGIN
    tracking_poll(shipment_ids=claimed, now=NOW)
    assert {s.next_poll_at for s in TrackingState.objects.all()} == {lease_end}
    # ... and the sweep does not hand them out again before the answer
    assert duework.claim_due(duework.registered()["tracking.poll.ticket"], now=NOW + FIRST,
                             limit=10) == []


def test_the_sweep_hands_out_a_ticket_only_once_it_may_be_fetched(org, account, carrier):
    ships = watched(org, account, 2)
    tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW)
    assert sweep_tickets(NOW + FIRST - timedelta(seconds=1)) == []
    [ids] = sweep_tickets(NOW + FIRST + timedelta(seconds=30))
    assert ids == [TrackingTicket.objects.get().pk]


def test_a_ready_answer_is_ingested_and_the_ticket_forgotten(org, account, carrier):
    ships = watched(org, account, 3)
    for s in ships[:2]:
        carrier.answers[s.tracking_number] = [event(s.tracking_number, 0, Status.ACCEPTED),
                                              event(s.tracking_number, 1, Status.IN_TRANSIT)]
    tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW)
    later = NOW + FIRST
    result = tracking_tickets_fetch(ticket_ids=list(TrackingTicket.objects.values_list(
        "pk", flat=True)), now=later)
    assert sorted(carrier.fetched) == ["T1", "T2"]
    assert (result.fetched, result.asked, result.ingest.stored, result.failed) == (2, 3, 4, 1)
    assert not TrackingTicket.objects.exists()
    states = {s.shipment_id: s for s in TrackingState.objects.all()}
    assert states[ships[0].pk].status == Status.IN_TRANSIT
    assert {s.last_polled_at for s in states.values()} == {later}
    assert states[ships[2].pk].next_poll_at == later + timedelta(hours=6)  # no data yet
    assert all(later < s.next_poll_at < later + KEPT for s in states.values())


def test_an_answer_not_ready_is_fetched_again_after_the_interval(org, account, carrier):
    ships = watched(org, account, 1)
    carrier.ready = False
    tracking_poll(shipment_ids=[ships[0].pk], now=NOW)
    ticket = TrackingTicket.objects.get()
    result = tracking_tickets_fetch(ticket_ids=[ticket.pk], now=NOW + FIRST)
    assert result.fetched == 0
    ticket.refresh_from_db()
    assert (ticket.next_fetch_at, ticket.fetches) == (NOW + FIRST + EVERY, 1)  # from the fetch
    assert TrackingState.objects.get().next_poll_at == ticket.expires_at  # still held


def test_an_answer_that_never_comes_gives_the_numbers_back_before_it_would_expire(
        org, account, carrier):
    ships = watched(org, account, 1)
    carrier.ready = False
    tracking_poll(shipment_ids=[ships[0].pk], now=NOW)
    ticket = TrackingTicket.objects.get()
    late = ticket.expires_at - EVERY + timedelta(seconds=1)
    tracking_tickets_fetch(ticket_ids=[ticket.pk], now=late)
    assert not TrackingTicket.objects.exists()
    assert TrackingState.objects.get().next_poll_at == late  # asked again at the next sweep


def test_an_expired_ticket_gives_its_numbers_back_to_polling(org, account, carrier):
    ships = watched(org, account, 2)
    tracking_poll(shipment_ids=[s.pk for s in ships], now=NOW)
    carrier.fail = TicketExpired("ответ удалён")
    later = NOW + FIRST
    tracking_tickets_fetch(ticket_ids=[TrackingTicket.objects.get().pk], now=later)
    assert not TrackingTicket.objects.exists()
    assert {s.next_poll_at for s in TrackingState.objects.all()} == {later}
    carrier.fail = None
    assert tracking_poll(shipment_ids=[s.pk for s in ships], now=later).tickets == 1


def test_a_transient_failure_keeps_the_ticket_for_the_next_fetch(org, account, carrier):
    ships = watched(org, account, 1)
    tracking_poll(shipment_ids=[ships[0].pk], now=NOW)
    carrier.fail = CarrierError("502", transient=True)
    tracking_tickets_fetch(ticket_ids=[TrackingTicket.objects.get().pk], now=NOW + FIRST)
    assert TrackingTicket.objects.get().next_fetch_at == NOW + FIRST + EVERY


# -- the real path: the Russian Post adapter from the registry against its emulator -----------
@pytest.fixture
def rp() -> Iterator[Any]:
    server = start_emulator(ticket_delay_seconds=900)  # the real service's 15 minutes
    yield server
    server.shutdown()


def rp_account(org: Any, url: str, **settings: Any) -> CarrierAccount:
    return CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Почта", base_url=url,
        credentials={"token": "test-token", "login": "test", "password": "test"},
        settings={"tracking_url": url, "max_attempts": 1, **settings})


def test_russian_post_ticket_is_fetched_when_the_service_has_it_ready(org, rp):
    cache.clear()
    account = rp_account(org, rp.url)
    ships = [shipment(org, account=account, carrier="russian_post",
                      number=barcodes.rp14_make(f"8008474{i:06d}")) for i in range(3)]
    now = timezone.now()  # the emulator's parcels move on the real clock
    tracking_watch(shipment_ids=[s.pk for s in ships], now=now - timedelta(hours=1))
    assert tracking_poll(shipment_ids=[s.pk for s in ships], now=now).tickets == 1
    ticket = TrackingTicket.objects.get()
    wait = ticket.next_fetch_at - now
    assert timedelta(minutes=15) <= wait < timedelta(minutes=15, seconds=30)  # the default rule
    assert tracking_tickets_fetch(ticket_ids=[ticket.pk], now=now).fetched == 0  # error 6
    Admin(rp.url).clock(advance=901)
    result = tracking_tickets_fetch(ticket_ids=[ticket.pk], now=now + timedelta(minutes=16))
    assert result.fetched == 1 and result.ingest.stored > 0
    assert TrackingEvent.objects.filter(shipment_id__in=[s.pk for s in ships]).count() \
        == result.ingest.stored
    assert not TrackingTicket.objects.exists()


class _Clock:
    """The rate limiter's clock, moved only by the limiter's own sleeps: the one-second
    window each request left in is then exactly the one the limiter counted it in, however
    slow the machine (on the wall clock a request let go at the end of a second was often
    stamped in the next one)."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class _Stamped(httpx.BaseTransport):
    """Notes when each request leaves (after the rate limiter let it go)."""

    def __init__(self, inner: httpx.BaseTransport, sent: list[float], clock: _Clock) -> None:
        self.inner, self.sent, self.clock = inner, sent, clock

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(self.clock.time())
        return self.inner.handle_request(request)


def test_the_accounts_rate_limit_holds_on_the_tracking_path(org, rp, monkeypatch):
    cache.clear()
    account = rp_account(org, rp.url, rate_per_second=3)
    Admin(rp.url).config(ticket_delay_seconds=0)
    clock = _Clock()
    monkeypatch.setattr(carrier_http, "time", clock)
    sent: list[float] = []
    with registry.adapter_for_account(account) as adapter:
        transport: Any = adapter.http._transport
        transport.inner = _Stamped(transport.inner, sent, clock)
        for i in range(4):
            ticket = adapter.track_request([barcodes.rp14_make(f"8008474{i:06d}")])
            assert adapter.track_fetch(ticket.ticket) is not None
    assert len(sent) == 8
    per_window = Counter(int(t) for t in sent)
    assert max(per_window.values()) <= 3
    # 8 calls at 3 a second: the limiter made them wait into a third one-second window
    assert len(per_window) == 3 and clock.now >= 1_000_002.0
