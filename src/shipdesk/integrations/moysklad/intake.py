"""MoySklad orders in: the orders webhooks named are read (100 a request, with buyer and
goods); one in the trigger state without a shipment becomes one through the shipments
intake (the delivery rules choose carrier and service; registration follows as intake
dispatches it); no address or an unknown delivery type is a problem written back; an order
edited while its shipment is on its way is flagged for the operator."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from shipdesk.integrations.models import MoySkladConnection, MoySkladOrder
from shipdesk.integrations.moysklad.base import RunOutcome, save_rows
from shipdesk.integrations.moysklad.client import MoySkladClient, id_of, kopecks
from shipdesk.tenancy.services import system_actor

PACKAGING_G = 100


CHUNK = 1000  # orders read, then taken in, at a time
PREFETCH = 10  # chunks claimed per call: the next is read while this one is taken in


def fetch_due_orders(connection: MoySkladConnection, client: MoySkladClient,
                     outcome: RunOutcome) -> int:
    """Reads the orders webhooks named and takes them in, 1,000 at a time; the next
    thousand is read from MoySklad (a thread: network and MoySklad's time) while this one
    goes through intake and registration (our database's time). Returns how many were due."""
    due = list(MoySkladOrder.objects.filter(connection=connection, fetch_due=True)
               .order_by("pk")[:CHUNK * PREFETCH])
    if not due:
        return 0
    chunks = [due[i:i + CHUNK] for i in range(0, len(due), CHUNK)]
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="moysklad-read") as reader:
        reading: Future[list[dict[str, Any]]] = reader.submit(
            client.orders_by_id, [d.order_id for d in chunks[0]])
        for n, chunk in enumerate(chunks):
            found = reading.result()
            if n + 1 < len(chunks):
                reading = reader.submit(client.orders_by_id,
                                        [d.order_id for d in chunks[n + 1]])
            _take(connection, chunk, {o["id"]: o for o in found}, outcome)
    return len(due)


def _take(connection: MoySkladConnection, due: list[MoySkladOrder],
          orders: dict[str, dict[str, Any]], outcome: RunOutcome) -> None:
    outcome.fetched += len(orders)
    to_ship: list[tuple[MoySkladOrder, dict[str, Any], str]] = []
    now_changed: list[MoySkladOrder] = []
    for row in due:
        row.fetch_due = False
        order = orders.get(row.order_id)
        if order is None:  # deleted meanwhile
            now_changed.append(row)
            continue
        row.name = str(order.get("name", ""))[:64]
        row.state_id = id_of(order.get("state"))
        row.description = str(order.get("description") or "")
        row.sum_kop = int(order.get("sum") or 0)
        row.agent_href = ((order.get("agent") or {}).get("meta") or {}).get("href", "")
        digest = _content_hash(order)
        if row.shipment_id is not None:
            if row.content_hash and digest != row.content_hash and not row.edited_in_flight:
                row.edited_in_flight = True
                row.problem_kind = "edited"
                row.problem = _(
                    "Заказ изменён в МоёмСкладе после создания отправления (адрес или товары): "
                    "проверьте отправление и подтвердите или отмените его")
                outcome.edited += 1
        elif row.state_id == connection.trigger_state_id and connection.trigger_state_id:
            to_ship.append((row, order, digest))
        now_changed.append(row)
    save_rows(now_changed, [
        "fetch_due", "name", "state_id", "description", "sum_kop", "agent_href",
        "edited_in_flight", "problem_kind", "problem"])
    if to_ship:
        _intake(connection, to_ship, outcome)


def _content_hash(order: dict[str, Any]) -> str:
    address = order.get("shipmentAddressFull") or {}
    positions = [(id_of(p.get("assortment")), p.get("quantity"), p.get("price"))
                 for p in ((order.get("positions") or {}).get("rows") or [])]
    text = json.dumps([{k: v for k, v in address.items() if k in (
        "postalCode", "city", "street", "house", "apartment", "addInfo")},
        order.get("shipmentAddress", ""), positions], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _attribute(order: dict[str, Any], attribute_id: str) -> Any:
    for attribute in order.get("attributes") or []:
        if attribute.get("id") == attribute_id or id_of(attribute).endswith(attribute_id):
            value = attribute.get("value")
            if isinstance(value, dict):  # a custom directory's element
                return value.get("name", "")
            return value
    return None


@dataclass
class Mapped:
    data: dict[str, Any] | None = None
    kind: str = ""
    problem: str = ""


def order_to_shipment(connection: MoySkladConnection, order: dict[str, Any]) -> Mapped:
    """A MoySklad customer order as the shipments intake takes it, or the problem why not."""
    from shipdesk.carriers import registry

    address = order.get("shipmentAddressFull") or {}
    if not (address.get("postalCode") or address.get("city")):
        return Mapped(kind="address", problem=_("В заказе нет адреса доставки"))
    data: dict[str, Any] = {"order_number": str(order.get("name", ""))}
    if connection.delivery_attribute_id:
        value = str(_attribute(order, connection.delivery_attribute_id) or "").strip()
        if value:
            target = connection.delivery_map.get(value) or (
                value if value.split(":")[0] in registry.all_codes() else "")
            if not target:
                return Mapped(kind="delivery", problem=_(
                    "Неизвестный способ доставки «%(v)s»: сопоставьте его с перевозчиком на "
                    "странице подключения МоегоСклада") % {"v": value})
            code, _sep, service = target.partition(":")
            data["carrier_code"] = code
            if service:
                data["service_code"] = service
    agent = order.get("agent") or {}
    data.update({
        "recipient_name": agent.get("legalTitle") or agent.get("name", ""),
        "recipient_phone": agent.get("phone", ""), "recipient_email": agent.get("email", ""),
        "index": address.get("postalCode", ""), "city": address.get("city", ""),
        "street": address.get("street", ""), "house": address.get("house", ""),
        "apartment": address.get("apartment", ""),
        "comment": str(order.get("description") or "")[:500]})
    items, weight = [], 0
    for position in (order.get("positions") or {}).get("rows") or []:
        goods = position.get("assortment") or {}
        quantity = max(1, round(float(position.get("quantity") or 1)))
        grams = round(float(goods.get("weight") or 0) * 1000)
        price = Decimal(kopecks(position.get("price") or 0)) / 10_000  # kopecks → rubles
        discount = Decimal(str(position.get("discount") or 0))
        price = (price * (100 - discount) / 100).quantize(Decimal("0.01"))
        items.append({"name": goods.get("name", "") or _("Товар"), "quantity": quantity,
                      "unit_price": price, "weight_g": grams, "article": goods.get("code", "")})
        weight += grams * quantity
    total = Decimal(int(order.get("sum") or 0)) / 100
    paid = Decimal(int(order.get("payedSum") or 0)) / 100
    data.update({"items": items, "weight_g": weight + PACKAGING_G, "declared_value": total,
                 "cod_amount": max(Decimal(0), total - paid)})
    return Mapped(data=data)


def _intake(connection: MoySkladConnection,
            batch: list[tuple[MoySkladOrder, dict[str, Any], str]], outcome: RunOutcome) -> None:
    from shipdesk.shipments.services import shipments_intake

    actor = system_actor(connection.organization)
    rows: list[tuple[int, dict[str, Any]]] = []
    by_ref: dict[int, tuple[MoySkladOrder, str]] = {}
    problems: list[MoySkladOrder] = []
    for n, (row, order, digest) in enumerate(batch):
        mapped = order_to_shipment(connection, order)
        if mapped.data is None:
            row.problem_kind, row.problem, row.push_due = mapped.kind, mapped.problem, True
            problems.append(row)
            continue
        rows.append((n, mapped.data))
        by_ref[n] = (row, digest)
    result = shipments_intake(actor=actor, rows=iter(rows), source="moysklad",
                              loc_prefix=("orders",))
    for item in result.results:
        row, digest = by_ref[item.ref]
        if item.ok:
            row.shipment_id, row.content_hash = item.shipment_id, digest
            row.problem_kind = row.problem = ""
            row.push_due = True
            outcome.shipments += 1
        elif item.errors:
            row.problem_kind = "invalid"
            row.problem = "; ".join(e.message for e in item.errors)[:2000]
            row.push_due = True
            problems.append(row)
    outcome.problems += len(problems)
    save_rows(
        [r for r, _d in by_ref.values()] + problems,
        ["shipment", "content_hash", "problem_kind", "problem", "push_due"])
