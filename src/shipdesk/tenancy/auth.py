"""How the API knows who is calling: an API key, or a logged-in browser session."""

from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_login_failed
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from ninja.security import APIKeyHeader, SessionAuth

from shipdesk.core.problems import problem_response
from shipdesk.tenancy.services import Actor, api_key_authenticate

# Bad API keys are counted by django-axes like failed logins, under this user name and the
# caller's address: a script guessing keys waits as a password guesser does.
API_KEY_CREDENTIALS = {"username": "api-key"}


class TooManyFailures(Exception):
    """The caller's address has sent too many bad keys lately (answered by lockout_response)."""


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict[str, Any] | None = None) -> HttpResponse:
    """What a locked-out client sees (django-axes' AXES_LOCKOUT_CALLABLE): 429 with
    Retry-After, as problem+json on the API and as the login page with the reason on pages."""
    cool_off = get_cool_off(request)
    seconds = int(cool_off.total_seconds()) if cool_off else 900
    title = _("Слишком много неудачных попыток входа")
    detail = _("Попробуйте снова через %(minutes)s мин.") % {"minutes": max(1, seconds // 60)}
    if request.path.startswith("/api/"):
        return problem_response(request, status=429, code="too_many_failures", title=title,
                                detail=detail, headers={"Retry-After": str(seconds)})
    from django.contrib.auth.forms import AuthenticationForm

    response = render(request, "registration/login.html",
                      {"form": AuthenticationForm(request), "lockout": f"{title}. {detail}"},
                      status=429)
    response["Retry-After"] = str(seconds)
    return response


class ApiKeyAuth(APIKeyHeader):
    """``X-API-Key: sd_...`` (``Authorization: Bearer sd_...`` is accepted too)."""

    param_name = "X-API-Key"

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization", "")
        if not request.headers.get(self.param_name) and header.startswith("Bearer "):
            return self.authenticate(request, header.removeprefix("Bearer ").strip())
        return super().__call__(request)

    def authenticate(self, request: HttpRequest, key: str | None) -> Actor | None:
        if not key:
            return None
        AxesProxyHandler.update_request(request)
        if AxesProxyHandler.is_locked(request, API_KEY_CREDENTIALS):
            raise TooManyFailures()
        actor = api_key_authenticate(key)
        if actor is None:
            user_login_failed.send(sender=ApiKeyAuth, credentials=API_KEY_CREDENTIALS,
                                   request=request)
        return actor


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
