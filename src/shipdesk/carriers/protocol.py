"""Helpers shared by adapters for reading carrier answers (no Django): every malformed
answer (truncated JSON, an HTML error page, an unexpected status) becomes a clear
:class:`CarrierError` instead of a crash."""

from __future__ import annotations

import json
from typing import Any

import httpx
from django.utils.translation import gettext as _

from shipdesk.carriers.base import AuthenticationFailed, CarrierError, RateLimited


def send(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """``http.request`` with transport failures turned into transient CarrierErrors."""
    try:
        return http.request(method, url, **kwargs)
    except CarrierError:
        raise
    except httpx.TimeoutException as exc:
        raise CarrierError(_("Перевозчик не ответил вовремя (%(error)s)") % {
            "error": type(exc).__name__}, code="timeout",
                           transient=True) from exc
    except httpx.HTTPError as exc:
        raise CarrierError(_("Нет связи с перевозчиком: %(error)s") % {"error": exc},
                           code="unavailable", transient=True) from exc


def describe(response: httpx.Response, limit: int = 200) -> str:
    kind = response.headers.get("content-type", "").split(";")[0]
    text = response.text[:limit].strip().replace("\n", " ") if "pdf" not in kind else ""
    return f"HTTP {response.status_code} {kind}: {text}".strip()


def json_body(response: httpx.Response) -> Any:
    """The JSON of an answer, or a CarrierError saying what came instead."""
    if not response.content:
        raise CarrierError(_("Пустой ответ перевозчика (HTTP %(status)s)") % {
            "status": response.status_code}, code="bad_response",
                           transient=response.status_code >= 500, status=response.status_code)
    try:
        return json.loads(response.content)
    except ValueError as exc:
        kind = response.headers.get("content-type", "")
        what = "страница HTML вместо JSON" if "html" in kind or response.content.lstrip()[:1] == b"<" \
            else "повреждённый JSON"
        raise CarrierError(f"Непонятный ответ перевозчика: {what} ({describe(response)})",
                           code="bad_response", transient=response.status_code >= 500,
                           status=response.status_code) from exc


def raise_for_common(response: httpx.Response) -> None:
    """Auth failure, rate limit and server errors, in the words support needs."""
    status = response.status_code
    if status in (401, 403):
        raise AuthenticationFailed(f"Перевозчик отказал в доступе ({describe(response)})",
                                   code="auth", status=status)
    if status == 429:
        after = response.headers.get("Retry-After")
        try:
            seconds = float(after) if after else None
        except ValueError:
            seconds = None
        raise RateLimited("Перевозчик просит снизить частоту запросов (HTTP 429)", retry_after=seconds)
    if status >= 500:
        raise CarrierError(_("Ошибка на стороне перевозчика (%(answer)s)") % {
            "answer": describe(response)}, code="server_error",
                           transient=True, status=status)


def expect_dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CarrierError(f"Непонятный ответ перевозчика: ожидался объект в «{what}»", code="bad_response")
    return value


def expect_list(value: Any, what: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise CarrierError(f"Непонятный ответ перевозчика: ожидался список в «{what}»", code="bad_response")
    return value
