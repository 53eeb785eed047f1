from datetime import UTC, datetime

import pytest

from shipdesk.core.errors import InvalidTransition, NotFound
from shipdesk.shipments.models import Shipment, ShipmentEvent, State
from shipdesk.shipments.services import TrackingUpdate, shipments_apply_tracking, shipments_transition

pytestmark = pytest.mark.django_db


def _shipment(org, number="A-1", state=State.DRAFT):
    return Shipment.objects.create(organization=org, order_number=number, state=state)


def test_transition_follows_the_table_and_writes_history(actor, org):
    s = _shipment(org)
    shipments_transition(actor=actor, shipment_ids=[s.pk], to_state=State.READY, reason="ok")
    s.refresh_from_db()
    assert s.state == State.READY
    event = ShipmentEvent.objects.get(shipment=s)
    assert (event.from_state, event.to_state, event.user) == (State.DRAFT, State.READY, actor.user)


def test_forbidden_transition_changes_nothing(actor, org):
    a, b = _shipment(org, "A"), _shipment(org, "B", State.CANCELLED)
    with pytest.raises(InvalidTransition):
        shipments_transition(actor=actor, shipment_ids=[a.pk, b.pk], to_state=State.READY)
    assert Shipment.objects.get(pk=a.pk).state == State.DRAFT
    assert not ShipmentEvent.objects.exists()


def test_other_organizations_shipment_is_not_found(actor, other_org):
    foreign = _shipment(other_org)
    with pytest.raises(NotFound):
        shipments_transition(actor=actor, shipment_ids=[foreign.pk], to_state=State.READY)


def test_delivered_status_closes_a_handed_over_shipment(org):
    s = _shipment(org, state=State.IN_BATCH)
    at = datetime(2026, 11, 1, 10, tzinfo=UTC)
    changed = shipments_apply_tracking(updates=[TrackingUpdate(s.pk, "delivered", "", at)])
    s.refresh_from_db()
    assert changed == 1 and s.state == State.DELIVERED and s.tracking_status == "delivered"
    # applying the same verdict again is a no-op
    assert shipments_apply_tracking(updates=[TrackingUpdate(s.pk, "delivered", "", at)]) == 0
    assert ShipmentEvent.objects.filter(shipment=s).count() == 1


def test_many_verdicts_land_on_their_own_shipments(org):
    shipments = [_shipment(org, f"M-{n}", State.HANDED_OVER) for n in range(30)]
    base = datetime(2026, 11, 1, 10, tzinfo=UTC)
    verdicts = {s.pk: ("delivered" if n % 3 == 0 else "in_transit", f"sub-{n}",
                       base.replace(minute=n)) for n, s in enumerate(shipments)}
    changed = shipments_apply_tracking(
        updates=[TrackingUpdate(pk, *v) for pk, v in verdicts.items()], chunk_size=7)
    assert changed == 10  # every third one was delivered
    for shipment in Shipment.objects.filter(pk__in=verdicts):
        status, substatus, at = verdicts[shipment.pk]
        assert (shipment.tracking_status, shipment.tracking_substatus, shipment.tracking_status_at) == (
            status, substatus, at)
        assert shipment.state == (State.DELIVERED if status == "delivered" else State.HANDED_OVER)
