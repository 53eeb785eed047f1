"""PickPoint: the adapter against its emulator over loopback HTTP, and public fixtures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from shipdesk.carriers.base import AuthenticationFailed, CarrierError, Party
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.pickpoint.adapter import Adapter, parse_pp_time
from shipdesk.carriers.pickpoint.emulator import IKN, LOGIN, PASSWORD, STEP_STATES, PickpointEmulator
from shipdesk.carriers.pickpoint.statuses import STATES, status_of
from shipdesk.carriers.tests.helpers import control, fast_client, parcel, pdf_barcodes, pdf_text
from shipdesk.tracking.statuses import Status

FIXTURES = Path(__file__).resolve().parents[1] / "pickpoint" / "fixtures"


@pytest.fixture
def emulator() -> Iterator[Running]:
    running = start(PickpointEmulator())
    yield running
    running.stop()


@pytest.fixture
def adapter(emulator: Running) -> Adapter:
    Adapter._sessions.clear()
    return Adapter(
        credentials={"login": LOGIN, "password": PASSWORD, "ikn": IKN},
        base_url=f"{emulator.url}/api",
        http=fast_client(),
    )


def pp_parcel(reference: str, scenario: str = "delivered", point: str = "7701-001", **changes: Any) -> Any:
    base = parcel(reference)
    changes.setdefault(
        "recipient",
        Party(
            name=base.recipient.name,
            phone=base.recipient.phone,
            email=base.recipient.email,
            pickup_point=point,
        ),
    )
    return parcel(reference, service_code="", comment=f"scenario:{scenario}", **changes)


def test_every_emulated_state_is_mapped() -> None:
    assert set(STEP_STATES.values()) <= set(STATES)
    assert all(status_of(code)[0] is not None for code in STATES)
    assert status_of(999) == (None, "") and status_of("abc") == (None, "")


def test_public_tracking_fixture_parses() -> None:
    rows = json.loads((FIXTURES / "tracksending.json").read_text())
    event = Adapter.events_from_states("0000000000000", rows)[0]
    assert (event.status, event.substatus) == (Status.RETURNING, "storage_expired")
    assert event.occurred_at.isoformat() == "2014-01-16T00:28:00+03:00"


def test_public_createsending_fixture_parses() -> None:
    data = json.loads((FIXTURES / "createsending_ok.json").read_text())
    result = Adapter.read_created({14: parcel("ORDER-14")}, data)
    assert [(c.reference, c.tracking_number) for c in result.created] == [("ORDER-14", "200819647155")]


def test_public_request_fixture_shape_is_what_we_send() -> None:
    sample = json.loads((FIXTURES / "createsending_request.json").read_text())[0]
    ours = Adapter(credentials={"ikn": IKN}, base_url="http://127.0.0.1:9/api").sending(14, pp_parcel("A"))
    assert set(sample) == set(ours)
    assert set(sample["Invoice"]) <= set(ours["Invoice"])


def test_bad_dates_are_clear_errors() -> None:
    with pytest.raises(CarrierError):
        parse_pp_time("2014-01-16")


def test_login_failure_is_reported(emulator: Running) -> None:
    Adapter._sessions.clear()
    adapter = Adapter(
        credentials={"login": LOGIN, "password": "wrong", "ikn": IKN},
        base_url=f"{emulator.url}/api",
        http=fast_client(),
    )
    with pytest.raises(AuthenticationFailed) as caught:
        adapter.test_connection()
    assert "Неверный логин или пароль" in str(caught.value)


def test_session_is_reused_and_renewed(adapter: Adapter, emulator: Running) -> None:
    created = adapter.create_parcels([pp_parcel("PP-1")]).created[0]
    adapter.track([created.tracking_number])
    assert emulator.app.logins == 1
    control(emulator.url, "expire_sessions")
    adapter.track([created.tracking_number])
    assert emulator.app.logins == 2


def test_create_track_deliver(adapter: Adapter, emulator: Running) -> None:
    result = adapter.create_parcels([pp_parcel("PP-2")])
    assert not result.errors
    number = result.created[0].tracking_number
    control(emulator.url, "clock", advance_hours=50)
    statuses = [e.status for e in adapter.track([number, "404"]).events]
    assert statuses == [
        Status.INFO_RECEIVED,
        Status.ACCEPTED,
        Status.IN_TRANSIT,
        Status.ARRIVED_AT_PICKUP,
        Status.DELIVERED,
    ]
    assert "404" in adapter.track(["404"]).errors


def test_not_picked_up_goes_back(adapter: Adapter, emulator: Running) -> None:
    number = adapter.create_parcels([pp_parcel("PP-3", "not_picked_up")]).created[0].tracking_number
    control(emulator.url, "clock", advance_hours=24 * 14)
    events = adapter.track([number]).events
    assert any(e.raw_code == "112" for e in events) and events[-1].status == Status.RETURNED


def test_rejected_sendings_point_at_fields(adapter: Adapter) -> None:
    bad_phone = pp_parcel("PP-4", recipient=Party(name="Иван", phone="8916", pickup_point="7701-001"))
    no_point = pp_parcel("PP-5", point="")
    unknown_point = pp_parcel("PP-6", point="0000-000")
    result = adapter.create_parcels([bad_phone, no_point, unknown_point, pp_parcel("PP-7")])
    assert [c.reference for c in result.created] == ["PP-7"]
    assert {(e.reference, e.field) for e in result.errors} == {
        ("PP-4", "recipient.phone"),
        ("PP-5", "recipient.pickup_point"),
        ("PP-6", "recipient.pickup_point"),
    }


def test_labels_pdf_carries_the_barcodes(adapter: Adapter) -> None:
    created = adapter.create_parcels([pp_parcel("PP-8"), pp_parcel("PP-9")]).created
    document = adapter.labels([c.carrier_id for c in created])
    assert len(pdf_barcodes(document.content)) == 2
    assert created[0].tracking_number in pdf_text(document.content)


def test_label_error_text_is_an_error(adapter: Adapter) -> None:
    with pytest.raises(CarrierError, match="Error: Отправления не найдены"):
        adapter.labels(["000"])


def test_registry_as_batch(adapter: Adapter) -> None:
    created = adapter.create_parcels([pp_parcel("PP-10"), pp_parcel("PP-11")]).created
    batch = adapter.create_batch([c.carrier_id for c in created], shipping_date=date(2026, 11, 24))
    document = adapter.batch_documents(batch.batch_id)
    assert created[1].tracking_number in pdf_text(document.content)
    with pytest.raises(CarrierError, match="Уже в реестре"):
        adapter.create_batch([created[0].carrier_id], shipping_date=date(2026, 11, 24))


def test_postamats(adapter: Adapter) -> None:
    points = adapter.pickup_points(city="Москва")
    assert {p.code for p in points} == {"7701-001", "7701-002"}
    assert [p.is_locker for p in points] == [True, False]
    assert [p.code for p in adapter.pickup_points(index="644000")] == ["5501-003"]


def test_outage_and_malformed(adapter: Adapter, emulator: Running) -> None:
    adapter.test_connection()
    control(emulator.url, "fail", mode="outage", count=20)
    with pytest.raises(CarrierError) as caught:
        adapter.track(["1"])
    assert caught.value.transient
    control(emulator.url, "fail", mode="", count=0)
    control(emulator.url, "fail", mode="html", count=1)
    with pytest.raises(CarrierError, match="HTML"):
        adapter.create_parcels([pp_parcel("PP-12")])


def test_rate_limit_is_reported(adapter: Adapter, emulator: Running) -> None:
    from shipdesk.carriers.base import RateLimited

    adapter.test_connection()
    control(emulator.url, "fail", mode="rate_limit", count=1)
    with pytest.raises(RateLimited):
        adapter.create_parcels([pp_parcel("PP-13")])
    assert emulator.app.sendings == {}
    created = adapter.create_parcels([pp_parcel("PP-13")]).created  # and it works again after
    assert [c.reference for c in created] == ["PP-13"]
