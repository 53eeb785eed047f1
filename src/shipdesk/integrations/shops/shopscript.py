"""Shop-Script (Webasyst): the order sent by a webhook plugin on an order action, and the
tracking number written back with the order action «ship» of the Webasyst API.

The body is JSON, ``{"event": "order.<action>", "order": {...}}`` with the order as the
API's ``shop.order.getInfo`` gives it: ``id``, ``id_str`` (the «#100123» number),
``state_id``, ``total``, ``contact`` (``name``, ``phone``, ``email``), ``params`` (flat
keys ``shipping_address.zip``, ``shipping_address.region``, ``shipping_address.city``,
``shipping_address.street``, ``shipping_address.country``, ``shipping_name``), ``items``
(``name``, ``quantity``, ``price``, ``sku_code``). Webasyst has no signature of its own:
the plugin sends the connection's key in the ``X-Shipdesk-Key`` header or ``?key=``.
Write back: ``POST /api.php/shop.order.action?access_token=…`` with ``id``,
``action=ship`` and ``tracking_number``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from django.utils.translation import gettext as _

from shipdesk.integrations.shops.base import (
    Connection,
    Incoming,
    PayloadProblem,
    Refused,
    check_answer,
    json_body,
    money,
    obj,
    same,
    text,
)

code = "shopscript"
field_map = {"order_number": "order.id_str", "recipient_surname": "order.contact.name",
             "recipient_phone": "order.contact.phone", "recipient_email": "order.contact.email",
             "index": "order.params.shipping_address.zip",
             "city": "order.params.shipping_address.city",
             "street": "order.params.shipping_address.street",
             "address": "order.params.shipping_address.street",
             "items": "order.items", "weight_g": "order.params.weight"}


def verify(conn: Connection, *, body: bytes, headers: Mapping[str, str],
           query: Mapping[str, str], now: float) -> None:
    given = headers.get("X-Shipdesk-Key", "") or query.get("key", "")
    if not same(given, str(conn.secrets.get("secret", ""))):
        raise Refused(_("Неверный ключ (X-Shipdesk-Key или ?key=)"))


def parse(conn: Connection, *, body: bytes, content_type: str) -> Incoming:
    data = obj(json_body(body), "")
    order = obj(data.get("order"), "order")
    order_id = text(order.get("id"))
    if not order_id:
        raise PayloadProblem("order.id", _("Нет id заказа"))
    incoming = Incoming(external_id=order_id, event=text(data.get("event")), order=order)
    wanted = text(conn.config.get("trigger_status"))
    if wanted and text(order.get("state_id")) != wanted:
        incoming.trigger = False
        incoming.reason = _("Статус заказа «%(s)s», отправление создаётся в «%(w)s»") % {
            "s": text(order.get("state_id")), "w": wanted}
    return incoming


def fetch(conn: Connection, incoming: Incoming, http: httpx.Client) -> None:
    return None


def to_shipment(conn: Connection, incoming: Incoming) -> dict[str, Any]:
    order = incoming.order or {}
    contact: dict[str, Any] = order["contact"] if isinstance(order.get("contact"), dict) else {}
    params: dict[str, Any] = order["params"] if isinstance(order.get("params"), dict) else {}
    items = order.get("items") or []
    if isinstance(items, dict):  # getInfo gives items keyed by id
        items = list(items.values())
    if not isinstance(items, list):
        raise PayloadProblem("order.items", _("Ожидался список товаров"))
    data: dict[str, Any] = {
        "order_number": text(order.get("id_str")).lstrip("#") or incoming.external_id,
        "recipient_name": text(contact.get("name")),
        "recipient_phone": text(contact.get("phone")),
        "recipient_email": text(contact.get("email")),
        "index": text(params.get("shipping_address.zip")),
        "region": text(params.get("shipping_address.region")),
        "city": text(params.get("shipping_address.city")),
        "street": text(params.get("shipping_address.street")),
        "items": [{"name": text(i.get("name")), "article": text(i.get("sku_code")),
                   "quantity": int(money(i.get("quantity")) or 1),
                   "unit_price": money(i.get("price"))} for i in items if isinstance(i, dict)],
    }
    country = text(params.get("shipping_address.country")).upper()
    data["country"] = "RU" if country in ("", "RUS") else country[:2]
    if text(params.get("weight")):
        from shipdesk.integrations.shops.base import grams

        data["weight_g"] = grams(params.get("weight"), kilograms=True)
    if not text(order.get("paid_date")):
        data["cod_amount"] = data["declared_value"] = money(order.get("total"))
    return data


def write_back(conn: Connection, *, external_id: str, tracking_number: str, status: str,
               http: httpx.Client) -> dict[str, Any]:
    base = text(conn.config.get("api_url")).rstrip("/")
    if not base or not tracking_number:
        return {}
    check_answer(http.post(f"{base}/api.php/shop.order.action",
                           params={"access_token": str(conn.secrets.get("api_token", ""))},
                           data={"id": external_id, "action": "ship",
                                 "tracking_number": tracking_number}),
                 _("Shop-Script"))
    return {"action": "ship", "tracking_number": tracking_number}
