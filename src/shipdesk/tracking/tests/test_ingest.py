from datetime import timedelta, timezone

import pytest

from shipdesk.shipments.models import Shipment, State
from shipdesk.tracking.models import (
    RejectedEvent,
    ShipmentStatusChange,
    TrackingEvent,
    TrackingState,
)
from shipdesk.tracking.selectors import shipment_tracking_summary
from shipdesk.tracking.services import tracking_events_ingest, tracking_recheck
from shipdesk.tracking.statuses import Status, Substatus
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=10)


def test_ingest_stores_derives_and_writes_the_shipment(org):
    s = shipment(org)
    n = s.tracking_number
    res = tracking_events_ingest(events=[
        event(n, 0, Status.ACCEPTED, "1.1"), event(n, 1, Status.IN_TRANSIT, "8.0"),
        event(n, 3, Status.ARRIVED_AT_PICKUP, "8.2", place="Новосибирск 630000", index="630000"),
    ], now=NOW)
    assert (res.stored, res.duplicates, res.status_changes) == (3, 0, 1)
    s.refresh_from_db()
    assert s.tracking_status == Status.ARRIVED_AT_PICKUP
    state = TrackingState.objects.get(shipment=s)
    assert state.arrived_at_pickup_at == T0 + timedelta(days=3)
    assert state.storage_deadline is not None and state.next_poll_at > NOW
    assert len(state.public_token) >= 30
    change = ShipmentStatusChange.objects.get(shipment=s)
    assert (change.previous_status, change.status) == ("", Status.ARRIVED_AT_PICKUP)


def test_same_events_twice_are_stored_once_and_change_nothing(org):
    s = shipment(org)
    batch = [event(s.tracking_number, 0, Status.ACCEPTED), event(s.tracking_number, 2,
                                                                 Status.DELIVERED)]
    tracking_events_ingest(events=batch, now=NOW)
    for _ in range(20):  # a webhook replayed many times
        again = tracking_events_ingest(events=batch + batch, now=NOW)
        assert again.stored == 0 and again.duplicates == 4 and again.status_changes == 0
    assert TrackingEvent.objects.filter(shipment=s).count() == 2
    assert ShipmentStatusChange.objects.filter(shipment=s).count() == 1
    s.refresh_from_db()
    assert s.state == State.DELIVERED


def test_late_older_event_in_a_later_batch_does_not_undo_delivery(org):
    s = shipment(org)
    n = s.tracking_number
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED), event(n, 4, Status.DELIVERED)],
                           now=NOW)
    res = tracking_events_ingest(events=[event(n, 2, Status.IN_TRANSIT, "8.3")], now=NOW)
    assert res.stored == 1 and res.status_changes == 0
    s.refresh_from_db()
    assert s.tracking_status == Status.DELIVERED


def test_bad_events_are_rejected_with_reasons_not_raised(org, other_org):
    mine, foreign = shipment(org), shipment(other_org)

    class Account:
        organization_id = org.pk

    from datetime import datetime
    naive = event(mine.tracking_number, 1, Status.IN_TRANSIT)
    naive = naive.__class__(**{**naive.__dict__, "occurred_at": datetime(2026, 11, 3, 10)})
    res = tracking_events_ingest(events=[
        event("00000000000000", 1, Status.ACCEPTED),  # unknown number
        # someone else's parcel: unknown within the account's organization
        event(foreign.tracking_number, 1, Status.ACCEPTED),
        event(mine.tracking_number, 30, Status.DELIVERED),  # in the future
        event(mine.tracking_number, -40, Status.ACCEPTED),  # before the shipment existed
        naive,
        event(mine.tracking_number, 1, None, "99.99"),  # unknown code: stored, flagged
    ], account=Account(), now=NOW)
    assert res.rejected == {"unknown_number": 2, "future": 1, "before_creation": 1,
                            "naive_time": 1}
    assert res.stored == 1 and res.unknown_codes == 1
    assert RejectedEvent.objects.count() == 5
    stored = TrackingEvent.objects.get(shipment=mine)
    assert stored.unknown_code and stored.raw_code == "99.99" and stored.status == ""
    assert TrackingState.objects.get(shipment=mine).has_unknown_codes
    assert not TrackingEvent.objects.filter(shipment=foreign).exists()


