"""Every sandbox status code and our status for it (an unknown code maps to ``None``)."""

from __future__ import annotations

from shipdesk.tracking.statuses import Status

STATUS_MAP: dict[str, tuple[Status, str]] = {
    "CREATED": (Status.INFO_RECEIVED, ""),
    "ACCEPTED": (Status.ACCEPTED, ""),
    "IN_TRANSIT": (Status.IN_TRANSIT, ""),
    "CUSTOMS_HOLD": (Status.CUSTOMS, "hold"),
    "ARRIVED": (Status.ARRIVED_AT_PICKUP, ""),
    "OUT_FOR_DELIVERY": (Status.OUT_FOR_DELIVERY, ""),
    "DELIVERY_FAILED": (Status.DELIVERY_FAILED, ""),
    "DELIVERED": (Status.DELIVERED, ""),
    "PARTIALLY_DELIVERED": (Status.DELIVERED, "partial"),
    "REFUSED": (Status.REFUSED, ""),
    "STORAGE_EXPIRED": (Status.RETURNING, "storage_expired"),
    "RETURNING": (Status.RETURNING, ""),
    "RETURNED": (Status.RETURNED, ""),
    "LOST": (Status.LOST, ""),
    "CANCELLED": (Status.CANCELLED, ""),
}


def status_of(code: str) -> tuple[Status | None, str]:
    return STATUS_MAP.get(code, (None, ""))
