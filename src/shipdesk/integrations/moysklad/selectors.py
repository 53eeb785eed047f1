"""MoySklad connections (read side): the orders that reached us and their problems."""

from __future__ import annotations

from typing import Any

from shipdesk.integrations.models import MoySkladOrder
from shipdesk.tenancy.services import Actor


def order_rows(*, actor: Actor, problems_only: bool = False, limit: int = 200
               ) -> list[dict[str, Any]]:
    qs = MoySkladOrder.objects.filter(organization=actor.organization).select_related("shipment")
    if problems_only:
        qs = qs.exclude(problem="")
    rows = []
    for row in qs.order_by("-pk")[:limit]:
        rows.append({"id": row.pk, "order_id": row.order_id, "name": row.name,
                     "shipment_id": row.shipment_id,
                     "tracking_number": (row.shipment.tracking_number or "") if row.shipment else "",
                     "carrier_code": row.shipment.carrier_code if row.shipment else "",
                     "status": row.pushed_status, "problem_kind": row.problem_kind,
                     "problem": row.problem, "edited_in_flight": row.edited_in_flight})
    return rows


def order_counts(*, actor: Actor) -> dict[str, int]:
    qs = MoySkladOrder.objects.filter(organization=actor.organization)
    return {"total": qs.count(), "shipments": qs.filter(shipment__isnull=False).count(),
            "problems": qs.exclude(problem="").count()}
