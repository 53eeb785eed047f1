"""Demo data: the rules run over the demo shipments, one claim drafted from what they found
(or from a demo lost parcel), a small finished audit, and one parcel that stopped moving
weeks ago (its tracking history older than the stuck threshold) for the next check to find,
so that every claims page has something to show on a fresh installation."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.utils import timezone

log = logging.getLogger(__name__)


def demo_load(organization: Any) -> None:
    from shipdesk.claims import detection
    from shipdesk.claims.models import (
        Audit,
        AuditItem,
        AuditState,
        Candidate,
        CandidateState,
        Claim,
        Verdict,
    )
    from shipdesk.claims.services import evidence_words
    from shipdesk.shipments.models import Shipment, State

    now = timezone.now()
    detection.detect(organization_id=organization.pk, now=now)
    cand = Candidate.objects.filter(organization=organization).order_by("-at_stake").first()
    if cand is None:
        shipment = Shipment.objects.create(
            organization=organization, order_number="CLAIM-DEMO-1",
            tracking_number="80000000000017", carrier_code="russian_post",
            state=State.LOST, declared_value=Decimal("2500.00"),
            shipping_cost=Decimal("350.00"), index="630000", recipient_surname="Демо")
        cand = Candidate.objects.create(
            organization=organization, shipment=shipment, kind="lost",
            carrier_code="russian_post", tracking_number=shipment.tracking_number or "",
            since=now - dt.timedelta(days=3), event_code="lost",
            at_stake=Decimal("2850.00"))
    Claim.objects.create(
        organization=organization, shipment_id=cand.shipment_id, kind=cand.kind,
        carrier_code=cand.carrier_code, tracking_number=cand.tracking_number,
        posted_at=now - dt.timedelta(days=20),
        file_by=(now + dt.timedelta(days=160)).date(), claimed_amount=cand.at_stake,
        evidence=evidence_words(cand))
    cand.state = CandidateState.CLAIMED
    cand.save(update_fields=["state"])
    audit = Audit.objects.create(organization=organization, source="upload",
                                 filename="demo.csv", state=AuditState.DONE, total=2,
                                 started_at=now, finished_at=now)
    demo_stuck_parcel(organization, now=now)
    AuditItem.objects.bulk_create([
        AuditItem(audit=audit, row_number=1, tracking_number=cand.tracking_number,
                  carrier_code=cand.carrier_code, verdict=Verdict.LOST, status="lost",
                  at_stake=cand.at_stake),
        AuditItem(audit=audit, row_number=2, tracking_number="ABC", verdict=Verdict.NOT_CHECKED,
                  note="формат номера не похож ни на одного перевозчика")])


STUCK_ORDER = "CLAIM-DEMO-STUCK"


def demo_stuck_parcel(organization: Any, *, now: dt.datetime) -> Any:
    """A Russian Post parcel accepted 40 days ago that has not moved since its sorting 38
    days ago: its events go through tracking's ingest like any carrier's answer, so the
    stuck rule finds it at the organization's first check (the sweep's, or «Проверить
    сейчас»). It belongs to no carrier account: nobody polls it. Made after the demo's own
    detection, so it stays a candidate for the operator."""
    from shipdesk.carriers.base import TrackingEvent
    from shipdesk.carriers.russian_post import statuses
    from shipdesk.numbering.validation import rp14_check_digit
    from shipdesk.shipments.models import Shipment, State
    from shipdesk.tracking.services import tracking_events_ingest

    first13 = f"80099{organization.pk % 10**8:08d}"
    number = f"{first13}{rp14_check_digit(first13)}"
    shipment, created = Shipment.objects.get_or_create(
        organization=organization, order_number=STUCK_ORDER, defaults=dict(
            tracking_number=number, carrier_code="russian_post", service_code="",
            state=State.HANDED_OVER, declared_value=Decimal("4990.00"),
            shipping_cost=Decimal("412.00"), index="630099", city="Новосибирск",
            street="ул. Ленина", house="12", recipient_surname="Кузнецова",
            recipient_given_name="Мария", weight_g=1200))
    if not created:
        return shipment

    def event(days_ago: int, oper: tuple[int, int], place: str, office: str) -> TrackingEvent:
        status, sub = statuses.map_operation(*oper) or (None, "")
        return TrackingEvent(tracking_number=number, occurred_at=now - dt.timedelta(days=days_ago),
                             raw_code=statuses.raw_code(*oper),
                             raw_text=statuses.operation_name(*oper), status=status,
                             substatus=sub, location=place, office_index=office)

    # the parcel was made before its journey (tracking refuses events older than the parcel)
    Shipment.objects.filter(pk=shipment.pk).update(created_at=now - dt.timedelta(days=41))
    result = tracking_events_ingest(events=[event(40, (1, 1), "Москва", "101000"),
                                   event(38, (8, 0), "Москва", "140961")],
                           source="demo", now=now)
    if result.stored != 2:
        log.warning("demo: the stuck parcel's events were not taken: %s", result)
    return shipment
