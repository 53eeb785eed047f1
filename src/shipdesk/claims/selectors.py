"""Claims' read side: candidates with their evidence, claims with their history, the
effective rules in words, the control room's figures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from shipdesk.claims import rules
from shipdesk.claims.models import (
    Audit,
    Candidate,
    CandidateState,
    Claim,
    ClaimsSettings,
    ClaimState,
    Kind,
)
from shipdesk.core.errors import NotFound
from shipdesk.tenancy.services import Actor

ZERO = Decimal("0.00")


def candidates(*, actor: Actor, kind: str = "", carrier: str = "",
               state: str = CandidateState.OPEN, limit: int = 500) -> QuerySet[Candidate]:
    qs = Candidate.objects.filter(organization=actor.organization)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if carrier:
        qs = qs.filter(carrier_code=carrier)
    return qs.order_by("-at_stake", "id")[:limit]


def candidate_summary(*, actor: Actor) -> list[dict[str, Any]]:
    """Open candidates per reason: how many, money at stake."""
    rows: dict[str, dict[str, Any]] = {r["kind"]: dict(r) for r in Candidate.objects.filter(
        organization=actor.organization, state=CandidateState.OPEN).values("kind").annotate(
        n=Count("id"), stake=Sum("at_stake"))}
    return [{"kind": k, "label": label, "n": rows.get(k, {}).get("n", 0),
             "stake": Decimal(rows.get(k, {}).get("stake") or 0).quantize(ZERO)}
            for k, label in Kind.choices]


def claims(*, actor: Actor, state: str = "", kind: str = "", carrier: str = "",
           limit: int = 500) -> QuerySet[Claim]:
    qs = Claim.objects.filter(organization=actor.organization)
    if state:
        qs = qs.filter(state=state)
    if kind:
        qs = qs.filter(kind=kind)
    if carrier:
        qs = qs.filter(carrier_code=carrier)
    return qs.order_by("-id")[:limit]


def claim_get(*, actor: Actor, claim_id: int) -> Claim:
    claim = Claim.objects.filter(organization=actor.organization, pk=claim_id).select_related(
        "shipment").first()
    if claim is None:
        raise NotFound("Претензия не найдена")
    return claim


def claims_email(*, actor: Actor) -> str:
    """The carrier's claims address the organization set ("" when none yet)."""
    row = ClaimsSettings.objects.filter(organization=actor.organization).first()
    return row.claims_email if row else ""


def audits_recent(*, actor: Actor, limit: int = 50) -> QuerySet[Audit]:
    return Audit.objects.filter(organization=actor.organization).order_by("-id")[:limit]


def claim_ledger(*, actor: Actor, claim: Claim) -> dict[str, Decimal]:
    """The parcel's ledger balances (the compensation on 51 / 91.1 beside its COD)."""
    from shipdesk.finance import ledger

    return ledger.balances(actor.organization.pk, shipment_id=claim.shipment_id)


def rules_table(*, actor: Actor) -> list[dict[str, Any]]:
    """Every (carrier, kind) rule in force, with where it comes from and its words."""
    from shipdesk.carriers.models import CarrierAccount

    carriers = sorted(set(CarrierAccount.objects.filter(
        organization=actor.organization).values_list("carrier_code", flat=True))) or [
        "russian_post", "cdek"]
    effective = rules.rules_for(organization_id=actor.organization.pk, carrier_codes=carriers)
    return [{"carrier_code": c, "kind": k, "kind_label": Kind(k).label,
             "rule": effective[(k, c)], "words": rules.explain(effective[(k, c)])}
            for c in carriers for k in Kind.values]


# --- the control room ---------------------------------------------------------------------
@dataclass(frozen=True)
class ControlFilters:
    date_from: dt.date
    date_to: dt.date
    carrier: str = ""
    older_than_days: int = 30


