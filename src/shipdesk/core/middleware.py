from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

from shipdesk.core.errors import Forbidden, NotFound
from shipdesk.core.logging import request_id_var
from shipdesk.core.views_support import forbidden_page

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """Takes the caller's ``X-Request-ID`` (if sane) or makes one, for logs and responses."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response["X-Request-ID"] = request_id
        return response


class ServiceErrorMiddleware:
    """Web pages: a service's ``NotFound`` is a 404 page and ``Forbidden`` a 403 page, so
    that a view which lets them through never answers 500 (the API has its own handlers)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if request.path.startswith("/api/"):
            return None
        if isinstance(exception, NotFound):
            return render(request, "404.html", {"message": str(exception.detail or exception.title)},
                          status=404)
        if isinstance(exception, Forbidden):
            return forbidden_page(request, exception)
        return None


class PublicRouteMiddleware:
    """Serves the views marked ``@public_route`` through a short chain of its own
    (``settings.PUBLIC_ROUTE_MIDDLEWARE``: language, common, frame options) instead of the
    rest of ``MIDDLEWARE``. A public page needs no session, login, organization, CSRF,
    messages or idempotency: skipping them saves their work (a browser that also holds a
    login cookie would otherwise load the session, the user and the organization from the
    database) and keeps ``Vary: Cookie`` off a response every visitor shares.

    The middleware before this one (request id, security headers, static files) still runs.
    The short chain has no view/exception/template-response hooks, so the middleware listed
    in it must work through ``__call__`` (or process_request/process_response) only."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        handler: Callable[[HttpRequest], Any] = convert_exception_to_response(self._call_view)
        for path in reversed(settings.PUBLIC_ROUTE_MIDDLEWARE):
            factory = import_string(path)
            for hook in ("process_view", "process_exception", "process_template_response"):
                if hasattr(factory, hook):
                    raise ImproperlyConfigured(
                        f"{path} has {hook}, which the public-route chain does not run")
            handler = convert_exception_to_response(factory(handler))
        self.public_chain: Callable[[HttpRequest], HttpResponse] = handler

    @staticmethod
    def _call_view(request: HttpRequest) -> HttpResponse:
        match = request.resolver_match
        assert match is not None
        return match.func(request, *match.args, **match.kwargs)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return self.get_response(request)  # anything that may write keeps CSRF and the rest
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return self.get_response(request)
        if not getattr(match.func, "public_route", False):
            return self.get_response(request)
        request.resolver_match = match
        return self.public_chain(request)


class BodyLimitMiddleware:
    """Refuses an oversized request body with 413 from its ``Content-Length`` alone, before a
    byte of it is read: Django's own limits apply only once a view parses the body, by which
    time a 200 MB upload has been received and spooled to disk.

    Limits: a caller with no credentials at all (no session cookie, no API key) — the login
    form, carrier and SMS webhooks — sends small bodies (``SHIPDESK_MAX_ANONYMOUS_BODY_BYTES``);
    multipart uploads may carry a spreadsheet up to ``SHIPDESK_MAX_UPLOAD_BYTES`` plus the form
    around it; any other body stops at ``DATA_UPLOAD_MAX_MEMORY_SIZE``. A body without a length
    (chunked) is not read by Django at all, so it needs no limit here."""

    _FORM_OVERHEAD = 1024 * 1024

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = self.limit_for(request)
        if length > limit:
            return self._refuse(request, length, limit)
        return self.get_response(request)

    @classmethod
    def limit_for(cls, request: HttpRequest) -> int:
        has_credentials = (settings.SESSION_COOKIE_NAME in request.COOKIES
                           or "HTTP_X_API_KEY" in request.META
                           or "HTTP_AUTHORIZATION" in request.META)
        if not has_credentials:
            return int(settings.SHIPDESK_MAX_ANONYMOUS_BODY_BYTES)
        if request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
            return int(settings.SHIPDESK_MAX_UPLOAD_BYTES) + cls._FORM_OVERHEAD
        return int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)

    @staticmethod
    def _refuse(request: HttpRequest, length: int, limit: int) -> HttpResponse:
        from django.utils import translation
        from django.utils.translation import gettext as _

        from shipdesk.core.problems import problem_response

        with translation.override(translation.get_language_from_request(request)):
            title = _("Слишком большой запрос")
            detail = _("Размер тела запроса %(size)s МБ, допускается не больше %(max)s МБ.") % {
                "size": f"{length / 2**20:.1f}", "max": f"{limit / 2**20:.1f}"}
            if request.path.startswith("/api/"):
                response: HttpResponse = problem_response(
                    request, status=413, code="payload_too_large", title=title, detail=detail)
            else:
                response = render(request, "413.html", {"title": title, "message": detail},
                                  status=413)
        return response
