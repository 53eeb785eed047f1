"""amoCRM: a deal (lead) moved to the trigger stage becomes a shipment.

amoCRM's webhooks are form-encoded: ``leads[status][0][id]``,
``leads[status][0][status_id]``, ``leads[status][0][pipeline_id]``,
``leads[status][0][old_status_id]``, ``account[id]``, ``account[subdomain]``. They carry no
signature: the address holds the connection's key (``?key=``) and the account must be the
connected one. The deal itself is read through API v4 (``GET /api/v4/leads/{id}
?with=contacts``, then the main contact ``GET /api/v4/contacts/{id}``; a long-lived token
as ``Authorization: Bearer``). The delivery fields are the deal's custom fields, found by
name (Индекс, Город, Адрес, Вес, г); the phone and e-mail are the contact's PHONE / EMAIL
fields. Written back: the tracking number into the deal's field «Трек-номер» (its id in
the connection's settings) and a note (``POST /api/v4/leads/{id}/notes``)."""

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

code = "amocrm"
field_map = {"recipient_surname": "contact.name", "recipient_phone": "contact.PHONE",
             "recipient_email": "contact.EMAIL", "index": "lead.Индекс",
             "city": "lead.Город", "address": "lead.Адрес", "street": "lead.Адрес",
             "weight_g": "lead.Вес, г", "declared_value": "lead.price"}
LEAD_FIELDS = {"индекс": "index", "город": "city", "адрес": "address", "вес, г": "weight_g",
               "вес": "weight_g", "пункт выдачи": "pickup_point_code"}


def verify(conn: Connection, *, body: bytes, headers: Mapping[str, str],
           query: Mapping[str, str], now: float) -> None:
    if not same(query.get("key", ""), str(conn.secrets.get("secret", ""))):
        raise Refused(_("Неверный ключ в адресе вебхука (?key=)"))
    form = form_body(body)
    account = text(conn.config.get("account_id"))
    if account and form.get("account[id]", "") != account:
        raise Refused(_("Вебхук другого аккаунта amoCRM (account[id]=%(v)s)") % {
            "v": form.get("account[id]", "")[:20]})


def parse(conn: Connection, *, body: bytes, content_type: str) -> Incoming:
    form = form_body(body)
    lead_id = form.get("leads[status][0][id]", "")
    if not lead_id:
        if form.get("leads[add][0][id]") or form.get("leads[update][0][id]"):
            return Incoming(external_id=form.get("leads[add][0][id]") or form.get(
                "leads[update][0][id]", ""), event="leads", trigger=False,
                reason=_("Не смена этапа сделки"))
        raise PayloadProblem("leads[status][0][id]", _("Нет id сделки"))
    if not lead_id.isdecimal():
        raise PayloadProblem("leads[status][0][id]", _("id сделки — число"))
    status = form.get("leads[status][0][status_id]", "")
    pipeline = form.get("leads[status][0][pipeline_id]", "")
    incoming = Incoming(external_id=lead_id, event="leads[status]",
                        extra={"status_id": status, "pipeline_id": pipeline})
    wanted = text(conn.config.get("trigger_status"))
    wanted_pipeline = text(conn.config.get("pipeline_id"))
    if (wanted and status != wanted) or (wanted_pipeline and pipeline != wanted_pipeline):
        incoming.trigger = False
        incoming.reason = _("Этап %(s)s, отправление создаётся на этапе %(w)s") % {
            "s": status, "w": wanted}
    return incoming


def _base(conn: Connection) -> str:
    base = text(conn.config.get("api_url")).rstrip("/")
    if not base:
        raise FetchFailed(_("Не указан адрес аккаунта amoCRM"))
    return base


def _auth(conn: Connection) -> dict[str, str]:
    return {"Authorization": f"Bearer {conn.secrets.get('api_token', '')}"}


def fetch(conn: Connection, incoming: Incoming, http: httpx.Client) -> None:
    base = _base(conn)
    lead = check_answer(http.get(f"{base}/api/v4/leads/{incoming.external_id}",
                                 params={"with": "contacts"}, headers=_auth(conn)),
                        _("Сделка amoCRM"))
    contacts = ((lead.get("_embedded") or {}).get("contacts") or [])
    main = next((c for c in contacts if c.get("is_main")), contacts[0] if contacts else None)
    contact: dict[str, Any] = {}
    if main is not None:
        contact = check_answer(http.get(f"{base}/api/v4/contacts/{main['id']}",
                                        headers=_auth(conn)), _("Контакт amoCRM"))
    incoming.order = {"lead": lead, "contact": contact}


def _fields(entity: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field name, field code, first value) of an entity's custom fields."""
    out = []
    for f in entity.get("custom_fields_values") or []:
        values = f.get("values") or []
        out.append((text(f.get("field_name")), text(f.get("field_code")),
                    text(values[0].get("value")) if values else ""))
    return out


def to_shipment(conn: Connection, incoming: Incoming) -> dict[str, Any]:
    order = incoming.order or {}
    lead, contact = order.get("lead") or {}, order.get("contact") or {}
    data: dict[str, Any] = {"order_number": f"amo-{incoming.external_id}",
                            "recipient_name": text(contact.get("name")),
                            "declared_value": money(lead.get("price"))}
    for name, _code, value in _fields(lead):
        target = LEAD_FIELDS.get(name.lower())
        if target == "weight_g":
            data[target] = grams(value, kilograms=False)
        elif target:
            data[target] = value
    for _name, field_code, value in _fields(contact):
        if field_code == "PHONE":
            data["recipient_phone"] = value
        elif field_code == "EMAIL":
            data["recipient_email"] = value
    if conn.config.get("cod"):
        data["cod_amount"] = data["declared_value"]
    return data


def write_back(conn: Connection, *, external_id: str, tracking_number: str, status: str,
               http: httpx.Client) -> dict[str, Any]:
    base = text(conn.config.get("api_url")).rstrip("/")
    if not base or not tracking_number:
        return {}
    sent: dict[str, Any] = {}
    field_id = text(conn.config.get("tracking_field_id"))
    if field_id.isdecimal():
        body = {"custom_fields_values": [{"field_id": int(field_id),
                                          "values": [{"value": tracking_number}]}]}
        check_answer(http.patch(f"{base}/api/v4/leads/{external_id}", json=body,
                                headers=_auth(conn)), _("Сделка amoCRM"))
        sent["field"] = tracking_number
    note = [{"note_type": "common", "params": {"text": _(
        "Shipdesk: трек-номер %(n)s, статус: %(s)s") % {"n": tracking_number,
                                                         "s": status or "—"}}}]
    check_answer(http.post(f"{base}/api/v4/leads/{external_id}/notes", json=note,
                           headers=_auth(conn)), _("Примечание amoCRM"))
    sent["note"] = status
    return sent
