"""Tracking pages: dashboard, shipment timeline, daily report, recipient's public page."""

from __future__ import annotations

import hashlib

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import http_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from shipdesk.core.errors import ServiceError
from shipdesk.core.views_support import actor_required, service_action
from shipdesk.tenancy.permissions import Perm
from shipdesk.tracking import polling, selectors

PUBLIC_MAX_AGE = 60  # seconds: the page is the same for everyone who has the link


@actor_required
def dashboard(request: HttpRequest) -> HttpResponse:
    request.actor.require(Perm.VIEW)  # type: ignore[attr-defined]
    return render(request, "tracking/dashboard.html",
                  selectors.dashboard(actor=request.actor))  # type: ignore[attr-defined]


@actor_required
def timeline(request: HttpRequest, shipment_id: int) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    actor.require(Perm.VIEW)
    try:
        tl = selectors.shipment_timeline(actor=actor, shipment_id=shipment_id)
    except ServiceError as exc:
        raise Http404(str(exc)) from exc
    return render(request, "tracking/timeline.html", {"tl": tl})


@actor_required
@require_POST
def refresh(request: HttpRequest, shipment_id: int) -> HttpResponse:
    service_action(request, lambda: polling.tracking_refresh(
        actor=request.actor,  # type: ignore[attr-defined]
        shipment_id=shipment_id), success=_("Статус обновлён"))
    return redirect("tracking:timeline", shipment_id=shipment_id)


@actor_required
def report(request: HttpRequest) -> HttpResponse:
    actor = request.actor  # type: ignore[attr-defined]
    actor.require(Perm.VIEW)
    return render(request, "tracking/report.html", {
        "report": selectors.daily_report(organization=actor.organization)})


@require_GET
def public(request: HttpRequest, token: str) -> HttpResponse:
    """The recipient's page: no login, by the unguessable token; cacheable."""
    try:
        page = selectors.public_page(token=token)
    except ServiceError as exc:
        raise Http404("not found") from exc
    etag = '"' + hashlib.sha256(f"{token}:{page.state.updated_at.isoformat()}".encode()
                                ).hexdigest()[:32] + '"'
    if request.headers.get("If-None-Match") == etag:
        response = HttpResponse(status=304)
    else:
        response = render(request, "tracking/public.html", {"page": page})
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={PUBLIC_MAX_AGE}"
    response["Last-Modified"] = http_date(page.state.updated_at.timestamp())
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
