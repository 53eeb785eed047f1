"""A demo that moves: the emulators stamp events with the real time and go faster only by
pacing the scenarios (``step_seconds``); adapters never hand tracking a time in the future;
a Russian Post batch dated today is accepted however long the emulator has run."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from shipdesk.carriers import scenarios, timing
from shipdesk.carriers.base import Party, TrackingEvent
from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator, cdek_time
from shipdesk.carriers.emulation import STEP_SECONDS_ENV, App, Running, start, step_seconds_from_env
from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.pickpoint.adapter import Adapter as PickpointAdapter
from shipdesk.carriers.pickpoint.emulator import IKN, LOGIN, PASSWORD, PickpointEmulator
from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post import emulator as rp_emulator
from shipdesk.carriers.russian_post.tests.conftest import free_port, make_adapter
from shipdesk.carriers.russian_post.tests.conftest import parcel as rp_parcel
from shipdesk.carriers.sandbox.adapter import Adapter as SandboxAdapter
from shipdesk.carriers.sandbox.emulator import API_KEY, SandboxEmulator
from shipdesk.carriers.tests.helpers import fast_client, parcel
from shipdesk.core import demo
from shipdesk.tracking.models import RejectedEvent, TrackingState
from shipdesk.tracking.models import TrackingEvent as StoredEvent
from shipdesk.tracking.polling import tracking_poll, tracking_watch
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import shipment

MSK = timezone(timedelta(hours=3))
STEP = 0.4  # seconds between scripted steps: the sandbox of `make run` (20 s), quicker
WAIT = 15.0  # the most any test here waits for a parcel to get somewhere


def _wait_until(check: Callable[[], bool], *, seconds: float = WAIT) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


# --- the scenarios' pace ------------------------------------------------------------------


def test_paced_steps_come_step_seconds_apart_and_unpaced_ones_as_scripted() -> None:
    scripted = scenarios.timeline("delivered")
    assert scripted == scenarios.SCENARIOS["delivered"]  # hours and days, for real-life tests
    paced = scenarios.timeline("delivered", step_seconds=20)
    assert [step for _at, step in paced] == [step for _at, step in scripted]
    assert [round(at * 3600) for at, _step in paced] == [0, 20, 40, 60, 80]


def test_served_emulators_take_their_pace_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STEP_SECONDS_ENV, raising=False)
    assert step_seconds_from_env() == 0.0  # on its own: the real-life pace
    monkeypatch.setenv(STEP_SECONDS_ENV, "20")
    assert step_seconds_from_env() == 20.0
    monkeypatch.setenv(STEP_SECONDS_ENV, "soon")
    assert step_seconds_from_env() == 0.0


def test_make_run_sets_the_demo_pace_unless_the_user_did() -> None:
    environ: dict[str, str] = {"SHIPDESK_SANDBOX_TICKET_DELAY": "7"}
    pace = demo.demo_pace_apply(environ)
    assert pace == {"SHIPDESK_SANDBOX_STEP_SECONDS": "20", "SHIPDESK_SANDBOX_TICKET_DELAY": "7"}
    assert environ["SHIPDESK_SANDBOX_STEP_SECONDS"] == "20"


def test_the_russian_post_sandbox_account_fetches_tickets_after_the_sandbox_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHIPDESK_SANDBOX_TICKET_DELAY", "2.5")
    assert rp_emulator.sandbox_settings() == {"ticket_first_fetch_after": 2.5, "ticket_fetch_interval": 2.5}
    monkeypatch.delenv("SHIPDESK_SANDBOX_TICKET_DELAY")
    assert rp_emulator.sandbox_settings()["ticket_first_fetch_after"] == 900  # the real 15 minutes


# --- emulator events are never in the future ----------------------------------------------


def _raw_times(app: App) -> list[datetime]:
    """Every event time an emulator would report now, read from its own state (not through
    an adapter, which would hide a future one)."""
    if isinstance(app, SandboxEmulator):
        return [datetime.fromisoformat(e["at"]) for p in app.parcels.values() for e in app.events_of(p)]
    if isinstance(app, CdekEmulator):
        return [datetime.strptime(s["date_time"], "%Y-%m-%dT%H:%M:%S%z")
                for o in list(app.orders.values()) for s in app.statuses(o)]
    assert isinstance(app, PickpointEmulator)
    return [datetime.strptime(s["ChangeDT"], "%d.%m.%y %H:%M").replace(tzinfo=MSK)  # minutes
            for p in app.sendings.values() for s in app.states(p)]


def _fill(app: App, running: Running) -> None:
    """One parcel of every scenario, through the carrier's own API."""
    for n, name in enumerate(scenarios.SCENARIOS):
        if isinstance(app, SandboxEmulator):
            SandboxAdapter(credentials={"api_key": API_KEY}, base_url=running.url,
                           http=fast_client()).create_parcels(
                [parcel(f"F-{n}", options={"scenario": name})])
        elif isinstance(app, CdekEmulator):
            CdekAdapter.tokens._local.clear()
            CdekAdapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                        base_url=f"{running.url}/v2", http=fast_client()).create_parcels(
                [parcel(f"F-{n}", service_code="136", comment=f"scenario:{name}")])
        else:
            PickpointAdapter._sessions.clear()
            PickpointAdapter(credentials={"login": LOGIN, "password": PASSWORD, "ikn": IKN},
                             base_url=f"{running.url}/api", http=fast_client()).create_parcels(
                [_pickpoint_parcel(f"F-{n}", name)])


