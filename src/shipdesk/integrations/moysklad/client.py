"""MoySklad JSON API 1.2 client (typed data in and out, no Django models).

Transport: carriers/http.py's resilient client (tenacity retries of 5xx, timeouts and 429,
circuit breaker, a rate limit shared by every worker). On top of it, MoySklad's own rules:

* ``Accept-Encoding: gzip`` on every call (mandatory), ``Authorization: Bearer`` or Basic;
* 45 requests per 3 s: the shared limiter lets at most 15 start in any second, so no 3 s
  window sees more than 45; at most 5 requests in flight per process (a semaphore);
* a 429 names its pause in ``X-Lognex-Retry-TimeInterval`` (ms): turned into
  ``Retry-After`` for the retrying layer, so we wait what MoySklad asks and lose nothing;
* ``X-Lognex-WebHook-DisableByPrefix: <our webhook address>`` on our own writes, so that
  what we change is not echoed back to us;
* a 401 is a revoked or wrong token (:class:`TokenRevoked`); errors carry MoySklad's own
  ``errors[].error`` and ``code``.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from shipdesk.carriers.base import CarrierError
from shipdesk.carriers.http import build_client
from shipdesk.core.outbound import GuardedTransport

PAGE = 1000
EXPANDED_PAGE = 100
RATE_PER_SECOND = 15.0  # 45 per 3 s
PARALLEL = 5
_semaphores: dict[str, threading.BoundedSemaphore] = {}
_semaphores_lock = threading.Lock()


class MoySkladError(Exception):
    """MoySklad refused or could not be reached; ``transient``: trying later may help."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 transient: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.transient = transient


class TokenRevoked(MoySkladError):
    """401: the token was revoked (a new one was issued) or the password changed."""


class _LognexRetryAfter(httpx.BaseTransport):
    """Under the retrying layer: unzips the answer (that layer re-reads bodies as given) and
    puts MoySklad's pause (``X-Lognex-Retry-TimeInterval``, ms) where the retrying layer
    reads it (``Retry-After``, s)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raw = self.inner.handle_request(request)
        try:
            content = raw.read()  # decoded (gzip) by httpx
        finally:
            raw.close()
        headers = httpx.Headers([(k, v) for k, v in raw.headers.multi_items()
                                 if k.lower() not in ("content-encoding", "content-length",
                                                      "transfer-encoding")])
        interval = headers.get("X-Lognex-Retry-TimeInterval")
        if raw.status_code == 429 and interval and "Retry-After" not in headers:
            try:
                seconds = max(0.05, int(interval) / 1000)
            except ValueError:
                seconds = 1.0
            headers["Retry-After"] = f"{seconds:.3f}"
        return httpx.Response(raw.status_code, headers=headers, content=content,
                              request=request, extensions=raw.extensions)

    def close(self) -> None:
        self.inner.close()


def _semaphore(key: str) -> threading.BoundedSemaphore:
    with _semaphores_lock:
        if key not in _semaphores:
            _semaphores[key] = threading.BoundedSemaphore(PARALLEL)
        return _semaphores[key]


def id_of(meta_holder: Mapping[str, Any] | None) -> str:
    """The uuid at the end of an entity's ``meta.href``."""
    href = ((meta_holder or {}).get("meta") or {}).get("href", "")
    return str(href).rsplit("/", 1)[-1].split("?")[0]


@dataclass(frozen=True)
class Credentials:
    token: str = ""
    login: str = ""
    password: str = ""


