"""1C-Bitrix, the «Интернет-магазин» (sale) module, through its REST outgoing webhook.

Bitrix calls the handler with a form-encoded body: ``event`` (``ONSALEORDERSAVED``),
``data[FIELDS][ID]`` (the order id), ``ts``, ``auth[domain]``, ``auth[member_id]`` and
``auth[application_token]`` — the token Bitrix shows when the outgoing webhook is made;
it is the documented way to know the call is the portal's, and is compared here. The order
itself is read through the incoming webhook's REST address (``sale.order.get`` with
``id``: ``result.order`` with ``accountNumber``, ``statusId``, ``price``,
``propertyValues`` by ``code`` — ZIP, CITY, ADDRESS, FIO, PHONE, EMAIL, LOCATION —,
``basketItems`` with ``name``, ``quantity``, ``price``, ``weight`` in grams, and
``shipments``). Written back: the tracking number onto the order's (non-system) shipment
(``sale.shipment.update``, ``fields.trackingNumber``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from django.utils.translation import gettext as _

from shipdesk.integrations.shops.base import (
    Connection,
    FetchFailed,
    Incoming,
    PayloadProblem,
    Refused,
    check_answer,
    form_body,
    grams,
    money,
    same,
    text,
)

code = "bitrix"
field_map = {"order_number": "order.accountNumber", "recipient_surname": "propertyValues.FIO",
             "recipient_phone": "propertyValues.PHONE", "recipient_email": "propertyValues.EMAIL",
             "index": "propertyValues.ZIP", "city": "propertyValues.CITY",
             "address": "propertyValues.ADDRESS", "street": "propertyValues.ADDRESS",
             "weight_g": "basketItems.weight", "items": "basketItems"}
EVENTS = {"ONSALEORDERSAVED", "ONSALEORDERADD", "ONSALESTATUSORDERCHANGE"}


def verify(conn: Connection, *, body: bytes, headers: Mapping[str, str],
           query: Mapping[str, str], now: float) -> None:
    form = form_body(body)
    if not same(form.get("auth[application_token]", ""),
                str(conn.secrets.get("application_token", ""))):
        raise Refused(_("auth[application_token] не совпадает с токеном исходящего вебхука"))


def parse(conn: Connection, *, body: bytes, content_type: str) -> Incoming:
    form = form_body(body)
    event = form.get("event", "").upper()
    if event not in EVENTS:
        raise PayloadProblem("event", _("Событие «%(e)s» не о заказе: ждём %(list)s") % {
            "e": event[:50], "list": ", ".join(sorted(EVENTS))})
    order_id = form.get("data[FIELDS][ID]", "")
    if not order_id.isdecimal():
        raise PayloadProblem("data[FIELDS][ID]", _("Нет номера (ID) заказа"))
    return Incoming(external_id=order_id, event=event)


def _rest(conn: Connection) -> str:
    base = text(conn.config.get("api_url")).rstrip("/")
    if not base:
        raise FetchFailed(_("Не указан REST-адрес входящего вебхука Битрикса"))
    return base


def fetch(conn: Connection, incoming: Incoming, http: httpx.Client) -> None:
    answer = check_answer(http.post(f"{_rest(conn)}/sale.order.get.json",
                                    json={"id": int(incoming.external_id)}),
                          _("Заказ Битрикса"))
    order = (answer.get("result") or {}).get("order") if isinstance(answer, dict) else None
    if not isinstance(order, dict):
        raise FetchFailed(_("Битрикс не вернул заказ %(id)s") % {"id": incoming.external_id})
    incoming.order = order
    wanted = text(conn.config.get("trigger_status"))
    status = text(order.get("statusId"))
    if wanted and status != wanted:
        incoming.trigger = False
        incoming.reason = _("Статус заказа «%(s)s», отправление создаётся в «%(w)s»") % {
            "s": status, "w": wanted}


def to_shipment(conn: Connection, incoming: Incoming) -> dict[str, Any]:
    order = incoming.order or {}
    props = {text(p.get("code")).upper(): text(p.get("value"))
             for p in order.get("propertyValues") or [] if isinstance(p, dict)}
    basket = order.get("basketItems") or []
    if not isinstance(basket, list):
        raise PayloadProblem("basketItems", _("Ожидался список товаров"))
    items, weight = [], 0
    for item in basket:
        quantity = int(money(item.get("quantity")) or 1)
        item_weight = grams(item.get("weight"), kilograms=False) or 0
        weight += item_weight * quantity
        items.append({"name": text(item.get("name")), "quantity": quantity,
                      "unit_price": money(item.get("price")), "weight_g": item_weight})
    data: dict[str, Any] = {
        "order_number": text(order.get("accountNumber")) or f"bx-{incoming.external_id}",
        "recipient_name": props.get("FIO", ""), "recipient_phone": props.get("PHONE", ""),
        "recipient_email": props.get("EMAIL", ""), "index": props.get("ZIP", ""),
        "city": props.get("CITY", ""), "address": props.get("ADDRESS", ""), "items": items,
    }
    if weight:
        data["weight_g"] = weight
    if text(order.get("payed")) != "Y":
        data["cod_amount"] = data["declared_value"] = money(order.get("price"))
    return data


def write_back(conn: Connection, *, external_id: str, tracking_number: str, status: str,
               http: httpx.Client) -> dict[str, Any]:
    base = text(conn.config.get("api_url")).rstrip("/")
    if not base or not tracking_number:
        return {}
    answer = check_answer(http.post(f"{base}/sale.shipment.list.json", json={
        "filter": {"orderId": int(external_id), "system": "N"}}), _("Отгрузки Битрикса"))
    shipments = ((answer.get("result") or {}).get("shipments") or [])
    if not shipments:
        return {}
    check_answer(http.post(f"{base}/sale.shipment.update.json", json={
        "id": shipments[0]["id"], "fields": {"trackingNumber": tracking_number}}),
        _("Отгрузка Битрикса"))
    return {"trackingNumber": tracking_number}
