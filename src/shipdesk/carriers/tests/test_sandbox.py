"""The sandbox adapter against its emulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from shipdesk.carriers.base import AuthenticationFailed, CarrierError, RateLimited
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.sandbox.adapter import Adapter
from shipdesk.carriers.sandbox.emulator import API_KEY, STEP_CODES, SandboxEmulator
from shipdesk.carriers.sandbox.statuses import STATUS_MAP
from shipdesk.carriers.tests.helpers import control, fast_client, parcel, pdf_barcodes, pdf_text
from shipdesk.numbering import validation
from shipdesk.tracking.statuses import Status


@pytest.fixture
def emulator() -> Iterator[Running]:
    running = start(SandboxEmulator())
    yield running
    running.stop()


@pytest.fixture
def adapter(emulator: Running) -> Adapter:
    return Adapter(credentials={"api_key": API_KEY}, base_url=emulator.url, http=fast_client())


def test_every_emulated_code_is_mapped() -> None:
    assert {code for code, _text in STEP_CODES.values()} <= set(STATUS_MAP)


def test_rates_come_back_as_decimals(adapter: Adapter) -> None:
    quotes = adapter.rate(parcel(service_code=""))
    assert {q.service_code for q in quotes} == {"standard", "express", "pickup_point"}
    assert all(isinstance(q.total, Decimal) and q.total > 0 for q in quotes)


def test_create_then_track_through_delivery(adapter: Adapter, emulator: Running) -> None:
    result = adapter.create_parcels([parcel("ORD-1", options={"scenario": "delivered"})])
    assert not result.errors
    number = result.created[0].tracking_number
    assert number.startswith("SBX")
    control(emulator.url, "clock", advance_hours=50)
    track = adapter.track([number, "NOPE"])
    statuses = [e.status for e in track.events]
    assert statuses == [
        Status.INFO_RECEIVED,
        Status.ACCEPTED,
        Status.IN_TRANSIT,
        Status.ARRIVED_AT_PICKUP,
        Status.DELIVERED,
    ]
    assert all(e.occurred_at.tzinfo is not None for e in track.events)
    assert "NOPE" in track.errors


def test_not_picked_up_returns_after_storage(adapter: Adapter, emulator: Running) -> None:
    number = adapter.create_parcels([parcel("ORD-2", options={"scenario": "not_picked_up"})]).created[0]
    control(emulator.url, "clock", advance_hours=24 * 14)
    events = adapter.track([number.tracking_number]).events
    assert events[-1].status == Status.RETURNED
    assert any(e.substatus == "storage_expired" for e in events)


def test_validation_errors_point_at_the_field(adapter: Adapter) -> None:
    bad = parcel("ORD-3", weight_g=0, recipient=parcel().recipient.__class__(name="", phone=""))
    result = adapter.create_parcels([bad, parcel("ORD-4")])
    assert [c.reference for c in result.created] == ["ORD-4"]
    fields = {e.field for e in result.errors if e.reference == "ORD-3"}
    assert fields == {"weight_g", "recipient.name", "recipient.phone"}


def test_bad_key_is_reported_as_authentication_failure(emulator: Running) -> None:
    adapter = Adapter(credentials={"api_key": "wrong"}, base_url=emulator.url, http=fast_client())
    with pytest.raises(AuthenticationFailed) as caught:
        adapter.test_connection()
    assert "ключ" in str(caught.value)


def test_rate_limit_on_create_is_not_retried_but_reported(adapter: Adapter, emulator: Running) -> None:
    control(emulator.url, "fail", mode="rate_limit", count=1)
    with pytest.raises(RateLimited):
        adapter.create_parcels([parcel("ORD-5")])
    assert emulator.app.state()["parcels"] == 0


def test_outage_on_read_is_retried(adapter: Adapter, emulator: Running) -> None:
    control(emulator.url, "fail", mode="outage", count=2)
    adapter.test_connection()  # the third attempt gets through


def test_long_outage_is_a_transient_error(adapter: Adapter, emulator: Running) -> None:
    control(emulator.url, "fail", mode="outage", count=10)
    with pytest.raises(CarrierError) as caught:
        adapter.test_connection()
    assert caught.value.transient


@pytest.mark.parametrize("mode", ["html", "truncated"])
def test_malformed_answers_are_clear_errors(adapter: Adapter, emulator: Running, mode: str) -> None:
    control(emulator.url, "fail", mode=mode, count=1)
    with pytest.raises(CarrierError) as caught:
        adapter.create_parcels([parcel("ORD-6")])
    assert caught.value.code == "bad_response"
    assert "Непонятный ответ" in str(caught.value)


def test_unexpected_status_is_an_error(adapter: Adapter, emulator: Running) -> None:
    control(emulator.url, "fail", mode="status_418", count=1)
    with pytest.raises(CarrierError):
        adapter.create_parcels([parcel("ORD-6b")])


def test_labels_carry_the_tracking_number_as_barcode(adapter: Adapter) -> None:
    created = adapter.create_parcels([parcel("ORD-7"), parcel("ORD-8")]).created
    document = adapter.labels([c.carrier_id for c in created])
    assert document.content_type == "application/pdf"
    assert sorted(pdf_barcodes(document.content)) == sorted(c.tracking_number for c in created)
    assert "Иванов Иван" in pdf_text(document.content)


def test_batch_and_its_documents(adapter: Adapter) -> None:
    created = adapter.create_parcels([parcel("ORD-9"), parcel("ORD-10")]).created
    batch = adapter.create_batch([c.carrier_id for c in created], shipping_date=date(2026, 11, 24))
    assert set(batch.carrier_ids) == {c.carrier_id for c in created}
    adapter.close_batch(batch.batch_id)
    document = adapter.batch_documents(batch.batch_id)
    assert created[0].tracking_number in pdf_text(document.content)


def test_cancel_only_before_acceptance(adapter: Adapter, emulator: Running) -> None:
    first = adapter.create_parcels([parcel("ORD-11")]).created[0]
    assert adapter.cancel_parcels([first.carrier_id]) == []
    second = adapter.create_parcels([parcel("ORD-12")]).created[0]
    control(emulator.url, "clock", advance_hours=5)
    errors = adapter.cancel_parcels([second.carrier_id])
    assert errors and errors[0].code == "too_late"
    events = adapter.track([first.tracking_number]).events
    assert events[-1].status == Status.CANCELLED


def test_pickup_points_and_number_pool(adapter: Adapter) -> None:
    points = adapter.pickup_points(city="Москва")
    assert {p.code for p in points} == {"SBX-MSK-1", "SBX-MSK-2"}
    assert any(p.is_locker for p in points)


def test_number_ranges_are_real_14_digit_numbers_of_the_sandboxs_own(adapter: Adapter) -> None:
    [first] = adapter.allot_numbers(100)
    assert (first.kind, first.first, first.last) == ("rp14", "99999901000001", "99999901000995")
    assert validation.validate_tracking_number(first.last) == first.last  # the post's check digit
    [second] = adapter.allot_numbers(5)
    assert second.first == "99999901001008"  # continues, never repeats


def test_a_range_never_crosses_a_14_digit_range_code(adapter: Adapter, emulator: Running) -> None:
    emulator.app.issued["rp14"] = 99_998
    ranges = adapter.allot_numbers(5)
    assert [(r.first[:8], r.first[8:13], r.last[8:13]) for r in ranges] == [
        ("99999901", "99998", "99999"),
        ("99999902", "00000", "00002"),
    ]


def test_s10_ranges_when_the_account_asks_for_them(emulator: Running) -> None:
    adapter = Adapter(credentials={"api_key": API_KEY}, base_url=emulator.url, http=fast_client(),
                      settings={"number_kind": "s10"})
    [r] = adapter.allot_numbers(3)
    assert (r.kind, r.first, r.last) == ("s10", "ZZ000000005RU", "ZZ000000028RU")
    assert validation.validate_tracking_number(r.last) == r.last


def test_payout_report_round_trip(adapter: Adapter, emulator: Running) -> None:
    """The sandbox's payout CSV is read by finance's format catalogue (payout_format.json
    beside this adapter), like any carrier's file."""
    from shipdesk.finance import formats, readers

    number = adapter.create_parcels([parcel("ORD-13", options={"scenario": "delivered"})]).created[0]
    control(emulator.url, "clock", advance_hours=24 * 5)
    table = readers.read_table("payout.csv", adapter.payout_report())
    rec = formats.recognise(table)
    assert rec.format is not None and rec.format.code == "sandbox_payouts"
    lines = formats.extract(table, rec).lines
    assert [(ln.tracking_number, ln.cod_amount, ln.fee, ln.paid_amount) for ln in lines] == [
        (number.tracking_number, Decimal("1500.00"), Decimal("30.00"), Decimal("1470.00"))
    ]