def control_filters(params: Any) -> ControlFilters:
    today = timezone.localdate()

    def day(name: str, default: dt.date) -> dt.date:
        try:
            return dt.date.fromisoformat(str(params.get(name) or ""))
        except ValueError:
            return default

    start = day("date_from", (today - dt.timedelta(days=365)).replace(day=1))
    end = day("date_to", today)
    try:
        older = max(1, min(3650, int(params.get("older_than_days") or 30)))
    except ValueError:
        older = 30
    return ControlFilters(date_from=min(start, end), date_to=max(start, end),
                          carrier=str(params.get("carrier") or ""), older_than_days=older)


def _month(value: Any) -> str:
    return f"{value.year:04d}-{value.month:02d}"


def control_room(*, actor: Actor, f: ControlFilters) -> dict[str, Any]:
    """Money at risk (open candidates), claimed, recovered, by carrier and month; the claim
    success rate and the average days from filing to payment; the share of shipments older
    than N days that reached a final status."""
    org = actor.organization
    start = dt.datetime.combine(f.date_from, dt.time(0), tzinfo=dt.UTC)
    end = dt.datetime.combine(f.date_to + dt.timedelta(days=1), dt.time(0), tzinfo=dt.UTC)
    cands = Candidate.objects.filter(organization=org, state=CandidateState.OPEN)
    cls = Claim.objects.filter(organization=org, created_at__gte=start, created_at__lt=end)
    if f.carrier:
        cands, cls = cands.filter(carrier_code=f.carrier), cls.filter(carrier_code=f.carrier)
    table: dict[tuple[str, str], dict[str, Any]] = {}

    def row(carrier: str, month: str) -> dict[str, Any]:
        return table.setdefault((carrier, month), {
            "carrier_code": carrier, "month": month, "at_risk": ZERO, "claimed": ZERO,
            "recovered": ZERO, "claims": 0})

    for c in cands.values("carrier_code", "created_at", "at_stake"):
        row(c["carrier_code"], _month(c["created_at"]))["at_risk"] += c["at_stake"]
    decided = won = 0
    days_to_pay: list[int] = []
    for k in cls.values("carrier_code", "created_at", "claimed_amount", "paid_amount",
                        "state", "filed_at", "paid_on"):
        r = row(k["carrier_code"], _month(k["created_at"]))
        r["claimed"] += k["claimed_amount"]
        r["claims"] += 1
        r["recovered"] += k["paid_amount"] or ZERO
        if k["state"] in (ClaimState.APPROVED, ClaimState.PARTLY_APPROVED, ClaimState.PAID,
                          ClaimState.REJECTED):
            decided += 1
            won += k["state"] != ClaimState.REJECTED
        if k["paid_on"] and k["filed_at"]:
            days_to_pay.append((k["paid_on"] - k["filed_at"].date()).days)
    rows = sorted(table.values(), key=lambda r: (r["month"], r["carrier_code"]))
    totals = {k: sum((r[k] for r in rows), ZERO) for k in ("at_risk", "claimed", "recovered")}
    return {"rows": rows, "totals": totals,
            "success_rate": round(100 * won / decided, 1) if decided else None,
            "decided": decided,
            "avg_days_to_payment": round(sum(days_to_pay) / len(days_to_pay), 1)
            if days_to_pay else None,
            "final_share": final_share(actor=actor, f=f)}


def final_share(*, actor: Actor, f: ControlFilters) -> dict[str, Any]:
    """Of the shipments handed over more than N days ago (within the period), the share whose
    tracking reached a final status (the "brought to a final status" promise measured)."""
    from shipdesk.shipments.models import Shipment

    cutoff = timezone.now() - dt.timedelta(days=f.older_than_days)
    start = dt.datetime.combine(f.date_from, dt.time(0), tzinfo=dt.UTC)
    qs = Shipment.objects.filter(organization=actor.organization, created_at__gte=start,
                                 created_at__lt=cutoff, tracking_number__isnull=False
                                 ).exclude(state__in=("draft", "cancelled"))
    if f.carrier:
        qs = qs.filter(carrier_code=f.carrier)
    got = qs.aggregate(n=Count("id"), final=Count("id", filter=Q(tracking_state__final=True)))
    n = got["n"] or 0
    return {"n": n, "final": got["final"] or 0,
            "share": round(100 * (got["final"] or 0) / n, 1) if n else None}
