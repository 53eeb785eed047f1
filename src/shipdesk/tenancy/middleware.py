from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from shipdesk.tenancy.services import actor_for_user

SESSION_ORGANIZATION_KEY = "organization_id"


class CurrentOrganizationMiddleware:
    """Puts ``request.actor`` (user + current organization + role) on every logged-in request.

    The current organization is the one picked in the switcher (kept in the session); a
    stale choice (membership removed) falls back to the user's first organization.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.actor = None  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            actor = actor_for_user(request.user, request.session.get(SESSION_ORGANIZATION_KEY))
            request.actor = actor  # type: ignore[attr-defined]
            if actor and request.session.get(SESSION_ORGANIZATION_KEY) != actor.organization_id:
                request.session[SESSION_ORGANIZATION_KEY] = actor.organization_id
            if actor:  # dates and times on the pages in the organization's time zone
                timezone.activate(actor.organization.zone)
                try:
                    return self.get_response(request)
                finally:
                    timezone.deactivate()
        return self.get_response(request)
