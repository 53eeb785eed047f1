"""Generated parcels with known answers: who was created when, where to, with which
outcome, and whose recipient was told it waits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection

from shipdesk.notifications.models import Message, MessageStatus
from shipdesk.shipments.models import Shipment
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import event


def track(shipments: list[Any], outcome: str, *, base: datetime, transit_days: int = 3,
          notified: bool = False) -> None:
    """Accepted at ``base``, arrived at the pickup point ``transit_days`` later, then
    ``outcome`` ("delivered", "returned", "" = still waiting); optionally told."""
    events = []
    for s in shipments:
        n = s.tracking_number
        events += [event(n, 0, Status.ACCEPTED, "1.1", base=base),
                   event(n, transit_days, Status.ARRIVED_AT_PICKUP, "8.2", base=base,
                         place="Омск 644010", index="644010")]
        if notified:
            Message.objects.create(organization_id=s.organization_id, shipment=s,
                                   rule="arrived", channel="sms", status=MessageStatus.SENT)
    tracking_events_ingest(events=events, now=base + timedelta(days=30))
    later = []
    for s in shipments:
        n = s.tracking_number
        if outcome == "delivered":
            later.append(event(n, transit_days + 2, Status.DELIVERED, "2.1", base=base))
        elif outcome == "returned":
            later += [event(n, transit_days + 30, Status.RETURNING, "3.1",
                            sub="storage_expired", base=base),
                      event(n, transit_days + 35, Status.DELIVERED, "2.2", sub="to_sender",
                            base=base)]
    if later:
        tracking_events_ingest(events=later, now=base + timedelta(days=60))


def sql(query: str, *params: Any) -> Any:
    """An independent count, straight from the shipments table."""
    with connection.cursor() as cur:
        cur.execute(query.replace("{s}", Shipment._meta.db_table), params)
        return cur.fetchone()[0]
