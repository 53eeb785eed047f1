from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.utils import timezone

from shipdesk.analytics.services import analytics_rebuild
from shipdesk.analytics.tests.data import track
from shipdesk.shipments.models import SenderProfile, Shipment
from shipdesk.tracking.tests.factories import shipment

DAY0 = timezone.now().date() - timedelta(days=9)


def _at(day: date) -> datetime:
    return datetime.combine(day, time(10), tzinfo=UTC)


@pytest.fixture
def generated(org: Any, other_org: Any) -> dict[str, Any]:
    """Known answers: over three days, 12 parcels to Omsk (6 delivered, 2 returned), 5 to
    Moscow (2 delivered), 3 of another kind with a formula-like name; another
    organization's 7 parcels that must never count. The carrier's control term is 2
    days: Omsk's 3 days in transit are late, Moscow's 1 day on time."""
    from shipdesk.tracking.models import TrackingRule

    TrackingRule.objects.create(carrier_code="fake", control_days=2)

    def make(o: Any, count: int, day: date, index: str, kind: str = "POSTAL_PARCEL",
             cost: str = "250.00") -> list[Shipment]:
        made = [shipment(o, index=index, service_code=kind, shipping_cost=cost)
                for _ in range(count)]
        Shipment.objects.filter(pk__in=[s.pk for s in made]).update(created_at=_at(day))
        for s in made:
            s.refresh_from_db()
        return made

    omsk = make(org, 12, DAY0, "644010")
    moscow = make(org, 5, DAY0 + timedelta(days=1), "101000", cost="100.50")
    odd = make(org, 3, DAY0 + timedelta(days=2), "630000", kind="=HYPERLINK(1)")
    foreign = make(other_org, 7, DAY0, "644010")
    # the parcels made above were written around the intake: counted by a rebuild; their
    # tracking then through the ingest's increments (which know the control term at
    # arrival, when a rebuild from the final states no longer does)
    analytics_rebuild()
    base = _at(DAY0) + timedelta(hours=2)
    track(omsk[:6], "delivered", base=base, transit_days=3)
    track(omsk[6:8], "returned", base=base, transit_days=3)
    track(moscow[:2], "delivered", base=base + timedelta(days=1), transit_days=1)
    track(foreign, "delivered", base=base)
    sender = SenderProfile.objects.filter(organization=org).first()
    return {"omsk": omsk, "moscow": moscow, "odd": odd, "sender": sender,
            "params": {"date_from": DAY0.isoformat(),
                       "date_to": (DAY0 + timedelta(days=2)).isoformat()}}
