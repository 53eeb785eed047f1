"""Tracking pages: dashboard, shipment timeline, daily report, recipient's public page."""

from __future__ import annotations

import hashlib
import time

from django.contrib import messages
from django.core.cache import caches
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_POST, require_safe

from shipdesk.core.errors import ServiceError
from shipdesk.core.typing import ActorRequest
from shipdesk.core.views_support import actor_required, public_route, service_action
from shipdesk.tenancy.permissions import Perm
from shipdesk.tracking import polling, selectors

# seconds a process keeps a rendered recipient's page; it is only ever served while the
# rows it was rendered from are unchanged, so this bounds memory and an office's address
page_cache = caches["pages"]
PUBLIC_PAGE_CACHE_SECONDS = 60
# The pickup office's name, address and hours are not in the rows' version (which office is
# shown follows from the events): the ETag also changes every this many seconds, so that a
# browser's copy shows an office's new hours within the hour. The status is never late.
PUBLIC_ETAG_PERIOD = 3600


def _etag_period() -> int:
    return int(time.time()) // PUBLIC_ETAG_PERIOD


@actor_required
def dashboard(request: ActorRequest) -> HttpResponse:
    request.actor.require(Perm.VIEW)
    return render(request, "tracking/dashboard.html",
                  selectors.dashboard(actor=request.actor))


@actor_required
def timeline(request: ActorRequest, shipment_id: int) -> HttpResponse:
    actor = request.actor
    actor.require(Perm.VIEW)
    try:
        tl = selectors.shipment_timeline(actor=actor, shipment_id=shipment_id)
    except ServiceError as exc:
        raise Http404(str(exc)) from exc
    pending = polling.tracking_pending_ticket(actor=actor, shipment_id=shipment_id)
    return render(request, "tracking/timeline.html", {
        "tl": tl, "pending_ticket": pending[0] if pending else "",
        "answer_expected_at": pending[1] if pending else None})


@actor_required
@require_POST
def refresh(request: ActorRequest, shipment_id: int) -> HttpResponse:
    result = service_action(request, lambda: polling.tracking_refresh(
        actor=request.actor,
        shipment_id=shipment_id))
    if result is not None:  # what really happened: a ticket's answer comes later
        messages.add_message(request, messages.SUCCESS if result.ok else messages.WARNING,
                             result.message)
    return redirect("tracking:timeline", shipment_id=shipment_id)


@actor_required
def report(request: ActorRequest) -> HttpResponse:
    actor = request.actor
    actor.require(Perm.VIEW)
    return render(request, "tracking/report.html", {
        "report": selectors.daily_report(organization=actor.organization)})


@public_route
@require_safe
def public(request: HttpRequest, token: str) -> HttpResponseBase:
    """The recipient's page: no login, by the unguessable token. Served without the
    per-user middleware; its rendering is cached per process under a key made of the rows'
    versions, so a change of status is on the page at the very next request."""
    try:
        state = selectors.public_state(token=token)
    except ServiceError:
        missing = render(request, "tracking/public_not_found.html", status=404)
        missing["X-Robots-Tag"] = "noindex"
        return missing
    version = f"{token}|{state.version}|{translation.get_language()}|{_etag_period()}"
    etag = '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'
    response = get_conditional_response(request, etag=etag)  # 304 when the caller has it
    cacheable = True
    if response is None:
        key = f"tracking-public:{etag}"
        body = page_cache.get(key)
        if body is None:
            page = selectors.public_page(token=token, state=state)
            body = render_to_string("tracking/public.html", {"page": page})
            # An office named but not loaded yet (loading follows the arrival within
            # moments) is not in the rows' version: such a page is kept by no one.
            cacheable = not page.office_pending
            if cacheable:
                page_cache.set(key, body, PUBLIC_PAGE_CACHE_SECONDS)
        response = HttpResponse(body)
    if cacheable:
        response["ETag"] = etag
        # Any cache may keep it, but must ask again (a 304 costs one query) before showing
        # it: a recipient never sees a status older than the database's.
        response["Cache-Control"] = "public, max-age=0, must-revalidate"
    else:
        response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
