from __future__ import annotations

from django.db import models

from shipdesk.core.models import TenantModel


class ShipmentStatusChange(TenantModel):
    """Append-only feed of real-status changes, one row each time the derived status of a
    shipment changes. Other domains (notifications, claims, webhooks out) read it in id
    order through ``tracking.selectors.status_changes_after`` and keep their own cursor."""

    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE,
                                 related_name="status_changes")
    previous_status = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32)
    substatus = models.CharField(max_length=64, blank=True)
    changed_at = models.DateTimeField()  # when the carrier says it happened

    class Meta:
        indexes = [models.Index(fields=["shipment", "changed_at"])]
