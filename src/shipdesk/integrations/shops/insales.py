"""InSales: the order webhook (topics ``orders/create`` and ``orders/update``, JSON) and
writing the tracking number and status back through the InSales REST API.

The webhook body is the order as ``GET /admin/orders/{id}.json`` gives it: ``id``,
``number``, ``client`` (``name``, ``surname``, ``middlename``, ``phone``, ``email``),
``shipping_address`` (``full_name``, ``phone``, ``zip``, ``country``, ``state``,
``full_locality_name`` / ``city``, ``address``, ``street``, ``house``, ``flat``),
``order_lines`` (``title``, ``sku``, ``quantity``, ``sale_price``, ``weight`` in kg),
``total_price``, ``delivery_price``, ``fulfillment_status``, ``financial_status``,
``payment_gateway_title``. InSales does not sign its webhooks: the address InSales is given
carries the connection's secret key (``?key=``), checked here. See doc.md."""

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
    grams,
    json_body,
    money,
    obj,
    same,
    text,
)

code = "insales"
field_map = {
    "order_number": "number", "recipient_surname": "shipping_address.full_name",
    "recipient_phone": "shipping_address.phone", "recipient_email": "client.email",
    "index": "shipping_address.zip", "city": "shipping_address.full_locality_name",
    "street": "shipping_address.address", "address": "shipping_address.address",
    "country": "shipping_address.country", "weight_g": "order_lines.weight",
    "items": "order_lines", "cod_amount": "total_price",
}
# Shipdesk's carrier status -> InSales fulfillment_status
STATUSES = {"accepted": "dispatched", "in_transit": "dispatched",
            "arrived_at_pickup": "dispatched", "delivered": "delivered",
            "returned": "returned"}


def verify(conn: Connection, *, body: bytes, headers: Mapping[str, str],
           query: Mapping[str, str], now: float) -> None:
    if not same(query.get("key", ""), str(conn.secrets.get("secret", ""))):
        raise Refused(_("Неверный ключ в адресе вебхука (?key=)"))


def parse(conn: Connection, *, body: bytes, content_type: str) -> Incoming:
    order = obj(json_body(body), "")
    if "order" in order and isinstance(order["order"], dict):  # {"order": {...}} also taken
        order = order["order"]
    order_id = text(order.get("id"))
    if not order_id:
        raise PayloadProblem("id", _("Нет id заказа InSales"))
    wanted = text(conn.config.get("trigger_status"))
    status = text(order.get("fulfillment_status"))
    incoming = Incoming(external_id=order_id, event="orders", order=order)
    if wanted and status != wanted:
        incoming.trigger = False
        incoming.reason = _("Статус заказа «%(s)s», отправление создаётся в «%(w)s»") % {
            "s": status, "w": wanted}
    return incoming


def fetch(conn: Connection, incoming: Incoming, http: httpx.Client) -> None:
    return None  # the order is in the webhook


def to_shipment(conn: Connection, incoming: Incoming) -> dict[str, Any]:
    order = incoming.order or {}
    client: dict[str, Any] = order["client"] if isinstance(order.get("client"), dict) else {}
    address = obj(order.get("shipping_address"), "shipping_address")
    lines = order.get("order_lines")
    if not isinstance(lines, list):
        raise PayloadProblem("order_lines", _("Ожидался список позиций заказа"))
    items, weight = [], 0
    for n, line in enumerate(lines):
        line = obj(line, f"order_lines.{n}")
        quantity = int(money(line.get("quantity")) or 1)
        line_weight = grams(line.get("weight"), kilograms=True) or 0
        weight += line_weight * quantity
        items.append({"name": text(line.get("title")) or text(line.get("sku")),
                      "article": text(line.get("sku")), "quantity": quantity,
                      "unit_price": money(line.get("sale_price")), "weight_g": line_weight})
    name = text(address.get("full_name")) or " ".join(
        text(client.get(k)) for k in ("surname", "name", "middlename") if client.get(k))
    paid = text(order.get("financial_status")) == "paid"
    country = text(address.get("country")) or "RU"
    data: dict[str, Any] = {
        "order_number": text(order.get("number")) or incoming.external_id,
        "recipient_name": name,
        "recipient_phone": text(address.get("phone")) or text(client.get("phone")),
        "recipient_email": text(client.get("email")),
        "index": text(address.get("zip")), "country": country,
        "region": text(address.get("state")),
        "city": text(address.get("full_locality_name")) or text(address.get("city")),
        "address": text(address.get("address")),
        "items": items, "comment": text(order.get("comment"))[:500],
    }
    if not paid:  # not paid in the shop: the carrier collects it, the value declared
        data["cod_amount"] = data["declared_value"] = money(order.get("total_price"))
    if weight:
        data["weight_g"] = weight
    return data


def write_back(conn: Connection, *, external_id: str, tracking_number: str, status: str,
               http: httpx.Client) -> dict[str, Any]:
    """``PUT /admin/orders/{id}.json`` (Basic auth: the app's login and password) with the
    fulfillment status and the tracking number in the order's additional field (its
    ``handle`` from the connection's settings, «tracking_number» by default)."""
    base = text(conn.config.get("api_url")).rstrip("/")
    if not base:
        return {}
    order: dict[str, Any] = {}
    if status in STATUSES:
        order["fulfillment_status"] = STATUSES[status]
    if tracking_number:
        order["fields_values_attributes"] = [{
            "handle": text(conn.config.get("tracking_field")) or "tracking_number",
            "value": tracking_number}]
    if not order:
        return {}
    response = http.put(f"{base}/admin/orders/{external_id}.json", json={"order": order},
                        auth=(text(conn.config.get("api_login")),
                              str(conn.secrets.get("api_password", ""))))
    check_answer(response, "InSales")
    return order
