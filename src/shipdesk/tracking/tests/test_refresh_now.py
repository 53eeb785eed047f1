""""Refresh now" tells the truth: a carrier that answers by ticket (Russian Post's batch
tracking) has only been asked — the answer comes later, on its own — while one that answers
within the call has refreshed the status (or found nothing new). The Russian Post emulator
over real HTTP for both; a fake carrier for refusals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
from django.core.cache import cache
from django.utils import timezone

from shipdesk.carriers.base import CarrierAdapter, CarrierError, RateLimited, TrackResult
from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.tests.conftest import Admin, start_emulator
from shipdesk.tracking import polling
from shipdesk.tracking.models import TrackingEvent, TrackingState, TrackingTicket
from shipdesk.tracking.polling import tracking_tickets_fetch, tracking_watch
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import event, shipment

pytestmark = pytest.mark.django_db


def url(s: Any) -> str:
    return f"/api/v1/tracking/shipments/{s.pk}/refresh/"


@pytest.fixture
def rp() -> Iterator[Any]:
    cache.clear()  # daily quotas
    server = start_emulator(ticket_delay_seconds=900)  # the real service's 15 minutes
    yield server
    server.shutdown()


def rp_shipment(org: Any, rp: Any, n: int = 1, **settings: Any) -> Any:
    account = CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Почта", base_url=rp.url,
        credentials={"token": "test-token", "login": "test", "password": "test"},
        settings={"tracking_url": rp.url, "max_attempts": 1, **settings})
    return shipment(org, account=account, carrier="russian_post",
                    number=barcodes.rp14_make(f"8008474{n:06d}"))


def spend_single_calls(client: Any, org: Any, rp: Any, *, page: bool = False) -> None:
    """Spends the day's single-number calls (the emulator allows one): a refresh answered
    at once, through the same page or API."""
    Admin(rp.url).config(single_tracking_daily_limit=1)
    first = rp_shipment(org, rp, n=99)
    path = f"/tracking/shipments/{first.pk}/refresh/" if page else url(first)
    assert client.post(path, follow=True).status_code == 200  # its message shown and gone
    assert TrackingEvent.objects.filter(shipment=first).exists()  # answered at once


def test_russian_post_by_ticket_says_the_request_was_sent_and_when_the_answer_comes(api, org, rp):
    spend_single_calls(api, org, rp)
    s = rp_shipment(org, rp)
    before = timezone.now()
    r = api.post(url(s))
    assert r.status_code == 200, r.content
    body = r.json()
    assert (body["outcome"], body["stored"], body["carrier"]) == ("requested", 0, "Почта России")
    ticket = TrackingTicket.objects.get()
    assert body["ticket"] == ticket.ticket and s.pk in ticket.shipment_ids
    expected = datetime.fromisoformat(body["answer_expected_at"])
    assert abs(expected - ticket.next_fetch_at) < timedelta(milliseconds=1)  # JSON: ms
    assert timedelta(minutes=15) <= expected - before < timedelta(minutes=16)
    assert "Запрос отправлен перевозчику (Почта России)" in body["message"]
    assert "статус обновится сам" in body["message"] and "Статус обновлён" not in body["message"]
    assert not TrackingEvent.objects.filter(shipment=s).exists()

    # pressed again: the ticket already asked is the answer, not a second request
    again = api.post(url(s)).json()
    assert (again["outcome"], again["ticket"]) == ("pending", ticket.ticket)
    assert "уже отправлен" in again["message"] and TrackingTicket.objects.count() == 1

    # ... and the answer then arrives by itself (the due work fetches the ticket)
    Admin(rp.url).clock(advance=901)
    fetched = tracking_tickets_fetch(ticket_ids=[ticket.pk], now=ticket.next_fetch_at)
    assert fetched.fetched == 1 and fetched.ingest.stored > 0
    assert TrackingEvent.objects.filter(shipment=s).count() == fetched.ingest.stored
    assert TrackingState.objects.get(shipment=s).status != ""


def test_a_refused_single_call_does_not_spend_the_quota_the_ticket_needs(api, org, rp):
    spend_single_calls(api, org, rp)  # the carrier now refuses single-number calls
    s = rp_shipment(org, rp, n=3, daily_track_quota=1)  # our quota: one number a day
    body = api.post(url(s)).json()
    assert body["outcome"] == "requested", body  # the one number went by ticket
    assert s.pk in TrackingTicket.objects.get().shipment_ids
    other = shipment(org, account=s.carrier_account, carrier="russian_post",
                     number=barcodes.rp14_make("8008474000004"))
    assert api.post(url(other)).json()["outcome"] == "deferred"  # and the day's quota is spent


def test_russian_post_single_number_method_answers_a_manual_refresh_at_once(api, org, rp):
    s = rp_shipment(org, rp, n=2)
    body = api.post(url(s)).json()
    assert body["outcome"] == "updated" and body["stored"] > 0, body
    assert not TrackingTicket.objects.exists()  # no ticket, no 15 minutes
    state = TrackingState.objects.get(shipment=s)
    assert body["status"] == state.status != "" and body["ticket"] is None
    assert body["message"].startswith("Статус обновлён: ")
    assert state.last_polled_at is not None and state.next_poll_at > state.last_polled_at

    again = api.post(url(s)).json()  # the same history: nothing new, and it says so
    assert (again["outcome"], again["stored"]) == ("unchanged", 0)
    assert "новых событий нет" in again["message"]
    assert TrackingEvent.objects.filter(shipment=s).count() == body["stored"]


def test_russian_post_in_single_mode_refreshes_through_the_poll(api, org, rp):
    s = rp_shipment(org, rp, n=3, tracking_mode="single")  # answers within the call
    body = api.post(url(s)).json()
    assert body["outcome"] == "updated" and body["stored"] > 0 and body["asked"] == 1
    assert not TrackingTicket.objects.exists()


def test_the_page_tells_the_user_the_answer_comes_later(web, org, rp):
    spend_single_calls(web, org, rp, page=True)
    s = rp_shipment(org, rp, n=4)
    page = web.post(f"/tracking/shipments/{s.pk}/refresh/", follow=True)
    html = page.content.decode()
    ticket = TrackingTicket.objects.get()
    assert "Запрос отправлен перевозчику (Почта России)" in html
    assert "Статус обновлён" not in html
    # the timeline keeps saying so while the ticket waits
    html = web.get(f"/tracking/shipments/{s.pk}/").content.decode()
    assert f"билет {ticket.ticket}" in html and "ответ ожидается около" in html


class Refusing(CarrierAdapter):
    code: ClassVar[str] = "fake"
    name: ClassVar[str] = "Фейк"
    fail: ClassVar[Exception | None] = None
    calls: ClassVar[int] = 0
    answers: ClassVar[dict[str, list]] = {}

    def track(self, tracking_numbers: list[str]) -> TrackResult:
        type(self).calls += 1
        if type(self).fail is not None:
            raise type(self).fail
        return TrackResult(events=tuple(e for n in tracking_numbers
                                        for e in type(self).answers.get(n, [])))


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, org: Any) -> CarrierAccount:
    cache.clear()
    Refusing.fail, Refusing.calls, Refusing.answers = None, 0, {}
    monkeypatch.setattr(polling, "_adapter_for",
                        lambda account: Refusing(credentials={}, base_url="http://127.0.0.1:1"))
    return CarrierAccount.objects.create(organization=org, carrier_code="fake", name="Фейк",
                                         base_url="http://127.0.0.1:1")


def test_a_carrier_refusal_is_told_with_its_words_and_the_next_try(api, org, fake):
    s = shipment(org, account=fake)
    Refusing.fail = CarrierError("сервис на обслуживании", transient=True)
    body = api.post(url(s)).json()
    assert body["outcome"] == "failed" and body["error"] == "сервис на обслуживании"
    assert "не дал данных: сервис на обслуживании" in body["message"]
    next_poll = TrackingState.objects.get(shipment=s).next_poll_at
    assert abs(datetime.fromisoformat(body["next_poll_at"]) - next_poll) < timedelta(milliseconds=1)
    assert next_poll > timezone.now()


def test_a_rate_limit_defers_and_says_when(web, org, fake):
    s = shipment(org, account=fake)
    Refusing.fail = RateLimited("слишком часто", retry_after=600)
    html = web.post(f"/tracking/shipments/{s.pk}/refresh/", follow=True).content.decode()
    assert "Лимит запросов к перевозчику (Фейк) исчерпан" in html
    assert "Статус обновлён" not in html


def test_a_final_status_is_not_asked_again(api, org, fake):
    s = shipment(org, account=fake)
    Refusing.answers[s.tracking_number] = [event(s.tracking_number, 0, Status.ACCEPTED),
                                           event(s.tracking_number, 2, Status.DELIVERED)]
    assert api.post(url(s)).json()["outcome"] == "updated"
    body = api.post(url(s)).json()
    assert (body["outcome"], body["status"], body["asked"]) == ("final", "delivered", 0)
    assert Refusing.calls == 1 and "Статус окончательный (Вручено)" in body["message"]


def test_no_carrier_account_is_a_clear_error(api, org):
    s = shipment(org)  # no account: nobody to ask
    r = api.post(url(s))
    assert r.status_code == 422, r.content
    assert "договора с перевозчиком" in r.content.decode()
    assert "shipment_id" in r.content.decode()
    tracking_watch(shipment_ids=[s.pk])  # still trackable later, nothing half-written
    assert TrackingState.objects.filter(shipment=s).count() == 1
