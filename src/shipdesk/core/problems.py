"""RFC 9457 problem+json: the one error shape of the whole API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest, JsonResponse

from shipdesk.core.logging import request_id_var

CONTENT_TYPE = "application/problem+json"


def problem_response(
    request: HttpRequest,
    *,
    status: int,
    code: str,
    title: Any,
    detail: Any = "",
    errors: Iterable[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    body: dict[str, Any] = {
        "type": f"urn:shipdesk:problem:{code}",
        "title": str(title),
        "status": status,
        "instance": request.path,
        "request_id": request_id_var.get(),
    }
    if detail:
        body["detail"] = str(detail)
    error_list = list(errors)
    if error_list:
        body["errors"] = error_list
    response = JsonResponse(body, status=status, content_type=CONTENT_TYPE,
                            json_dumps_params={"ensure_ascii": False})
    for name, value in (headers or {}).items():
        response[name] = value
    return response
