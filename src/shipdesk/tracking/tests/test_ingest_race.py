"""Two workers ingesting the same parcel: what one stored while the other was reading is
counted once, and nothing of the rest is lost."""

from datetime import timedelta

import pytest

from shipdesk.tracking.models import TrackingEvent, TrackingState
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db


def test_an_event_another_worker_stored_meanwhile_is_counted_once(org):
    s = shipment(org)
    n = s.tracking_number
    accepted = event(n, 0, Status.ACCEPTED, "1.1")
    # the other worker stored the acceptance; this one read the states before it committed
    tracking_events_ingest(events=[accepted], now=T0 + timedelta(days=1))
    TrackingState.objects.filter(shipment=s).delete()
    raw = {"OperTypeID": "8", "OperationAddress": {"Description": "СЦ «Новосибирск»"}}
    moving = event(n, 1, Status.IN_TRANSIT, "8.3")
    res = tracking_events_ingest(
        events=[accepted, moving.__class__(**{**moving.__dict__, "raw": raw})],
        now=T0 + timedelta(days=2))
    assert (res.stored, res.duplicates) == (1, 1)
    assert TrackingEvent.objects.filter(shipment=s).count() == 2
    assert TrackingEvent.objects.get(shipment=s, raw_code="8.3").raw == raw
    state = TrackingState.objects.get(shipment=s)
    assert (state.status, state.accepted_at) == (Status.IN_TRANSIT, accepted.occurred_at)
