from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from shipdesk.tenancy import selectors
from shipdesk.tenancy.permissions import Perm


def organization(request: HttpRequest) -> dict[str, Any]:
    actor = getattr(request, "actor", None)
    if actor is None:
        return {"actor": None}
    return {
        "actor": actor,
        "current_organization": actor.organization,
        "user_organizations": selectors.organizations_of_user(user=request.user),
        # {% if can.manage_members %}: the UI shows only what the role may do.
        "can": {perm.value: actor.can(perm) for perm in Perm},
    }