@pytest.mark.parametrize("make", [SandboxEmulator, CdekEmulator, PickpointEmulator])
@pytest.mark.parametrize("step_seconds", [0.0, 0.02])
def test_emulator_events_are_never_in_the_future(make: Callable[..., App], step_seconds: float) -> None:
    running = start(make(step_seconds=step_seconds))
    try:
        _fill(running.app, running)
        seen = 0
        for _round in range(8):  # while the paced ones play their whole scenario
            times = _raw_times(running.app)
            now = datetime.now(UTC)
            assert times and all(t <= now for t in times), (max(times), now)
            seen = max(seen, len(times))
            time.sleep(0.05)
        if step_seconds:  # paced: far more than the first step of each has happened
            assert seen > 3 * len(scenarios.SCENARIOS)
    finally:
        running.stop()


def test_russian_post_events_are_never_in_the_future() -> None:
    srv = rp_emulator.serve("127.0.0.1", free_port(),
                            config=rp_emulator.Config(ticket_delay_seconds=0, step_seconds=0.02))
    try:
        adapter = make_adapter(srv.url)
        names = list(rp_emulator.SCENARIOS)
        created = adapter.create_parcels([rp_parcel(f"R-{n}", comment=f"scenario={name}")
                                          for n, name in enumerate(names)])
        ids = [c.carrier_id for c in created.created]
        assert len(ids) == len(names), created.errors
        batch = adapter.create_batch(ids, shipping_date=datetime.now(MSK).date())
        adapter.close_batch(batch.batch_id)
        # with no order behind it, a valid barcode gets an invented past: no future either
        numbers = [*batch.tracking_numbers.values(), barcodes.rp14_make("8008471000001")]
        for _round in range(8):
            times = [when for number in numbers for when, *_rest in srv.state.history(number)]
            now = datetime.now(UTC)  # after reading: a step stamped while we read is not future
            assert times and all(t <= now for t in times)
            time.sleep(0.05)
    finally:
        srv.shutdown()


# --- a sandbox-speed parcel travels from accepted to delivered, and tracking takes it -------


def _account(**fields: Any) -> CarrierAccount:
    return CarrierAccount.objects.create(**fields)


@dataclass
class Journey:
    account: CarrierAccount
    number: str
    stop: Callable[[], None]


def _pickpoint_parcel(reference: str, scenario: str) -> Any:
    base = parcel(reference)
    recipient = Party(name=base.recipient.name, phone=base.recipient.phone, pickup_point="7701-001")
    return parcel(reference, service_code="", comment=f"scenario:{scenario}", recipient=recipient)


