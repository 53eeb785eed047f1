"""The REST API under /api/v1/: one NinjaAPI, each domain contributes its router."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from shipdesk.core.errors import ServiceError
from shipdesk.core.problems import problem_response
from shipdesk.tenancy.auth import TooManyFailures, api_auth, lockout_response

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Shipdesk API",
    version="1",
    description=_("REST API Shipdesk: отправления, партии, документы, отслеживание."),
    auth=api_auth,
    urls_namespace="api",
    docs_url="/docs",
)


def _loc(raw: Any) -> list[Any]:
    # Ninja prefixes the location with where the value came from ("body", "query", the
    # schema's argument name); the field path after it is what the caller sent.
    parts = list(raw)
    if parts and parts[0] in ("body", "query", "path", "header", "form", "file"):
        parts = parts[1:]
        if len(parts) > 1 and isinstance(parts[0], str) and parts[0] == "payload":
            parts = parts[1:]
    return parts


@api.exception_handler(ServiceError)
def _service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return problem_response(request, status=exc.status, code=exc.code, title=exc.title,
                            detail=exc.detail, errors=[e.as_dict() for e in exc.errors])


@api.exception_handler(ValidationError)
def _validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"loc": _loc(e.get("loc", ())), "message": e.get("msg", ""),
               "code": e.get("type", "invalid")} for e in exc.errors]
    return problem_response(request, status=422, code="validation_failed",
                            title=_("Данные не прошли проверку"), errors=errors)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(
        request, status=401, code="unauthenticated", title=_("Нужна авторизация"),
        detail=_("Передайте действующий ключ в заголовке X-API-Key или войдите в систему"),
        headers={"WWW-Authenticate": 'ApiKey header="X-API-Key"'})


@api.exception_handler(TooManyFailures)
def _locked_out(request: HttpRequest, exc: TooManyFailures) -> HttpResponse:
    return lockout_response(request)


@api.exception_handler(AuthorizationError)
def _forbidden(request: HttpRequest, exc: AuthorizationError) -> HttpResponse:
    return problem_response(request, status=403, code="forbidden", title=_("Недостаточно прав"))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(request, status=404, code="not_found", title=_("Не найдено"))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem_response(request, status=413, code="payload_too_large",
                            title=_("Слишком большой запрос"))


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    title = str(exc) or _("Ошибка запроса")
    code, detail = f"http_{exc.status_code}", ""
    if exc.status_code == 400 and "parse" in title.lower():
        title = _("Тело запроса не является корректным JSON")
    elif exc.status_code == 403 and "csrf" in title.lower():
        code, title = "csrf_failed", _("Запрос из сессии браузера без CSRF-токена")
        detail = _("Передайте заголовок X-CSRFToken со значением cookie csrftoken"
                   " или авторизуйтесь ключом API")
    return problem_response(request, status=exc.status_code, code=code, title=title, detail=detail)


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def _out_of_range(request: HttpRequest, exc: Exception) -> HttpResponse:
    # The safety net under the bounded types of core/apitypes.py: a number the database
    # cannot hold (SQLite raises OverflowError, PostgreSQL "out of range" / "value too long")
    # is the caller's bad input, not a server error.
    log.warning("value out of the column's range on %s %s: %s", request.method, request.path, exc)
    return problem_response(request, status=422, code="out_of_range",
                            title=_("Значение вне допустимого диапазона"),
                            detail=_("Число или строка не помещается в поле базы данных"))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled API error on %s %s", request.method, request.path)
    return problem_response(request, status=500, code="internal_error",
                            title=_("Внутренняя ошибка"),
                            detail=_("Ошибка записана в журнал; сообщите request_id поддержке"))


def _register_routers() -> None:
    from shipdesk.tenancy.api import router as tenancy_router

    api.add_router("/", tenancy_router)
    # before the shipments router, whose /{shipment_id} would take "senders" for an id
    from shipdesk.shipments.settings_api import router as shipment_settings_router

    api.add_router("/shipments/", shipment_settings_router)
    for domain in ("carriers", "shipments", "numbering", "tariffs", "documents", "tracking",
                   "notifications", "analytics", "finance", "integrations", "claims",
                   "postage"):
        module = __import__(f"shipdesk.{domain}.api", fromlist=["router"])
        api.add_router(f"/{domain}/", module.router)


_register_routers()
