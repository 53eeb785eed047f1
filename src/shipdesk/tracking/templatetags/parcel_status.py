"""``{% load parcel_status %}``: a parcel's status in the one wording every page uses
(``tracking.statuses.parcel_status_text``).

``{{ shipment|parcel_status }}`` — a shipment (its ``tracking_status`` and ``state``) or a
tracking state (its ``status`` and its shipment's ``state``); ``{{ value|status_text }}`` —
one status value."""

from __future__ import annotations

from typing import Any

from django import template

from shipdesk.tracking.statuses import parcel_status_text, status_label

register = template.Library()


@register.filter(name="parcel_status")
def parcel_status_filter(obj: Any) -> str:
    if obj is None:
        return ""
    if hasattr(obj, "tracking_status"):  # a shipment
        return parcel_status_text(tracking_status=obj.tracking_status,
                                  shipment_state=getattr(obj, "state", ""))
    shipment = getattr(obj, "shipment", None)  # a tracking state
    return parcel_status_text(tracking_status=getattr(obj, "status", ""),
                              shipment_state=getattr(shipment, "state", "") or "")


@register.filter(name="status_text")
def status_text_filter(value: Any) -> str:
    return status_label(value)