def _sandbox_journey(org: Any) -> Journey:
    running = start(SandboxEmulator(step_seconds=STEP))
    account = _account(organization=org, carrier_code="sandbox", name="Песочница",
                                            base_url=running.url, credentials={"api_key": API_KEY})
    adapter = SandboxAdapter(credentials={"api_key": API_KEY}, base_url=running.url, http=fast_client())
    [made] = adapter.create_parcels([parcel("J-1", options={"scenario": "delivered"})]).created
    return Journey(account, made.tracking_number, running.stop)


def _cdek_journey(org: Any) -> Journey:
    running = start(CdekEmulator(step_seconds=STEP))
    credentials = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    account = _account(organization=org, carrier_code="cdek", name="СДЭК",
                                            base_url=f"{running.url}/v2", credentials=credentials)
    CdekAdapter.tokens._local.clear()
    adapter = CdekAdapter(credentials=credentials, base_url=f"{running.url}/v2", http=fast_client())
    [made] = adapter.create_parcels([parcel("J-1", service_code="136",
                                            comment="scenario:delivered")]).created
    return Journey(account, made.tracking_number, running.stop)


def _pickpoint_journey(org: Any) -> Journey:
    running = start(PickpointEmulator(step_seconds=STEP))
    credentials = {"login": LOGIN, "password": PASSWORD, "ikn": IKN}
    account = _account(organization=org, carrier_code="pickpoint", name="PickPoint",
                                            base_url=f"{running.url}/api", credentials=credentials)
    PickpointAdapter._sessions.clear()
    adapter = PickpointAdapter(credentials=credentials, base_url=f"{running.url}/api", http=fast_client())
    [made] = adapter.create_parcels([_pickpoint_parcel("J-1", "delivered")]).created
    return Journey(account, made.tracking_number, running.stop)


def _russian_post_journey(org: Any) -> Journey:
    srv = rp_emulator.serve("127.0.0.1", free_port(),
                            config=rp_emulator.Config(ticket_delay_seconds=0, step_seconds=STEP))
    credentials = {"token": "test-token", "login": "test", "password": "test"}
    account = _account(
        organization=org, carrier_code="russian_post", name="Почта России", base_url=srv.url,
        credentials=credentials,
        settings={"tracking_url": srv.url, "tracking_mode": "single", "max_attempts": 1})
    adapter = make_adapter(srv.url)
    [made] = adapter.create_parcels([rp_parcel("J-1", comment="scenario=delivered")]).created
    batch = adapter.create_batch([made.carrier_id], shipping_date=datetime.now(MSK).date())
    adapter.close_batch(batch.batch_id)
    return Journey(account, batch.tracking_numbers[made.carrier_id], srv.shutdown)


@pytest.mark.django_db
@pytest.mark.parametrize("begin", [_sandbox_journey, _cdek_journey, _pickpoint_journey,
                                   _russian_post_journey],
                         ids=["sandbox", "cdek", "pickpoint", "russian_post"])
def test_a_sandbox_speed_parcel_is_delivered_in_seconds_and_tracking_takes_every_event(
    org: Any, begin: Callable[[Any], Journey],
) -> None:
    from django.core.cache import cache

    cache.clear()
    journey = begin(org)
    try:
        s = shipment(org, number=journey.number, carrier=journey.account.carrier_code,
                     account=journey.account)
        tracking_watch(shipment_ids=[s.pk])
        seen: list[str] = []

        def delivered() -> bool:
            tracking_poll(shipment_ids=[s.pk])  # the due work's path: adapter, then ingest
            status = TrackingState.objects.get(shipment=s).status
            if status and (not seen or seen[-1] != status):
                seen.append(status)
            return status == Status.DELIVERED

        assert _wait_until(delivered), seen
        assert seen[0] != Status.DELIVERED and len(seen) > 1  # seen on its way, then delivered
        assert not RejectedEvent.objects.filter(tracking_number=journey.number).exists()
        stored = StoredEvent.objects.filter(shipment=s)
        assert {Status.ACCEPTED, Status.IN_TRANSIT, Status.DELIVERED} <= set(
            stored.values_list("status", flat=True))
        assert max(stored.values_list("occurred_at", flat=True)) <= datetime.now(UTC)
    finally:
        journey.stop()


