from __future__ import annotations

from django.db.models import QuerySet

from shipdesk.tracking.models import ShipmentStatusChange


def status_changes_after(*, last_id: int, limit: int = 1000) -> QuerySet[ShipmentStatusChange]:
    """The status-change feed after ``last_id``, oldest first (for consumers with a cursor)."""
    return ShipmentStatusChange.objects.filter(pk__gt=last_id).order_by("pk")[:limit]