def test_webhook_payload_parses(adapter: Adapter) -> None:
    body = (
        b'{"events":[{"tracking_number":"SBX1","code":"ARRIVED","text":"x",'
        b'"at":"2026-11-23T10:00:00+00:00"},'
        b'{"tracking_number":"SBX1","code":"SOMETHING_NEW","text":"y",'
        b'"at":"2026-11-23T11:00:00+00:00"}]}'
    )
    events = adapter.parse_webhook({}, body)
    assert [e.status for e in events] == [Status.ARRIVED_AT_PICKUP, None]  # unknown: flagged, not guessed
    with pytest.raises(CarrierError):
        adapter.parse_webhook({}, b'{"events": [')


def test_emulator_state_survives_a_restart(adapter: Adapter, emulator: Running) -> None:
    import json

    number = adapter.create_parcels([parcel("ORD-20", options={"scenario": "delivered"})]).created[0]
    saved = json.loads(json.dumps(emulator.app.snapshot()))
    # saved 13 hours ago: in transit since hour 12 when the sandbox starts again
    [row] = saved["parcels"]
    row["created_at"] = (datetime.fromisoformat(row["created_at"]) - timedelta(hours=13)).isoformat()
    again = start(SandboxEmulator())
    try:
        again.app.restore(saved)
        other = Adapter(credentials={"api_key": API_KEY}, base_url=again.url, http=fast_client())
        events = other.track([number.tracking_number]).events
        assert [e.status for e in events][-1] == Status.IN_TRANSIT
        fresh = other.create_parcels([parcel("ORD-21")]).created[0]
        assert fresh.tracking_number != number.tracking_number
    finally:
        again.stop()


