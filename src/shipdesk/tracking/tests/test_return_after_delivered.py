"""A return the carrier reports after "delivered" wins (issue 22, 1): the parcel reads
"returning" (the contradiction kept in "why this status"), a later delivery to the sender
makes it returned, and the shipment's back-office state follows. Real carrier codes go
through the carriers' own maps; the clock moves with the history."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shipdesk.carriers.cdek.statuses import status_of as cdek_status
from shipdesk.carriers.russian_post.statuses import map_operation
from shipdesk.shipments.models import State
from shipdesk.tracking import engine
from shipdesk.tracking.models import ShipmentStatusChange, TrackingState
from shipdesk.tracking.selectors import shipment_timeline
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db


def rp(number: str, day: float, oper: str) -> object:
    t, a = (int(x) for x in oper.split("/"))
    mapped = map_operation(t, a)
    assert mapped is not None, oper
    return event(number, day, mapped[0], f"{t}.{a}", sub=mapped[1])


def cdek(number: str, day: float, code: str, reason: str = "") -> object:
    status, sub = cdek_status(code, reason)
    assert status is not None, code
    return event(number, day, status, code, sub=sub)


def _ingest(events: list[object], day: float) -> None:
    tracking_events_ingest(events=events, now=T0 + timedelta(days=day))  # type: ignore[arg-type]


@pytest.mark.parametrize("return_op", ["3/4", "3/1"])
def test_russian_post_return_after_delivered_reads_returning_then_returned(org, actor,
                                                                           return_op):
    s = shipment(org)
    n = s.tracking_number
    _ingest([rp(n, 0, "1/1"), rp(n, 3, "8/2"), rp(n, 5, "2/1")], day=5.5)
    s.refresh_from_db()
    assert (s.tracking_status, s.state) == (Status.DELIVERED, State.DELIVERED)

    _ingest([rp(n, 6, return_op)], day=6.5)  # the carrier takes it back after all
    s.refresh_from_db()
    assert s.tracking_status == Status.RETURNING
    # the back-office state cannot step back to "handed over": it stays until the outcome
    assert s.state == State.DELIVERED
    tl = shipment_timeline(actor=actor, shipment_id=s.pk, now=T0 + timedelta(days=6.5))
    assert tl.verdict.status is Status.RETURNING
    assert tl.status_text == "Возвращается отправителю"
    assert any("противоречие" in line and "Вручено" in line for line in tl.why), tl.why
    assert engine.RETURNED_FLAG in tl.verdict.flags

    _ingest([rp(n, 12, "2/2")], day=12.5)  # delivered to the sender
    s.refresh_from_db()
    assert (s.tracking_status, s.state) == (Status.RETURNED, State.RETURNED)
    changes = list(ShipmentStatusChange.objects.filter(shipment=s).order_by("pk")
                   .values_list("status", flat=True))
    assert changes == [Status.DELIVERED, Status.RETURNING, Status.RETURNED]
    assert TrackingState.objects.get(shipment=s).final


def test_plain_delivery_after_the_late_return_is_the_one_to_the_sender(org):
    s = shipment(org)
    n = s.tracking_number
    _ingest([rp(n, 0, "1/1"), rp(n, 3, "8/2"), rp(n, 5, "2/1"), rp(n, 6, "3/4")], day=6.5)
    _ingest([rp(n, 8, "8/2"), rp(n, 9, "2/1")], day=9.5)
    s.refresh_from_db()
    assert (s.tracking_status, s.state) == (Status.RETURNED, State.RETURNED)


def test_cdek_not_delivered_after_delivered_reads_returning_then_returned(org):
    s = shipment(org, carrier="cdek", number="1234567890")
    n = s.tracking_number
    _ingest([cdek(n, 0, "RECEIVED_AT_SHIPMENT_WAREHOUSE"), cdek(n, 2, "ACCEPTED_AT_PICK_UP_POINT"),
             cdek(n, 4, "DELIVERED")], day=4.5)
    _ingest([cdek(n, 5, "NOT_DELIVERED", "11"), cdek(n, 6, "SENT_TO_SENDER_CITY")], day=6.5)
    s.refresh_from_db()
    assert s.tracking_status == Status.RETURNING
    _ingest([cdek(n, 9, "DELIVERED")], day=9.5)  # handed to the shop
    s.refresh_from_db()
    assert (s.tracking_status, s.state) == (Status.RETURNED, State.RETURNED)


def test_an_older_return_told_late_never_makes_a_delivered_parcel_returning(org):
    # the rule is about *later* evidence: a refusal from before the delivery, told late,
    # is ordered before it (the engine's old rule: a delivery after a refusal is one back to
    # the sender), never "returning" again
    s = shipment(org)
    n = s.tracking_number
    _ingest([rp(n, 0, "1/1"), rp(n, 3, "8/2"), rp(n, 5, "2/1")], day=5.5)
    _ingest([rp(n, 4, "3/4")], day=7)
    s.refresh_from_db()
    assert (s.tracking_status, s.state) == (Status.RETURNED, State.RETURNED)
