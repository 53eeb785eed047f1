"""The resilient client against a tiny loopback server: retries, breaker, limits, logging."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from shipdesk.carriers import http as carrier_http
from shipdesk.carriers.base import CarrierError, RateLimited
from shipdesk.carriers.emulation import App, Request, Response, json_response, start
from shipdesk.carriers.http import RateLimiter, build_client, mask_text
from shipdesk.carriers.models import CarrierAccount, CarrierExchange

_keys = itertools.count()


class Flaky(App):
    def __init__(self) -> None:
        super().__init__()
        self.hits: dict[str, int] = {}
        self.answers: list[Response] = []
        self.route("GET", "/thing", self.thing)
        self.route("POST", "/thing", self.thing)

    def thing(self, request: Request) -> Response:
        self.hits[request.method] = self.hits.get(request.method, 0) + 1
        if self.answers:
            return self.answers.pop(0)
        return json_response({"ok": True})


@pytest.fixture
def server() -> Any:
    running = start(Flaky())
    yield running
    running.stop()


def client(**options: Any) -> httpx.Client:
    options.setdefault("backoff_base", 0.01)
    return build_client(key=f"test-{next(_keys)}-{time.time()}", options=options, log_exchanges=False)


def test_get_is_retried_after_server_errors(server: Any) -> None:
    app: Flaky = server.app
    app.answers = [Response(503, b"down", "text/plain"), Response(502, b"<html>", "text/html")]
    answer = client().get(f"{server.url}/thing")
    assert answer.status_code == 200
    assert app.hits["GET"] == 3


def test_post_is_not_retried(server: Any) -> None:
    app: Flaky = server.app
    app.answers = [Response(503, b"down", "text/plain")]
    answer = client().post(f"{server.url}/thing", json={})
    assert answer.status_code == 503
    assert app.hits["POST"] == 1


def test_post_marked_idempotent_is_retried(server: Any) -> None:
    app: Flaky = server.app
    app.answers = [Response(500, b"oops", "text/plain")]
    answer = client().post(f"{server.url}/thing", json={}, extensions={"idempotent": True})
    assert answer.status_code == 200
    assert app.hits["POST"] == 2


def test_client_errors_are_not_retried(server: Any) -> None:
    app: Flaky = server.app
    app.answers = [json_response({"error": "bad"}, 400)]
    assert client().get(f"{server.url}/thing").status_code == 400
    assert app.hits["GET"] == 1


def test_429_is_retried_after_retry_after(server: Any) -> None:
    app: Flaky = server.app
    app.answers = [json_response({}, 429, {"Retry-After": "0"})]
    assert client().get(f"{server.url}/thing").status_code == 200
    assert app.hits["GET"] == 2


def test_circuit_opens_after_consecutive_failures(server: Any) -> None:
    app: Flaky = server.app
    app.answers = [Response(503, b"down", "text/plain") for _ in range(10)]
    c = client(max_attempts=1, fail_max=3, reset_timeout=60)
    for _ in range(3):
        assert c.get(f"{server.url}/thing").status_code == 503
    with pytest.raises(CarrierError) as caught:
        c.get(f"{server.url}/thing")
    assert caught.value.code == "circuit_open"
    assert caught.value.transient
    assert app.hits["GET"] == 3  # the paused account did not reach the carrier


def test_connection_refused_becomes_transient_carrier_error() -> None:
    c = client(max_attempts=2)
    with pytest.raises(CarrierError) as caught:
        c.get("http://127.0.0.1:9/nothing-listens-here")
    assert caught.value.transient and caught.value.code == "unavailable"


def test_slow_answer_beyond_timeout_is_a_timeout_error(server: Any) -> None:
    app: Flaky = server.app
    app.fail_mode, app.fail_count, app.fail_seconds = "slow", 1, 1.5
    c = client(timeout=0.3, max_attempts=1)
    with pytest.raises(CarrierError) as caught:
        c.get(f"{server.url}/thing")
    assert caught.value.code == "timeout"


class _Clock:
    """The limiter's clock, moved only by its own sleeps (the tests then check times, not
    the machine's speed)."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _starts(monkeypatch: Any, per_second: float, calls: int, **options: Any) -> list[float]:
    clock = _Clock()
    monkeypatch.setattr(carrier_http, "time", clock)
    limiter = RateLimiter(f"rl-{next(_keys)}-{time.time()}", per_second, **options)
    started = []
    for _ in range(calls):
        limiter.acquire()
        started.append(clock.now)
    return started


def _most_in_any_second(starts: list[float]) -> int:
    return max(sum(1 for t in starts if s <= t < s + 1) for s in starts)


