"""Demo data: the rules run over the demo shipments, one claim drafted from what they found
(or from a demo lost parcel), and a small finished audit, so that every claims page has
something to show on a fresh installation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.utils import timezone


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
    AuditItem.objects.bulk_create([
        AuditItem(audit=audit, row_number=1, tracking_number=cand.tracking_number,
                  carrier_code=cand.carrier_code, verdict=Verdict.LOST, status="lost",
                  at_stake=cand.at_stake),
        AuditItem(audit=audit, row_number=2, tracking_number="ABC", verdict=Verdict.NOT_CHECKED,
                  note="формат номера не похож ни на одного перевозчика")])
