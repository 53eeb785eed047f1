"""The claims REST API (/api/v1/claims/): candidates and the rules that find them, claims
along their states, the claim document (PDF) and its e-mail, first-day audits, the control
room's figures. Thin: the services and selectors do the work."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from shipdesk.claims import audits, letters, rules, selectors, services
from shipdesk.core.apitypes import DbId, PositiveSmallInt
from shipdesk.core.typing import ApiRequest

router = Router(tags=["claims"])


class CandidateOut(Schema):
    id: int
    shipment_id: int
    kind: str
    state: str
    carrier_code: str
    tracking_number: str
    at_stake: Decimal
    since: dt.datetime | None
    term_ended: dt.datetime | None
    evidence: list[str]


def _candidate(c: Any) -> dict[str, Any]:
    return {"id": c.pk, "shipment_id": c.shipment_id, "kind": c.kind, "state": c.state,
            "carrier_code": c.carrier_code, "tracking_number": c.tracking_number,
            "at_stake": c.at_stake, "since": c.since, "term_ended": c.term_ended,
            "evidence": services.evidence_words(c)}


@router.get("/candidates", response=list[CandidateOut])
def candidate_list(request: ApiRequest, kind: str = "", carrier: str = "",
                   state: str = "open") -> list[dict[str, Any]]:
    """The parcels the rules found, most money first, each with its evidence in words."""
    return [_candidate(c) for c in selectors.candidates(actor=request.auth, kind=kind,
                                                         carrier=carrier, state=state)]


@router.post("/detect", response=dict[str, int])
def detect(request: ApiRequest) -> dict[str, int]:
    """Runs every rule now; answers how many open candidates each reason has."""
    return services.candidates_detect(actor=request.auth)


@router.post("/candidates/{candidate_id}/dismiss", response=CandidateOut)
def candidate_dismiss(request: ApiRequest, candidate_id: DbId) -> dict[str, Any]:
    return _candidate(services.candidate_dismiss(actor=request.auth, candidate_id=candidate_id))


class RuleOut(Schema):
    carrier_code: str
    kind: str
    enabled: bool
    margin_days: int
    file_window_days: int
    answer_days: int
    remind_days: int
    min_amount: Decimal
    words: str


class RuleIn(Schema):
    carrier_code: str = ""
    kind: str
    enabled: bool = True
    margin_days: PositiveSmallInt
    file_window_days: PositiveSmallInt
    answer_days: PositiveSmallInt
    remind_days: PositiveSmallInt
    min_amount: Decimal = Decimal("0")


@router.get("/rules", response=list[RuleOut])
def rule_list(request: ApiRequest) -> list[dict[str, Any]]:
    """Every rule in force per carrier and reason, and what it means in words."""
    return [{**{k: getattr(r["rule"], k) for k in (
        "carrier_code", "kind", "enabled", "margin_days", "file_window_days", "answer_days",
        "remind_days", "min_amount")}, "words": r["words"]}
        for r in selectors.rules_table(actor=request.auth)]


@router.put("/rules", response=RuleOut)
def rule_set(request: ApiRequest, payload: RuleIn) -> dict[str, Any]:
    """Sets the organization's rule for a reason and carrier ("" = any carrier)."""
    services.rule_set(actor=request.auth, **payload.dict())
    rule = rules.rules_for(organization_id=request.auth.organization.pk,
                           carrier_codes=[payload.carrier_code])[(payload.kind,
                                                                  payload.carrier_code)]
    return {**{k: getattr(rule, k) for k in (
        "carrier_code", "kind", "enabled", "margin_days", "file_window_days", "answer_days",
        "remind_days", "min_amount")}, "words": rules.explain(rule)}


class ClaimOut(Schema):
    id: int
    shipment_id: int
    kind: str
    state: str
    carrier_code: str
    tracking_number: str
    posted_at: dt.datetime | None
    file_by: dt.date
    filed_at: dt.datetime | None
    answer_by: dt.date | None
    extended: bool
    claimed_amount: Decimal
    approved_amount: Decimal | None
    paid_amount: Decimal | None
    paid_on: dt.date | None
    ledger_entry: int | None
    carrier_reference: str
    evidence: list[str]
    next_reminder_at: dt.datetime | None


class ClaimIn(Schema):
    shipment_id: DbId
    kind: str
    amount: Decimal | None = None


@router.get("/claims", response=list[ClaimOut])
def claim_list(request: ApiRequest, state: str = "", kind: str = "",
               carrier: str = "") -> Any:
    return list(selectors.claims(actor=request.auth, state=state, kind=kind, carrier=carrier))


@router.post("/claims", response={201: ClaimOut})
def claim_create(request: ApiRequest, payload: ClaimIn) -> Any:
    """A draft claim; 422 past the filing window (with the day it closed), 409 when the
    parcel already has a claim for the same reason."""
    return Status(201, services.claim_create(actor=request.auth, shipment_id=payload.shipment_id,
                                             kind=payload.kind, amount=payload.amount))


