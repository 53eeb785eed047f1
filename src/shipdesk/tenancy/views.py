from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from shipdesk.core.views_support import actor_required
from shipdesk.shipments import selectors as shipment_selectors
from shipdesk.tenancy import selectors
from shipdesk.tenancy.middleware import SESSION_ORGANIZATION_KEY


@actor_required
def dashboard(request: HttpRequest) -> HttpResponse:
    counts = shipment_selectors.shipment_counts_by_state(actor=request.actor)
    return render(request, "tenancy/dashboard.html", {
        "counts": counts,
        "total": sum(c["count"] for c in counts),
        "members": selectors.membership_list(actor=request.actor).count(),
    })


@login_required
@require_POST
def organization_switch(request: HttpRequest) -> HttpResponse:
    organization_id = request.POST.get("organization_id", "")
    if organization_id.isdigit() and selectors.organizations_of_user(user=request.user).filter(
        pk=int(organization_id)).exists():
        request.session[SESSION_ORGANIZATION_KEY] = int(organization_id)
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("dashboard")
    return HttpResponseRedirect(next_url)
