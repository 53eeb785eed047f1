from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from shipdesk.tenancy import selectors


def organization(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"actor": None}
    return {
        "actor": actor,
        "current_organization": actor.organization,
        "user_organizations": selectors.organizations_of_user(user=request.user),
    }