def test_a_state_saved_by_a_sandbox_running_ahead_restores_on_the_real_clock() -> None:
    """An older sandbox ran its clock 360x: its saved "now" and parcels lie in the future.
    Restored, the clock is the real one and no event is dated after it."""
    ahead = datetime.now(UTC) + timedelta(days=3)
    saved = {
        "now": ahead.isoformat(), "next_number": 2, "issued": {}, "webhooks": [], "batches": {},
        "parcels": [{
            "id": "p-1", "reference": "ORD-30", "tracking_number": "SBX000000001RU",
            "service_code": "standard", "created_at": (ahead - timedelta(hours=50)).isoformat(),
            "scenario": "delivered", "cod_amount": "0", "recipient": {"city": "Омск"},
            "weight_g": 1000, "batch_id": "", "cancelled_at": None, "webhook_sent": [],
        }],
    }
    again = start(SandboxEmulator())
    try:
        again.app.restore(saved)
        assert abs(again.app.clock.now() - datetime.now(UTC)) < timedelta(seconds=5)
        other = Adapter(credentials={"api_key": API_KEY}, base_url=again.url, http=fast_client())
        events = other.track(["SBX000000001RU"]).events
        assert [e.raw_code for e in events] == ["CREATED"]
        assert events[0].occurred_at <= datetime.now(UTC)
    finally:
        again.stop()