class MoySkladClient:
    def __init__(self, *, base_url: str, credentials: Credentials, key: str,
                 webhook_prefix: str = "", options: Mapping[str, Any] | None = None,
                 inner: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.key = key
        secrets = {"token": credentials.token, "password": credentials.password}
        self.http = build_client(
            key=f"moysklad-{key}", credentials=secrets,
            options={"max_attempts": 8, "backoff_base": 0.5, "fail_max": 10,
                     "reset_timeout": 30.0, **(options or {})},
            rate_per_second=RATE_PER_SECOND, inner=_LognexRetryAfter(inner or GuardedTransport()),
            log_exchanges=False)
        self.http.headers["Accept-Encoding"] = "gzip"
        self.http.headers["Content-Type"] = "application/json;charset=utf-8"
        if webhook_prefix:
            self.http.headers["X-Lognex-WebHook-DisableByPrefix"] = webhook_prefix

    def close(self) -> None:
        self.http.close()

    # --- the transport -------------------------------------------------------------------------
    def _auth(self) -> str:
        if self.credentials.token:
            return f"Bearer {self.credentials.token}"
        pair = f"{self.credentials.login}:{self.credentials.password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                json: Any = None, idempotent: bool | None = None) -> Any:
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        extensions = {"idempotent": idempotent} if idempotent is not None else {}
        try:
            with _semaphore(self.key):
                response = self.http.request(method, url, params=params, json=json,
                                             headers={"Authorization": self._auth()},
                                             extensions=extensions)
        except CarrierError as exc:
            raise MoySkladError(str(exc), transient=True) from exc
        if response.status_code == 401:
            raise TokenRevoked(_error_text(response) or "401", status=401, code=1056)
        if response.status_code >= 400:
            raise MoySkladError(_error_text(response) or f"HTTP {response.status_code}",
                                status=response.status_code, code=_error_code(response),
                                transient=response.status_code >= 500
                                or response.status_code == 429)
        if not response.content:
            return None
        return response.json()

    # --- reads ----------------------------------------------------------------------------------
    def token_issue(self) -> str:
        """A new token for login and password (revokes the user's older tokens)."""
        answer = self.request("POST", "/security/token", idempotent=True)
        return str(answer["access_token"])

    def order_metadata(self) -> dict[str, Any]:
        return dict(self.request("GET", "/entity/customerorder/metadata"))

    def first(self, kind: str) -> dict[str, Any] | None:
        rows = self.request("GET", f"/entity/{kind}", params={"limit": 1})["rows"]
        return rows[0] if rows else None

    def rows(self, kind: str, *, filters: Sequence[str] = (), expand: str = "",
             limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every row of a collection, page by page (``meta.size``)."""
        page = limit or (EXPANDED_PAGE if expand else PAGE)
        offset = 0
        while True:
            params: dict[str, Any] = {"limit": page, "offset": offset}
            if filters:
                params["filter"] = ";".join(filters)
            if expand:
                params["expand"] = expand
            answer = self.request("GET", f"/entity/{kind}", params=params)
            yield from answer["rows"]
            offset += page
            if offset >= int(answer["meta"].get("size", 0)):
                return

    def orders_by_id(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The customer orders with their agent and positions (with goods), 100 a request."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), EXPANDED_PAGE):
            chunk = ids[start:start + EXPANDED_PAGE]
            found.extend(self.rows("customerorder", filters=[f"id={i}" for i in chunk],
                                   expand="agent,positions.assortment,positions"))
        return found

    # --- writes ---------------------------------------------------------------------------------
    def update_many(self, kind: str, changes: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Updates entities (each change carries its ``meta``) 1000 a request."""
        answers: list[dict[str, Any]] = []
        for start in range(0, len(changes), PAGE):
            answers.extend(self.request("POST", f"/entity/{kind}", json=list(
                changes[start:start + PAGE]), idempotent=True))
        return answers

    def create(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Creates a document; with a ``syncId`` sending it again is safe (retried)."""
        return dict(self.request("POST", f"/entity/{kind}", json=data,
                                 idempotent=bool(data.get("syncId"))))

    def demand_template(self, order_href: str) -> dict[str, Any]:
        return dict(self.request("PUT", "/entity/demand/new", json={"customerOrder": {"meta": {
            "href": order_href, "type": "customerorder", "mediaType": "application/json"}}}))

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self.request("GET", "/entity/webhook")["rows"])

    def webhook_subscribe(self, *, url: str, entity_type: str = "customerorder",
                          action: str = "UPDATE") -> dict[str, Any]:
        return dict(self.request("POST", "/entity/webhook", json={
            "url": url, "action": action, "entityType": entity_type, "diffType": "FIELDS"},
            idempotent=True))

    def webhook_delete(self, webhook_id: str) -> None:
        self.request("DELETE", f"/entity/webhook/{webhook_id}")


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        return []
    errors = data.get("errors") if isinstance(data, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_text(response: httpx.Response) -> str:
    return "; ".join(str(e.get("error", "")) for e in _errors(response) if e.get("error"))


def _error_code(response: httpx.Response) -> int | None:
    errors = _errors(response)
    code = errors[0].get("code") if errors else None
    return int(code) if isinstance(code, int) else None


def entity_meta(href: str, kind: str) -> dict[str, Any]:
    return {"meta": {"href": href, "type": kind, "mediaType": "application/json"}}


def state_meta(base_url: str, state_id: str) -> dict[str, Any]:
    return {"meta": {"href": f"{base_url.rstrip('/')}/entity/customerorder/metadata/states/"
                             f"{state_id}", "type": "state", "mediaType": "application/json"}}


def attribute_value(base_url: str, attribute_id: str, value: Any) -> dict[str, Any]:
    return {"meta": {"href": f"{base_url.rstrip('/')}/entity/customerorder/metadata/attributes/"
                             f"{attribute_id}", "type": "attributemetadata",
                     "mediaType": "application/json"}, "value": value}


def kopecks(value: Any) -> int:
    """A rubles Decimal (or kopecks already as a float in MoySklad's answers) → kopecks."""
    from decimal import ROUND_HALF_UP, Decimal

    return int((Decimal(str(value)) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
