"""Finance's operations posted to MoySklad, linked to the order and its demand, each with a
``syncId`` of its own (kept before sending: a lost answer is sent again with the same one and
MoySklad answers with the document already made): incoming payment, services accepted,
services paid, the state "Completed"; on a refusal a customer return based on the demand and
the state "Returned". Sums in kopecks."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from shipdesk.integrations.models import MoySkladConnection, MoySkladOperation, MoySkladOrder
from shipdesk.integrations.moysklad.base import RunOutcome
from shipdesk.integrations.moysklad.client import MoySkladClient, entity_meta, kopecks, state_meta
from shipdesk.tenancy.services import system_actor


def post_money(connection: MoySkladConnection, client: MoySkladClient, outcome: RunOutcome) -> None:
    """Finance's paid and refused receivables of this connection's orders, posted once."""
    from shipdesk.finance import selectors as finance

    actor = system_actor(connection.organization)
    linked = dict(MoySkladOrder.objects.filter(connection=connection, shipment__isnull=False)
                  .values_list("shipment_id", "pk"))
    if not linked:
        return
    done = set(MoySkladOperation.objects.filter(connection=connection).exclude(entity_id="")
               .values_list("order_id", "kind"))
    receivables = [r for r in list(finance.orders(actor=actor, state="paid", limit=10_000))
                   + list(finance.returns(actor=actor, limit=10_000))
                   if r.shipment_id in linked]
    if not receivables:
        return
    orders = {o.pk: o for o in MoySkladOrder.objects.filter(pk__in=[linked[r.shipment_id]
                                                                    for r in receivables])}
    for receivable in receivables:
        order = orders[linked[receivable.shipment_id]]
        outcome.operations += _post_order_money(connection, client, order, receivable, done)


def _operation(connection: MoySkladConnection, order: MoySkladOrder, kind: str
               ) -> MoySkladOperation:
    operation, _created = MoySkladOperation.objects.get_or_create(
        connection=connection, order=order, kind=kind,
        defaults={"organization_id": connection.organization_id, "sync_id": uuid.uuid4()})
    return operation


def _create_once(connection: MoySkladConnection, client: MoySkladClient, order: MoySkladOrder,
                 kind: str, data: dict[str, Any], done: set[tuple[int, str]]) -> str:
    """Creates the document with its own ``syncId`` (kept before sending: a lost answer is
    sent again with the same one and MoySklad answers with the document already made)."""
    operation = _operation(connection, order, kind)
    if operation.entity_id:
        return operation.entity_id
    answer = client.create(kind, {**data, "syncId": str(operation.sync_id)})
    operation.entity_id = answer["id"]
    operation.sum_kop = int(answer.get("sum") or data.get("sum") or 0)
    operation.save(update_fields=["entity_id", "sum_kop", "updated_at"])
    done.add((order.pk, kind))
    return operation.entity_id


def _post_order_money(connection: MoySkladConnection, client: MoySkladClient,
                      order: MoySkladOrder, receivable: Any, done: set[tuple[int, str]]) -> int:
    kinds_before = len(done)
    base = connection.base_url
    order_meta = entity_meta(f"{base}/entity/customerorder/{order.order_id}", "customerorder")
    seller = entity_meta(connection.organization_href, "organization")
    agent = entity_meta(order.agent_href, "counterparty")
    demand_id = order.demand_id
    if not demand_id:
        template = client.demand_template(order_meta["meta"]["href"])
        positions = (template.pop("positions", None) or {}).get("rows", [])
        demand_id = _create_once(connection, client, order, "demand",
                                 {**template, "positions": positions}, done)
        order.demand_id = demand_id
        order.save(update_fields=["demand_id", "updated_at"])
    demand_meta = entity_meta(f"{base}/entity/demand/{demand_id}", "demand")
    fees = sum((Decimal(receivable.fee_commission), Decimal(receivable.fee_delivery),
                Decimal(receivable.fee_insurance), Decimal(receivable.fee_return)), Decimal(0))
    returned = receivable.order_state == "returned"
    store = client.first("store")
    if returned:
        _create_once(connection, client, order, "salesreturn", {
            "organization": seller, "agent": agent, "demand": demand_meta,
            "store": {"meta": store["meta"]} if store else None,
            "positions": (client.request("GET", f"/entity/demand/{demand_id}",
                                         params={"expand": "positions"}).get("positions") or {}
                          ).get("rows", [])}, done)
    else:
        # the buyer paid the whole cash on delivery; what the carrier kept is its services
        paid = kopecks(receivable.cod_amount)
        _create_once(connection, client, order, "paymentin", {
            "organization": seller, "agent": agent, "sum": paid,
            "paymentPurpose": _("Наложенный платёж по заказу %(o)s (трек %(t)s)") % {
                "o": order.name, "t": receivable.tracking_number},
            "operations": [{**order_meta, "linkedSum": paid},
                           {**demand_meta, "linkedSum": paid}]}, done)
    if fees and not returned:
        carrier = _carrier_counterparty(client, receivable.carrier_code)
        # a receipt's sum is its positions': the carrier's services as one service position
        _create_once(connection, client, order, "supply", {
            "organization": seller, "agent": carrier,
            "store": {"meta": store["meta"]} if store else None,
            "positions": [{"quantity": 1, "price": kopecks(fees),
                           "assortment": _delivery_service(client)}],
            "description": _("Услуги перевозчика по заказу %(o)s") % {"o": order.name}}, done)
    if fees and not returned and receivable.fees_mode == "deducted":
        expense = client.first("expenseitem")
        _create_once(connection, client, order, "paymentout", {
            "organization": seller, "agent": carrier, "sum": kopecks(fees),
            "expenseItem": {"meta": expense["meta"]} if expense else None,
            "paymentPurpose": _("Услуги доставки по заказу %(o)s (удержаны из наложенного "
                                "платежа)") % {"o": order.name}}, done)
    state_kind, state_id = (("returned", connection.returned_state_id) if returned
                            else ("completed", connection.completed_state_id))
    operation = _operation(connection, order, state_kind)
    if state_id and not operation.entity_id:
        client.update_many("customerorder", [{**order_meta, "state": state_meta(base, state_id)}])
        operation.entity_id = state_id
        operation.save(update_fields=["entity_id", "updated_at"])
        order.state_we_set = order.state_id = state_id
        order.pushed_status = "returned" if returned else "delivered"
        order.save(update_fields=["state_we_set", "state_id", "pushed_status", "updated_at"])
        done.add((order.pk, state_kind))
    return len(done) - kinds_before


def _delivery_service(client: MoySkladClient) -> dict[str, Any]:
    """The account's service "Услуги доставки" (made once if it has none)."""
    name = _("Услуги доставки")
    found = list(client.rows("service", filters=[f"name={name}"], limit=1))
    if found:
        return {"meta": found[0]["meta"]}
    return {"meta": client.create("service", {"name": name})["meta"]}


def _carrier_counterparty(client: MoySkladClient, carrier_code: str) -> dict[str, Any]:
    from shipdesk.carriers.names import carrier_name

    name = str(carrier_name(carrier_code))
    found = list(client.rows("counterparty", filters=[f"name={name}"], limit=1))
    if found:
        return {"meta": found[0]["meta"]}
    created = client.create("counterparty", {"name": name, "companyType": "legal"})
    return {"meta": created["meta"]}
