from __future__ import annotations

from typing import Any

from django.db.models import Count

from shipdesk.shipments.models import Shipment, State
from shipdesk.tenancy.services import Actor


def shipment_counts_by_state(*, actor: Actor) -> list[dict[str, Any]]:
    rows = dict(Shipment.objects.filter(organization=actor.organization)
                .values_list("state").annotate(n=Count("id")).order_by())
    return [{"state": s, "label": s.label, "count": rows.get(s.value, 0)} for s in State]