@pytest.mark.django_db(transaction=True)
def test_make_run_subscribes_the_demo_sandbox_so_a_parcel_moves_without_a_poll(
    org: Any, live_server: Any,
) -> None:
    running = start(SandboxEmulator(step_seconds=STEP / 4))
    try:
        account = _account(organization=org, carrier_code="sandbox", name="Песочница", is_sandbox=True,
                           base_url=running.url, credentials={"api_key": API_KEY})
        _account(organization=org, carrier_code="russian_post", name="Почта (песочница)",
                 is_sandbox=True, base_url="http://127.0.0.1:9", credentials={"token": "t"})
        assert demo.demo_webhooks_subscribe(organization=org, public_url=live_server.url) == {
            "sandbox": ""}  # Russian Post posts nothing: it is polled
        adapter = SandboxAdapter(credentials={"api_key": API_KEY}, base_url=running.url, http=fast_client())
        [made] = adapter.create_parcels([parcel("W-1", options={"scenario": "delivered"})]).created
        s = shipment(org, number=made.tracking_number, carrier="sandbox", account=account)
        tracking_watch(shipment_ids=[s.pk])

        def delivered() -> bool:
            running.app.push_webhooks()  # what the served emulator does every 5 seconds
            state = TrackingState.objects.get(shipment=s)
            return state.status == Status.DELIVERED

        assert _wait_until(delivered)
        assert TrackingState.objects.get(shipment=s).last_polled_at is None  # no poll: webhooks
        assert set(StoredEvent.objects.filter(shipment=s).values_list("source", flat=True)) == {"webhook"}
    finally:
        running.stop()


# --- adapters never hand tracking a time in the future ------------------------------------


def _event(at: datetime, number: str = "N-1") -> TrackingEvent:
    return TrackingEvent(tracking_number=number, occurred_at=at, raw_code="X", raw_text="Вручено",
                         status=Status.DELIVERED, raw={"code": "X"})


def test_an_event_a_little_ahead_is_clamped_to_now_with_the_carriers_time_kept() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    past, ahead = now - timedelta(hours=1), now + timedelta(minutes=2)
    events, held = timing.not_ahead([_event(past), _event(ahead)], carrier="test", at=now)
    assert held == {}
    assert [e.occurred_at for e in events] == [past, now]
    assert events[1].raw == {"code": "X", "carrier_time": ahead.isoformat()}


def test_an_event_far_ahead_is_held_back_and_its_number_says_why() -> None:
    now = datetime(2026, 12, 6, 12, tzinfo=UTC)
    events, held = timing.not_ahead([_event(now - timedelta(hours=1)),
                                     _event(now + timedelta(hours=6))], carrier="test", at=now)
    assert [e.occurred_at for e in events] == [now - timedelta(hours=1)]
    assert "с датой в будущем (06.12.2026 18:00 UTC)" in held["N-1"]


def test_the_sandbox_adapter_holds_back_what_an_emulator_running_ahead_reports() -> None:
    running = start(SandboxEmulator())
    try:
        adapter = SandboxAdapter(credentials={"api_key": API_KEY}, base_url=running.url, http=fast_client())
        [made] = adapter.create_parcels([parcel("A-1", options={"scenario": "delivered"})]).created
        # the emulator's clock moved 50 hours ahead, ours not (no test hook on our side)
        httpx.post(f"{running.url}/__emulator__/clock", json={"advance_hours": 50}).raise_for_status()
        answer = adapter.track([made.tracking_number])
        now = datetime.now(UTC)
        assert [e.raw_code for e in answer.events] == ["CREATED"]
        assert all(e.occurred_at <= now for e in answer.events)
        assert "в будущем" in answer.errors[made.tracking_number]
    finally:
        running.stop()


