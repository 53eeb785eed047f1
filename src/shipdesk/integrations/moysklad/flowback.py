"""MoySklad orders back: tracking number, carrier status (mapped to the account's states) and
problems written to the orders, 1,000 a request, never overwriting a state a person set after
ours (we remember the state we set)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from shipdesk.integrations.models import MoySkladConnection, MoySkladOrder
from shipdesk.integrations.moysklad.base import FINAL, MAPPABLE, NOTE, RunOutcome, save_rows
from shipdesk.integrations.moysklad.client import (
    MoySkladClient,
    attribute_value,
    entity_meta,
    id_of,
    state_meta,
)
from shipdesk.tenancy.services import system_actor


@dataclass
class _Wanted:
    row: MoySkladOrder
    tracking: str = ""
    status: str = ""
    problem: str = ""
    changes: dict[str, Any] = field(default_factory=dict)


def _shipment_facts(connection: MoySkladConnection, shipment_ids: list[int]
                    ) -> dict[int, dict[str, Any]]:
    from shipdesk.shipments.selectors import shipment_list

    actor = system_actor(connection.organization)
    facts: dict[int, dict[str, Any]] = {}
    for start in range(0, len(shipment_ids), 5000):
        for fact in shipment_list(actor=actor).filter(
                pk__in=shipment_ids[start:start + 5000]).values(
                "pk", "tracking_number", "tracking_status", "registration",
                "registration_error", "state", "carrier_code"):
            facts[fact["pk"]] = dict(fact)
    return facts


def _status_of(fact: dict[str, Any]) -> str:
    if fact["state"] == "cancelled":
        return "cancelled"
    if fact["tracking_status"] and fact["tracking_status"] in MAPPABLE:
        return str(fact["tracking_status"])
    if fact["tracking_number"] and fact["registration"] in ("registered", ""):
        return "numbered"
    return ""


def push_back(connection: MoySkladConnection, client: MoySkladClient, outcome: RunOutcome) -> None:
    rows = list(MoySkladOrder.objects.filter(connection=connection).filter(
        push_due=True) | MoySkladOrder.objects.filter(
        connection=connection, shipment__isnull=False).exclude(pushed_status__in=FINAL))
    if not rows:
        return
    facts = _shipment_facts(connection, [r.shipment_id for r in rows if r.shipment_id])
    wanted: list[_Wanted] = []
    quiet = ("push_due", "problem_kind", "problem", "pushed_status", "pushed_tracking")
    before = {id(r): tuple(getattr(r, f) for f in quiet) for r in rows}
    for row in rows:
        want = _Wanted(row)
        fact = facts.get(row.shipment_id) if row.shipment_id else None
        if fact is not None:
            outcome.waiting += fact["registration"] == "pending"
            want.tracking = fact["tracking_number"] or ""
            want.status = _status_of(fact)
            if fact["registration"] == "rejected":
                want.problem = _("Перевозчик отклонил отправление: %(e)s") % {
                    "e": fact["registration_error"]}
                row.problem_kind, row.problem = "carrier", want.problem
            elif row.problem_kind == "carrier":
                row.problem_kind = row.problem = ""
        elif row.problem:
            want.problem = row.problem
        if row.problem_kind == "edited":
            want.problem = ""  # the operator decides in Shipdesk; nothing written to the order
        _changes(connection, want)
        row.push_due = False
        if want.changes:
            wanted.append(want)
    writing = {id(w.row) for w in wanted}
    save_rows([r for r in rows if id(r) not in writing
                and before[id(r)] != tuple(getattr(r, f) for f in quiet)], list(quiet))
    if not wanted:
        return
    body = [{"meta": entity_meta(f"{connection.base_url}/entity/customerorder/{w.row.order_id}",
                                 "customerorder")["meta"], **w.changes} for w in wanted]
    client.update_many("customerorder", body)
    for w in wanted:
        row = w.row
        row.pushed_tracking = w.tracking or row.pushed_tracking
        row.pushed_status = w.status or row.pushed_status
        row.pushed_problem = w.problem
        if "state" in w.changes:
            row.state_we_set = row.state_id = id_of(w.changes["state"])
        if "description" in w.changes:
            row.description = w.changes["description"]
    save_rows(
        [w.row for w in wanted],
        ["push_due", "problem_kind", "problem", "pushed_tracking", "pushed_status",
         "pushed_problem", "state_we_set", "state_id", "description"])
    outcome.pushed += len(wanted)


def _person_moved(row: MoySkladOrder, connection: MoySkladConnection) -> bool:
    """Whether a person set the order's state after us (then we leave the state alone)."""
    if row.state_we_set:
        return row.state_id != row.state_we_set
    return bool(row.state_id) and row.state_id != connection.trigger_state_id


def _changes(connection: MoySkladConnection, want: _Wanted) -> None:
    row, base = want.row, connection.base_url
    attributes = []
    if want.tracking and want.tracking != row.pushed_tracking and connection.tracking_attribute_id:
        attributes.append(attribute_value(base, connection.tracking_attribute_id, want.tracking))
    if attributes:
        want.changes["attributes"] = attributes
    state = ""
    if want.problem and want.problem != row.pushed_problem:
        state = connection.problem_state_id
        note = f"{NOTE}{want.problem}"
        if note not in row.description:
            want.changes["description"] = (f"{row.description}\n{note}" if row.description
                                           else note)[:4096]
    elif want.status and want.status != row.pushed_status:
        state = connection.state_map.get(want.status, "")
    if state and state != row.state_id and not _person_moved(row, connection):
        want.changes["state"] = state_meta(base, state)
    if not want.changes:  # nothing to write (a person's state kept): remember what we saw
        row.pushed_status = want.status or row.pushed_status
        row.pushed_tracking = want.tracking or row.pushed_tracking
