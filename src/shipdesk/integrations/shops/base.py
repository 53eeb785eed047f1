"""What every platform module gives the intake: the order as Shipdesk shipment fields, the
problems pointing at the platform's own field, the refusals."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from urllib.parse import parse_qsl

import httpx
from django.utils.translation import gettext as _


class Refused(Exception):
    """The call is not the shop's: a wrong key or signature, another account. Answered 401
    and logged."""


class PayloadProblem(Exception):
    """The payload is not what the platform sends: ``loc`` is the platform's field."""

    def __init__(self, loc: str, message: str) -> None:
        super().__init__(message)
        self.loc, self.message = loc, message


class FetchFailed(Exception):
    """The platform's API did not give the order (unreachable, refused, not found)."""


@dataclass
class Incoming:
    """One webhook call, parsed. ``order`` is the shop's order (None until fetched, for the
    platforms whose webhook only names it); ``trigger`` false: not the state that ships."""

    external_id: str
    event: str = ""
    order: dict[str, Any] | None = None
    trigger: bool = True
    reason: str = ""  # why not a trigger
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Connection:
    """A connection as the platform modules see it (no ORM)."""

    id: int
    platform: str
    secrets: Mapping[str, Any]
    config: Mapping[str, Any]


class Platform(Protocol):
    code: str
    # Shipdesk shipment field -> the platform's field, to point a problem at it
    field_map: Mapping[str, str]

    def verify(self, conn: Connection, *, body: bytes, headers: Mapping[str, str],
               query: Mapping[str, str], now: float) -> None: ...

    def parse(self, conn: Connection, *, body: bytes, content_type: str) -> Incoming: ...

    def fetch(self, conn: Connection, incoming: Incoming, http: httpx.Client) -> None: ...

    def to_shipment(self, conn: Connection, incoming: Incoming) -> dict[str, Any]: ...

    def write_back(self, conn: Connection, *, external_id: str, tracking_number: str,
                   status: str, http: httpx.Client) -> dict[str, Any]: ...


# --- helpers -------------------------------------------------------------------------------

def same(a: str, b: str) -> bool:
    """Constant-time comparison of two keys (empty never matches)."""
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def json_body(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadProblem("", _("Тело запроса — не JSON: %(e)s") % {"e": exc}) from exc


def form_body(body: bytes) -> dict[str, str]:
    """A form-encoded body as a flat mapping («leads[status][0][id]» → value)."""
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise PayloadProblem("", _("Тело запроса не в UTF-8")) from exc


def obj(value: Any, loc: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadProblem(loc, _("Ожидался объект"))
    return value


def text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).split())


def money(value: Any) -> Decimal:
    if value in (None, ""):
        return Decimal("0")
    try:
        amount = Decimal(str(value).replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        return Decimal("0")
    return amount.quantize(Decimal("0.01")) if amount.is_finite() else Decimal("0")


def grams(value: Any, *, kilograms: bool) -> int | None:
    """A weight as whole grams (the platforms give kilograms as a decimal)."""
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).replace(",", "."))
    except InvalidOperation:
        return None
    if not number.is_finite() or number <= 0:
        return None
    return int((number * 1000 if kilograms else number).to_integral_value())


def check_answer(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise FetchFailed(_("%(what)s: ответ %(code)s") % {"what": what,
                                                            "code": response.status_code})
    try:
        return response.json()
    except ValueError as exc:
        raise FetchFailed(_("%(what)s: ответ не JSON") % {"what": what}) from exc