def test_answer_about_a_number_not_asked_is_rejected(org):
    a, b = shipment(org), shipment(org)
    res = tracking_events_ingest(events=[event(a.tracking_number, 1, Status.ACCEPTED),
                                         event(b.tracking_number, 1, Status.ACCEPTED)],
                                 requested=[a.tracking_number], now=NOW)
    assert res.rejected == {"not_requested": 1} and res.stored == 1


def test_time_zone_of_the_carrier_is_kept(org):
    s = shipment(org)
    e = event(s.tracking_number, 1, Status.ACCEPTED)
    local = e.__class__(**{**e.__dict__,
                           "occurred_at": e.occurred_at.astimezone(timezone(timedelta(hours=7)))})
    tracking_events_ingest(events=[local], now=NOW)
    row = TrackingEvent.objects.get(shipment=s)
    assert row.utc_offset_minutes == 420 and row.occurred_at == e.occurred_at


def test_carriers_raw_payload_is_kept_beside_the_event(org):
    s = shipment(org)
    e = event(s.tracking_number, 1, Status.ACCEPTED)
    raw = {"OperTypeID": "1", "OperationAddress": {"Description": "Москва\t\"Главпочтамт\""},
           "Mass": 1250}
    tracking_events_ingest(events=[e.__class__(**{**e.__dict__, "raw": raw})], now=NOW)
    assert TrackingEvent.objects.get(shipment=s).raw == raw


def test_return_flow_closes_as_returned(org):
    s = shipment(org)
    n = s.tracking_number
    tracking_events_ingest(events=[
        event(n, 0, Status.ACCEPTED), event(n, 2, Status.ARRIVED_AT_PICKUP),
        event(n, 5, Status.RETURNING, "3.1", sub=Substatus.STORAGE_EXPIRED),
        event(n, 8, Status.DELIVERED, "2.1")], now=NOW)
    s.refresh_from_db()
    assert (s.tracking_status, s.state) == (Status.RETURNED, State.RETURNED)
    assert TrackingState.objects.get(shipment=s).is_returned


def test_stuck_flag_by_recheck_without_new_events(org):
    s = shipment(org)
    tracking_events_ingest(events=[event(s.tracking_number, 0, Status.ACCEPTED),
                                   event(s.tracking_number, 1, Status.IN_TRANSIT)],
                           now=NOW - timedelta(days=8))
    assert not TrackingState.objects.get(shipment=s).is_stuck
    tracking_recheck(now=NOW)
    assert TrackingState.objects.get(shipment=s).is_stuck


def test_summary_for_notifications(org):
    from shipdesk.tracking.models import PickupOffice

    PickupOffice.objects.create(carrier_code="fake", code="630099", address="ул. Ленина, 1",
                                work_hours="пн–пт 8–20")
    s = shipment(org)
    n = s.tracking_number
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED),
                                   event(n, 3, Status.ARRIVED_AT_PICKUP, index="630099")], now=NOW)
    summary = shipment_tracking_summary(shipment_ids=[s.pk, 999999])
    assert list(summary) == [s.pk]
    got = summary[s.pk]
    assert got.status == Status.ARRIVED_AT_PICKUP and got.pickup_office_index == "630099"
    assert got.pickup_office_address == "ул. Ленина, 1" and got.pickup_office_hours == "пн–пт 8–20"
    assert got.storage_deadline is not None and got.arrived_at_pickup_at == T0 + timedelta(days=3)


def test_shipments_outside_tracking_are_untouched(org):
    s = shipment(org)
    other = shipment(org)
    tracking_events_ingest(events=[event(s.tracking_number, 0, Status.ACCEPTED)], now=NOW)
    assert Shipment.objects.get(pk=other.pk).tracking_status == ""
