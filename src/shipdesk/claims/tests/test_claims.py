"""A claim's life on a moving clock: made from a candidate within the filing window,
reminded of before each deadline (due work), filed, answered, paid and posted to the ledger;
refused past the window with the day it closed, and twice for the same parcel and reason."""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal
from typing import Any

import pytest
import time_machine

from shipdesk.claims import services
from shipdesk.claims.models import Candidate, ClaimReminder
from shipdesk.core import duework
from shipdesk.core.errors import Conflict, InvalidTransition, ValidationFailed

POSTED = dt.datetime(2026, 1, 10, 9, 0, tzinfo=dt.UTC)


def _lost_parcel(org: Any, carrier: str = "russian_post", number: str = "80000000000017") -> Any:
    from shipdesk.shipments.models import Shipment, State
    from shipdesk.tracking.models import TrackingState

    s = Shipment.objects.create(organization=org, order_number=f"L-{number}",
                                tracking_number=number, carrier_code=carrier,
                                state=State.HANDED_OVER, declared_value=Decimal("2000.00"),
                                shipping_cost=Decimal("350.00"), index="630000",
                                recipient_surname="Петров")
    TrackingState.objects.create(organization=org, shipment=s, public_token=secrets.token_hex(8),
                                 carrier_code=carrier, status="lost", status_at=POSTED
                                 + dt.timedelta(days=20), final=True, accepted_at=POSTED,
                                 is_lost=True)
    return s


def _sweep(now: dt.datetime) -> list[ClaimReminder]:
    """The due-work sweep at ``now`` (its task runs at once, as the worker would)."""
    from django.db import transaction

    before = set(ClaimReminder.objects.values_list("pk", flat=True))
    with transaction.atomic():
        claimed = duework.claim_due(duework.registered()["claims.reminders"], now=now, limit=100)
    services.reminders_send(claim_ids=claimed, now=now)
    return list(ClaimReminder.objects.exclude(pk__in=before))


@pytest.mark.django_db
def test_claim_deadlines_and_reminders_on_a_moving_clock(actor: Any, org: Any) -> None:
    from shipdesk.finance import ledger

    s = _lost_parcel(org)
    with time_machine.travel(POSTED + dt.timedelta(days=25), tick=False) as clock:
        services.candidates_detect(actor=actor)
        cand = Candidate.objects.get(organization=org, shipment=s)
        assert cand.kind == "lost" and cand.at_stake == Decimal("2350.00")
        claim = services.claim_create(actor=actor, shipment_id=s.pk, kind="lost")
        # Russian Post domestic: 180 days from posting to file
        assert claim.file_by == dt.date(2026, 7, 9) and claim.state == "draft"
        assert claim.claimed_amount == Decimal("2350.00")
        assert any("перевозчик сообщил" in w for w in claim.evidence)
        # the same parcel and reason again: refused
        with pytest.raises(Conflict, match="уже есть претензия"):
            services.claim_create(actor=actor, shipment_id=s.pk, kind="lost")
        # nothing due yet; 7 days before the window closes, the reminder
        assert _sweep(dt.datetime.now(dt.UTC)) == []
        clock.move_to(dt.datetime(2026, 7, 2, 7, 0, tzinfo=dt.UTC))
        sent = _sweep(dt.datetime.now(dt.UTC))
        assert [(r.deadline, r.due_on) for r in sent] == [("file", dt.date(2026, 7, 9))]
        assert _sweep(dt.datetime.now(dt.UTC)) == []  # once
        # filed: the answer is due in 30 days, reminded 7 days before
        claim = services.claim_file(actor=actor, claim_id=claim.pk, reference="RP-77")
        assert claim.answer_by == dt.date(2026, 8, 1)
        clock.move_to(dt.datetime(2026, 7, 26, 7, 0, tzinfo=dt.UTC))
        assert [(r.deadline, r.due_on) for r in _sweep(dt.datetime.now(dt.UTC))] == [
            ("answer", dt.date(2026, 8, 1))]
        # the carrier extends its term: a new deadline, a new reminder
        claim = services.claim_extend(actor=actor, claim_id=claim.pk)
        assert claim.answer_by == dt.date(2026, 8, 31)
        clock.move_to(dt.datetime(2026, 8, 25, 7, 0, tzinfo=dt.UTC))
        assert [(r.deadline, r.due_on) for r in _sweep(dt.datetime.now(dt.UTC))] == [
            ("answer", dt.date(2026, 8, 31))]
        # partly approved, then paid: the money is on the bank account, as other income
        with pytest.raises(InvalidTransition):
            services.claim_pay(actor=actor, claim_id=claim.pk, amount=Decimal("1"),
                               paid_on=dt.date(2026, 8, 26))
        claim = services.claim_decide(actor=actor, claim_id=claim.pk,
                                      approved_amount=Decimal("2000.00"))
        assert claim.state == "partly_approved"
        claim = services.claim_pay(actor=actor, claim_id=claim.pk, amount=Decimal("2000.00"),
                                   paid_on=dt.date(2026, 9, 3))
        assert claim.state == "paid" and claim.ledger_entry
        assert ledger.balances(org.pk, shipment_id=s.pk) == {
            "51": Decimal("2000.00"), "91.1": Decimal("-2000.00")}
        assert [e.to_state for e in claim.events.order_by("id")] == [
            "draft", "filed", "filed", "partly_approved", "paid"]


@pytest.mark.django_db
def test_claim_past_its_filing_window_is_refused_with_the_day_it_closed(actor: Any,
                                                                      org: Any) -> None:
    s = _lost_parcel(org, carrier="cdek", number="1234567890")
    with time_machine.travel(POSTED + dt.timedelta(days=200), tick=False), \
            pytest.raises(ValidationFailed) as refused:
        services.claim_create(actor=actor, shipment_id=s.pk, kind="lost")
    assert "Срок подачи претензии истёк 09.07.2026" in str(refused.value.detail)


@pytest.mark.django_db
def test_claims_api_answers_conflict_and_the_closed_window(api: Any, org: Any) -> None:
    s = _lost_parcel(org)
    with time_machine.travel(POSTED + dt.timedelta(days=30), tick=False):
        made = api.post("/api/v1/claims/claims", {"shipment_id": s.pk, "kind": "lost"},
                        content_type="application/json")
        assert made.status_code == 201, made.content
        assert made.json()["file_by"] == "2026-07-09"
        again = api.post("/api/v1/claims/claims", {"shipment_id": s.pk, "kind": "lost"},
                         content_type="application/json")
        assert again.status_code == 409 and "уже есть претензия" in again.json()["detail"]
        rules = api.get("/api/v1/claims/rules").json()
        stuck = next(r for r in rules if r["kind"] == "stuck" and r["carrier_code"] == "cdek")
        assert "контрольный срок" in stuck["words"] and stuck["answer_days"] == 30
    with time_machine.travel(POSTED + dt.timedelta(days=181), tick=False):
        late = api.post("/api/v1/claims/claims", {"shipment_id": s.pk, "kind": "damaged"},
                        content_type="application/json")
        assert late.status_code == 422 and "09.07.2026" in late.json()["detail"]
