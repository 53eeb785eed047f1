from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from shipdesk.carriers.base import TrackingEvent
from shipdesk.shipments.models import SenderProfile, Shipment, State
from shipdesk.tracking.statuses import Status

_seq = itertools.count(1)
T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def shipment(org: Any, *, number: str | None = None, state: str = State.HANDED_OVER,
             carrier: str = "fake", account: Any = None, **kw: Any) -> Shipment:
    n = next(_seq)
    sender = SenderProfile.objects.filter(organization=org).first() or SenderProfile.objects.create(
        organization=org, name="Склад", index="101000", city="Москва")
    s = Shipment.objects.create(
        organization=org, order_number=f"T-{n}", state=state, carrier_code=carrier,
        carrier_account=account, tracking_number=number or f"8000000000{n:04d}", sender=sender,
        index=kw.pop("index", "630000"), city="Новосибирск", recipient_surname="Иванова",
        recipient_given_name="Анна",
        recipient_phone=kw.pop("recipient_phone", "+79161234567"), **kw)
    Shipment.objects.filter(pk=s.pk).update(created_at=T0 - timedelta(days=1))
    s.refresh_from_db()
    return s


def event(number: str, day: float, status: Status | None, code: str = "", *, sub: str = "",
          place: str = "Москва", index: str = "101000",
          base: datetime = T0) -> TrackingEvent:
    return TrackingEvent(tracking_number=number, occurred_at=base + timedelta(days=day),
                         raw_code=code or (status.value if status else "??"),
                         raw_text=f"событие {code}", status=status, substatus=sub,
                         location=place, office_index=index)