def test_a_cdek_webhook_dated_ahead_is_held_back_and_one_dated_now_comes_in() -> None:
    adapter = CdekAdapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                          base_url="http://127.0.0.1:9/v2", http=fast_client())

    def hook(at: datetime) -> bytes:
        import json

        return json.dumps({"type": "ORDER_STATUS", "uuid": "u-1", "attributes": {
            "cdek_number": "1106000001", "code": "DELIVERED", "status_date_time": cdek_time(at),
            "is_return": False}}).encode()

    assert adapter.parse_webhook({}, hook(datetime.now(UTC) + timedelta(days=2))) == []
    [event] = adapter.parse_webhook({}, hook(datetime.now(UTC) - timedelta(minutes=1)))
    assert event.status == Status.DELIVERED


# --- Russian Post: a batch dated today is accepted at any uptime ----------------------------


@pytest.fixture
def rp_fake_clock() -> Iterator[tuple[list[datetime], rp_emulator.EmulatorServer]]:
    """The emulator on an injected real-time clock, started late on a Moscow evening."""
    real = [datetime(2026, 3, 10, 19, 30, tzinfo=UTC)]  # 22:30 in Moscow
    srv = rp_emulator.serve("127.0.0.1", free_port(), now=lambda: real[0],
                            config=rp_emulator.Config(ticket_delay_seconds=0))
    yield real, srv
    srv.shutdown()


def _batch(srv: rp_emulator.EmulatorServer, day: date) -> list[str]:
    adapter = make_adapter(srv.url)
    created = adapter.create_parcels([rp_parcel("B-1")]).created
    result = adapter.create_batch([created[0].carrier_id], shipping_date=day)
    return [e.code for e in result.errors]


def test_a_batch_dated_today_is_accepted_after_an_hour_of_uptime(
    rp_fake_clock: tuple[list[datetime], rp_emulator.EmulatorServer],
) -> None:
    real, srv = rp_fake_clock
    real[0] += timedelta(hours=1)  # an hour of `make run` (a clock at 360x: two weeks ahead)
    assert srv.state.clock() == real[0]
    assert _batch(srv, real[0].astimezone(MSK).date()) == []


def test_a_batch_dated_today_in_kaliningrad_is_accepted_after_moscows_midnight(
    rp_fake_clock: tuple[list[datetime], rp_emulator.EmulatorServer],
) -> None:
    real, srv = rp_fake_clock
    real[0] += timedelta(hours=2)  # 21:30 UTC: 00:30 tomorrow in Moscow, 23:30 in Kaliningrad
    today_in_kaliningrad = real[0].astimezone(timezone(timedelta(hours=2))).date()
    assert today_in_kaliningrad < real[0].astimezone(MSK).date()
    assert _batch(srv, today_in_kaliningrad) == []


def test_a_batch_dated_yesterday_is_past_due(
    rp_fake_clock: tuple[list[datetime], rp_emulator.EmulatorServer],
) -> None:
    real, srv = rp_fake_clock
    assert _batch(srv, real[0].astimezone(MSK).date() - timedelta(days=1)) == ["PAST_DUE_DATE"]


def test_a_served_russian_post_emulator_runs_on_the_real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(STEP_SECONDS_ENV, "20")
    monkeypatch.setenv("SHIPDESK_SANDBOX_TICKET_DELAY", "2.5")
    srv = rp_emulator.serve("127.0.0.1", free_port())  # as `shipdesk emulate russian_post` does
    try:
        assert abs(srv.state.clock() - datetime.now(UTC)) < timedelta(seconds=2)
        assert (srv.state.config.step_seconds, srv.state.config.ticket_delay_seconds) == (20.0, 2.5)
        assert _batch(srv, datetime.now(MSK).date()) == []
    finally:
        srv.shutdown()
