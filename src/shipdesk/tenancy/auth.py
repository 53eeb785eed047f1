"""How the API knows who is calling: an API key, or a logged-in browser session."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.security import APIKeyHeader, SessionAuth

from shipdesk.tenancy.services import Actor, api_key_authenticate


class ApiKeyAuth(APIKeyHeader):
    """``X-API-Key: sd_...`` (``Authorization: Bearer sd_...`` is accepted too)."""

    param_name = "X-API-Key"

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization", "")
        if not request.headers.get(self.param_name) and header.startswith("Bearer "):
            return self.authenticate(request, header.removeprefix("Bearer ").strip())
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        return api_key_authenticate(key) if key else None


class OrganizationSessionAuth(SessionAuth):
    """A browser session; the organization is the one picked in the switcher.

    The CSRF check concerns a logged-in browser only: a call with no session (a script with
    no key, or a wrong one) is not authenticated by this method at all, so the API answers
    401 rather than 403 ``csrf_failed``."""

    def __call__(self, request: HttpRequest) -> Any:
        if getattr(request, "actor", None) is None:
            return None
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        return getattr(request, "actor", None)


api_auth = [ApiKeyAuth(), OrganizationSessionAuth()]