@router.get("/claims/{claim_id}", response=ClaimOut)
def claim_get(request: ApiRequest, claim_id: DbId) -> Any:
    return selectors.claim_get(actor=request.auth, claim_id=claim_id)


class FileIn(Schema):
    reference: str = ""


class DecideIn(Schema):
    approved_amount: Decimal
    note: str = ""


class PayIn(Schema):
    amount: Decimal
    paid_on: dt.date


class EmailIn(Schema):
    to: str


@router.post("/claims/{claim_id}/file", response=ClaimOut)
def claim_file(request: ApiRequest, claim_id: DbId, payload: FileIn) -> Any:
    return services.claim_file(actor=request.auth, claim_id=claim_id,
                               reference=payload.reference)


@router.post("/claims/{claim_id}/review", response=ClaimOut)
def claim_review(request: ApiRequest, claim_id: DbId) -> Any:
    return services.claim_review(actor=request.auth, claim_id=claim_id)


@router.post("/claims/{claim_id}/extend", response=ClaimOut)
def claim_extend(request: ApiRequest, claim_id: DbId) -> Any:
    return services.claim_extend(actor=request.auth, claim_id=claim_id)


@router.post("/claims/{claim_id}/decide", response=ClaimOut)
def claim_decide(request: ApiRequest, claim_id: DbId, payload: DecideIn) -> Any:
    return services.claim_decide(actor=request.auth, claim_id=claim_id,
                                 approved_amount=payload.approved_amount, note=payload.note)


@router.post("/claims/{claim_id}/pay", response=ClaimOut)
def claim_pay(request: ApiRequest, claim_id: DbId, payload: PayIn) -> Any:
    return services.claim_pay(actor=request.auth, claim_id=claim_id, amount=payload.amount,
                              paid_on=payload.paid_on)


@router.post("/claims/{claim_id}/email", response=dict[str, Any])
def claim_email(request: ApiRequest, claim_id: DbId, payload: EmailIn) -> dict[str, Any]:
    """Sends the claim, its history and attachments to the carrier's claims address through
    the organization's SMTP; answers what was sent."""
    claim = selectors.claim_get(actor=request.auth, claim_id=claim_id)
    letter = letters.claim_send_email(actor=request.auth, claim=claim, to=payload.to)
    return {"to": letter.to, "subject": letter.subject, "message_id": letter.message_id,
            "attachments": letter.attachments}


@router.get("/claims/{claim_id}/pdf")
def claim_pdf(request: ApiRequest, claim_id: DbId) -> HttpResponse:
    claim = selectors.claim_get(actor=request.auth, claim_id=claim_id)
    response = HttpResponse(letters.claim_pdf(actor=request.auth, claim=claim),
                            content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="claim_{claim.pk}.pdf"'
    return response


class ClaimAuditOut(Schema):
    id: int
    state: str
    source: str
    filename: str
    total: int
    by_carrier: list[dict[str, Any]]
    totals: dict[str, Any]
    problems: list[dict[str, Any]]
    not_checked: list[dict[str, Any]]


def _audit(report: audits.AuditReport) -> dict[str, Any]:
    a = report.audit

    def item(i: Any) -> dict[str, Any]:
        return {"tracking_number": i.tracking_number, "carrier_code": i.carrier_code,
                "verdict": i.verdict, "status": i.status, "at_stake": i.at_stake,
                "note": i.note}

    return {"id": a.pk, "state": a.state, "source": a.source, "filename": a.filename,
            "total": a.total, "by_carrier": report.by_carrier, "totals": report.totals,
            "problems": [item(i) for i in report.problems],
            "not_checked": [item(i) for i in report.not_checked]}


@router.post("/audits", response={201: ClaimAuditOut})
def audit_create(request: ApiRequest, file: File[UploadedFile]) -> Any:
    """A first-day audit of an uploaded list of tracking numbers (XLSX/CSV, up to 100,000);
    the histories are fetched in the background: read the audit until its state is done."""
    row = audits.audit_create_from_file(actor=request.auth, filename=file.name or "",
                                        content=file.read())
    return Status(201, _audit(audits.audit_report(actor=request.auth, audit_id=row.pk)))


@router.get("/audits/{audit_id}", response=ClaimAuditOut)
def audit_get(request: ApiRequest, audit_id: DbId) -> dict[str, Any]:
    return _audit(audits.audit_report(actor=request.auth, audit_id=audit_id))


@router.get("/control", response=dict[str, Any])
def control(request: ApiRequest) -> dict[str, Any]:
    """Money at risk, claimed and recovered by carrier and month, the claim success rate,
    the average days to payment, the share of older shipments at a final status. Filters:
    date_from, date_to, carrier, older_than_days."""
    f = selectors.control_filters(request.GET)
    return {"date_from": f.date_from, "date_to": f.date_to,
            **selectors.control_room(actor=request.auth, f=f)}
