"""The generic order webhook of Shipdesk, for any shop (docs/shop-order-webhook.md).

``POST /integrations/shops/hook/<token>/`` with a JSON body ``{"order_id": "...",
"order": {shipment fields as the REST API takes them}}`` and two headers:
``X-Shipdesk-Timestamp`` (Unix seconds) and ``X-Shipdesk-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``"<timestamp>.<raw body>"`` with the connection's secret. A timestamp more
than :data:`REPLAY_WINDOW` seconds from our clock is refused (a captured call cannot be
replayed later); the same ``order_id`` twice creates one shipment."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

import httpx
from django.utils.translation import gettext as _

from shipdesk.integrations.shops.base import (
    Connection,
    Incoming,
    PayloadProblem,
    Refused,
    json_body,
    obj,
    same,
    text,
)

code = "shop_webhook"
REPLAY_WINDOW = 300
TIMESTAMP_HEADER = "X-Shipdesk-Timestamp"
SIGNATURE_HEADER = "X-Shipdesk-Signature"
field_map: dict[str, str] = {}  # the order's fields are ours: "order.<field>"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value for a body sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(conn: Connection, *, body: bytes, headers: Mapping[str, str],
           query: Mapping[str, str], now: float) -> None:
    timestamp = headers.get(TIMESTAMP_HEADER, "")
    signature = headers.get(SIGNATURE_HEADER, "")
    if not timestamp or not signature:
        raise Refused(_("Нет заголовков %(ts)s и %(sig)s") % {"ts": TIMESTAMP_HEADER,
                                                               "sig": SIGNATURE_HEADER})
    if not timestamp.isdecimal() or abs(now - int(timestamp)) > REPLAY_WINDOW:
        raise Refused(_("Метка времени %(ts)s вне окна ±%(n)s с: запрос устарел или повторён")
                      % {"ts": timestamp[:20], "n": REPLAY_WINDOW})
    if not same(signature, sign(str(conn.secrets.get("secret", "")), timestamp, body)):
        raise Refused(_("Подпись не сходится"))


def parse(conn: Connection, *, body: bytes, content_type: str) -> Incoming:
    data = obj(json_body(body), "")
    order_id = text(data.get("order_id"))
    if not order_id:
        raise PayloadProblem("order_id", _("Укажите order_id — номер заказа в магазине"))
    if len(order_id) > 100:
        raise PayloadProblem("order_id", _("Не длиннее 100 знаков"))
    order = obj(data.get("order"), "order")
    return Incoming(external_id=order_id, event=text(data.get("event")) or "order",
                    order=order)


def fetch(conn: Connection, incoming: Incoming, http: httpx.Client) -> None:
    return None  # the order is in the call


def to_shipment(conn: Connection, incoming: Incoming) -> dict[str, Any]:
    data = dict(incoming.order or {})
    data.setdefault("order_number", incoming.external_id)
    return data


def write_back(conn: Connection, *, external_id: str, tracking_number: str, status: str,
               http: httpx.Client) -> dict[str, Any]:
    return {}  # the shop reads statuses through the REST API or Shipdesk's own webhooks
