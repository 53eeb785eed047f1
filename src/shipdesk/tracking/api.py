"""Tracking REST API (/api/v1/tracking/): thin, every rule is in services/selectors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Router, Schema, Status

from shipdesk.core.apitypes import DbId
from shipdesk.core.outbound import redact_url
from shipdesk.core.typing import ApiRequest
from shipdesk.tenancy.permissions import Perm
from shipdesk.tracking import polling, selectors, services

router = Router(tags=["tracking"])


class TrackingEventOut(Schema):
    id: int
    occurred_at: datetime
    utc_offset_minutes: int | None
    raw_code: str
    raw_text: str
    status: str
    substatus: str
    place: str
    office_index: str
    unknown_code: bool
    source: str


class TimelineRowOut(Schema):
    at: datetime
    status: str | None
    substatus: str
    raw_code: str
    place: str
    inferred: bool
    ignored: bool


class TrackingOut(Schema):
    shipment_id: int
    status: str | None
    substatus: str
    status_at: datetime | None
    arrived_at_pickup_at: datetime | None
    arrival_inferred: bool
    storage_deadline: datetime | None
    expected_delivery: datetime | None
    flags: list[str]
    why: list[str]
    public_url: str | None
    events: list[TrackingEventOut]
    timeline: list[TimelineRowOut]


class RefreshOut(Schema):
    # updated | unchanged: the carrier answered now; requested | pending: asked by ticket, the
    # answer is fetched and applied on its own at ``answer_expected_at``; failed | deferred:
    # asked again at ``next_poll_at``; final: the carrier is not asked any more.
    outcome: str
    message: str  # what to tell the user, in the request's language
    carrier: str
    asked: int
    events: int
    stored: int
    status: str  # the shipment's status now ("" before any event)
    ticket: str | None
    answer_expected_at: datetime | None
    next_poll_at: datetime | None
    error: str


class EndpointIn(Schema):
    url: str
    description: str = ""


class EndpointPatch(Schema):
    url: str | None = None
    description: str | None = None
    is_active: bool | None = None


class EndpointOut(Schema):
    id: int
    url: str
    description: str
    is_active: bool
    disabled_reason: str
    created_at: datetime


class EndpointCreatedOut(EndpointOut):
    secret: str  # shown once


class DeliveryOut(Schema):
    id: int
    endpoint_id: int
    msg_id: str
    event_type: str
    payload: dict[str, Any]
    state: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None
    created_at: datetime


def _endpoint_out(e: Any, actor: Any = None) -> dict[str, Any]:
    # a shop's endpoint often carries its own token (in the path or the query): other roles
    # than the owner see the host only
    url = e.url if actor is None or actor.can(Perm.VIEW_SECRETS) else redact_url(e.url)
    return {"id": e.pk, "url": url, "description": e.description, "is_active": e.is_active,
            "disabled_reason": e.disabled_reason, "created_at": e.created_at}


@router.get("/shipments/{shipment_id}/", response=TrackingOut)
def shipment_tracking(request: ApiRequest, shipment_id: DbId) -> dict[str, Any]:
    """Events of a shipment, its derived status and why."""
    actor = request.auth
    actor.require(Perm.VIEW)
    tl = selectors.shipment_timeline(actor=actor, shipment_id=shipment_id)
    events = selectors.shipment_events(actor=actor, shipment_id=shipment_id)
    v = tl.verdict
    token = tl.state.public_token if tl.state else None
    return {
        "shipment_id": shipment_id, "status": v.status.value if v.status else None,
        "substatus": v.substatus, "status_at": v.status_at,
        "arrived_at_pickup_at": v.arrived_at_pickup_at, "arrival_inferred": v.arrival_inferred,
        "storage_deadline": v.storage_deadline, "expected_delivery": v.expected_delivery,
        "flags": sorted(v.flags), "why": tl.why,
        "public_url": request.build_absolute_uri(f"/tracking/t/{token}/") if token else None,
        "events": list(events),
        "timeline": [{**r, "status": r["status"].value if r["status"] else None}
                     for r in tl.rows],
    }


@router.post("/shipments/{shipment_id}/refresh/", response=RefreshOut)
def shipment_refresh(request: ApiRequest, shipment_id: DbId) -> dict[str, Any]:
    """"Refresh now": asks the carrier for this shipment at once, and says what came of it
    (a carrier that answers by ticket answers later: the ticket and when it is due)."""
    actor = request.auth
    r = polling.tracking_refresh(actor=actor, shipment_id=shipment_id)
    return {"outcome": r.outcome.value, "message": r.message, "carrier": r.carrier,
            "asked": r.asked, "events": r.events, "stored": r.stored,
            "status": r.status.value if r.status else "", "ticket": r.ticket or None,
            "answer_expected_at": r.answer_expected_at, "next_poll_at": r.next_poll_at,
            "error": r.error}


@router.get("/webhooks/", response=list[EndpointOut])
def endpoints_list(request: ApiRequest) -> list[dict[str, Any]]:
    actor = request.auth
    actor.require(Perm.VIEW)
    return [_endpoint_out(e, actor) for e in selectors.webhook_endpoints(actor=actor)]


@router.post("/webhooks/", response={201: EndpointCreatedOut})
def endpoint_create(request: ApiRequest, payload: EndpointIn) -> Status[dict[str, Any]]:
    actor = request.auth
    endpoint, secret = services.webhook_endpoint_create(
        actor=actor, url=payload.url, description=payload.description)
    return Status(201, {**_endpoint_out(endpoint), "secret": secret})


@router.patch("/webhooks/{endpoint_id}/", response=EndpointOut)
def endpoint_update(request: ApiRequest, endpoint_id: DbId, payload: EndpointPatch
                    ) -> dict[str, Any]:
    actor = request.auth
    endpoint = services.webhook_endpoint_update(
        actor=actor, endpoint_id=endpoint_id, **payload.dict(exclude_unset=True))
    return _endpoint_out(endpoint)


@router.delete("/webhooks/{endpoint_id}/", response={204: None})
def endpoint_delete(request: ApiRequest, endpoint_id: DbId) -> Status[None]:
    actor = request.auth
    services.webhook_endpoint_delete(actor=actor, endpoint_id=endpoint_id)
    return Status(204, None)


@router.get("/deliveries/", response=list[DeliveryOut])
def deliveries_list(request: ApiRequest, endpoint_id: DbId | None = None
                    ) -> list[Any]:
    actor = request.auth
    actor.require(Perm.VIEW)
    return list(selectors.webhook_deliveries(actor=actor, endpoint_id=endpoint_id))


@router.post("/deliveries/{delivery_id}/replay/", response=DeliveryOut)
def delivery_replay(request: ApiRequest, delivery_id: DbId) -> Any:
    actor = request.auth
    d = services.webhook_delivery_replay(actor=actor, delivery_id=delivery_id)
    d.refresh_from_db()
    return d