def test_rate_limiter_lets_the_limit_go_at_once_and_never_more_in_any_second(monkeypatch):
    starts = _starts(monkeypatch, 3, 10)
    assert starts[:3] == [starts[0]] * 3  # a burst up to the limit is not held back
    assert _most_in_any_second(starts) == 3  # sliding: no second holds a 4th call
    # ... and a carrier counting per whole second sees 3, 3, 3, 1
    assert sorted(Counter(int(t - starts[0]) for t in starts).values()) == [1, 3, 3, 3]


def test_a_fractional_rate_spaces_calls_by_its_period(monkeypatch):
    starts = _starts(monkeypatch, 0.5, 3)
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [2.0, 2.0]


def test_rate_limiter_refuses_a_wait_beyond_its_budget_and_says_how_long(monkeypatch):
    monkeypatch.setattr(carrier_http, "time", _Clock())
    limiter = RateLimiter(f"rl-{next(_keys)}-{time.time()}", 2, max_wait=0.5)
    limiter.acquire()
    limiter.acquire()
    with pytest.raises(RateLimited) as refused:
        RateLimiter(limiter.key.removeprefix("carrier-rl:"), 2, max_wait=0.5).acquire()
    assert refused.value.retry_after == pytest.approx(1.0)


def test_processes_share_one_limit(monkeypatch):
    """Two limiters on one key (as two worker processes would hold) share the budget."""
    monkeypatch.setattr(carrier_http, "time", _Clock())
    key = f"rl-{next(_keys)}-{time.time()}"
    first, second = RateLimiter(key, 2, max_wait=0), RateLimiter(key, 2, max_wait=0)
    first.acquire()
    second.acquire()
    with pytest.raises(RateLimited):
        first.acquire()


def test_secrets_are_masked() -> None:
    body = '{"Login": "shop", "Password": "hunter22", "nested": {"access_token": "abc.def"}}'
    masked = mask_text(body)
    assert "hunter22" not in masked and "abc.def" not in masked and "shop" in masked
    form = "grant_type=client_credentials&client_id=acc&client_secret=s3cr3t-value"
    assert "s3cr3t-value" not in mask_text(form)
    assert "known-secret" not in mask_text("<x>known-secret</x>", ["known-secret"])


def test_exchanges_are_logged_with_secrets_masked(org: Any, server: Any) -> None:
    account = CarrierAccount.objects.create(
        organization=org,
        carrier_code="sandbox",
        name="t",
        base_url=server.url,
        credentials={"token": "super-secret-token"},
    )
    from shipdesk.carriers.http import client_for_account, for_shipment

    c = client_for_account(account)
    with for_shipment(42):
        c.post(
            f"{server.url}/thing?token=super-secret-token",
            json={"password": "pw-123456", "name": "Иван"},
            headers={"Authorization": "Bearer super-secret-token"},
        )
    row = CarrierExchange.objects.get(account=account)
    assert row.shipment_id == 42 and row.method == "POST" and row.status == 200
    everything = f"{row.url} {row.request_headers} {row.request_body} {row.response_body}"
    assert "super-secret-token" not in everything and "pw-123456" not in everything
    assert "Иван" in row.request_body
    assert row.request_headers["authorization"] == "***"


class _Refused(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_call_keeps_its_exchange_on_postgresql_only_in_the_log_on_sqlite(
        server: Any, caplog: pytest.LogCaptureFixture) -> None:
    from django.db import connection, transaction

    from shipdesk.carriers.http import client_for_account
    from shipdesk.tenancy.models import Organization

    org = Organization.objects.create(name="Ромашка")
    account = CarrierAccount.objects.create(organization=org, carrier_code="sandbox", name="t",
                                            base_url=server.url, credentials={})
    client = client_for_account(account)
    caplog.set_level("INFO", logger="shipdesk.carriers.http")
    with pytest.raises(_Refused), transaction.atomic():  # e.g. a create that fails after the call
        client.post(f"{server.url}/thing", json={"order": "A-1"})
        raise _Refused
    rows = CarrierExchange.objects.filter(account=account)
    if connection.vendor == "postgresql":  # written on a connection of its own
        assert [(r.method, r.status, '"A-1"' in r.request_body) for r in rows] == [
            ("POST", 200, True)]
    else:  # one writer: the row went with the rollback, the log line stays
        assert not rows.exists()
    assert "carrier POST" in caplog.text and "-> 200" in caplog.text


def test_an_exchange_of_an_account_created_in_the_same_transaction_is_still_logged(
        org: Any, server: Any) -> None:
    account = CarrierAccount.objects.create(organization=org, carrier_code="sandbox", name="t",
                                            base_url=server.url, credentials={})
    from shipdesk.carriers.http import client_for_account

    client_for_account(account).get(f"{server.url}/thing")
    assert CarrierExchange.objects.filter(account=account, method="GET").count() == 1
