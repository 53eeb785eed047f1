"""The one list of parcel statuses for all carriers. Pure: no Django models.

Every carrier package maps each raw code it knows to one of these (plus a sub-status);
a code it does not know maps to ``None`` and is flagged, never guessed.
"""

from __future__ import annotations

import enum

from django.utils.translation import gettext_lazy as _


class Status(enum.StrEnum):
    INFO_RECEIVED = "info_received"  # the carrier has the data, not the parcel
    ACCEPTED = "accepted"  # taken in by the carrier
    IN_TRANSIT = "in_transit"
    CUSTOMS = "customs"
    ARRIVED_AT_PICKUP = "arrived_at_pickup"  # waiting at the office / pickup point / locker
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERY_FAILED = "delivery_failed"  # an attempt that did not succeed
    DELIVERED = "delivered"
    REFUSED = "refused"  # the recipient refused it
    RETURNING = "returning"
    RETURNED = "returned"  # back with the sender
    LOST = "lost"
    DAMAGED = "damaged"
    CANCELLED = "cancelled"


STATUS_LABELS: dict[Status, object] = {
    Status.INFO_RECEIVED: _("Данные получены"),
    Status.ACCEPTED: _("Принято перевозчиком"),
    Status.IN_TRANSIT: _("В пути"),
    Status.CUSTOMS: _("Таможня"),
    Status.ARRIVED_AT_PICKUP: _("Ожидает в пункте выдачи"),
    Status.OUT_FOR_DELIVERY: _("Передано курьеру"),
    Status.DELIVERY_FAILED: _("Неудачная попытка вручения"),
    Status.DELIVERED: _("Вручено"),
    Status.REFUSED: _("Отказ получателя"),
    Status.RETURNING: _("Возвращается отправителю"),
    Status.RETURNED: _("Возвращено"),  # the shipment state's word too
    Status.LOST: _("Утеряно"),
    Status.DAMAGED: _("Повреждено"),
    Status.CANCELLED: _("Отменено"),
}

FINAL_STATUSES = frozenset({Status.DELIVERED, Status.RETURNED, Status.LOST, Status.CANCELLED})


class Substatus(enum.StrEnum):
    """Sub-statuses the status engine understands. Carrier packages may send any other
    text as a sub-status; these few carry meaning for the derivation."""

    TO_SENDER = "to_sender"  # "delivered" — to the sender: the parcel came back
    STORAGE_EXPIRING = "storage_expiring"
    STORAGE_EXTENDED = "storage_extended"
    STORAGE_EXPIRED = "storage_expired"
    REFUSED = "refused"


# The parcel's status as every page and list shows it (the shipment page and lists, the
# tracking page, the recipient's page, messages): one function, one wording per status.
# The shipment's back-office outcome (a person may have marked it, or the demo) counts when
# tracking has not told a final outcome itself; a return the carrier reports after
# "delivered" is later evidence and wins over the back-office "delivered".
_STATE_OUTCOME: dict[str, Status] = {
    "delivered": Status.DELIVERED, "returned": Status.RETURNED, "lost": Status.LOST,
    "cancelled": Status.CANCELLED,
}
_OUTCOME_RANK = {Status.CANCELLED: 0, Status.LOST: 1, Status.DELIVERED: 2, Status.RETURNED: 3}
NOT_SHIPPED_TEXT = _("Посылка готовится к отправке")
HANDED_OVER_TEXT = _("Передано перевозчику")


def parcel_status(*, tracking_status: str | None, shipment_state: str = "") -> Status | None:
    """The one status of a parcel from tracking's status and the shipment's state."""
    try:
        tracked = Status(tracking_status) if tracking_status else None
    except ValueError:
        tracked = None
    outcome = _STATE_OUTCOME.get(shipment_state or "")
    if outcome is None or tracked is outcome:
        return tracked
    if tracked is None:
        return outcome
    if outcome is Status.DELIVERED and tracked in (Status.REFUSED, Status.RETURNING):
        return tracked  # the carrier took it back after "delivered"
    if tracked in _OUTCOME_RANK and _OUTCOME_RANK[tracked] > _OUTCOME_RANK[outcome]:
        return tracked
    return outcome


def status_label(status: str | Status | None) -> str:
    """The wording of one status ("" for none or an unknown value)."""
    try:
        return str(STATUS_LABELS[Status(status)]) if status else ""
    except ValueError:
        return ""


def parcel_status_text(*, tracking_status: str | None, shipment_state: str = "") -> str:
    """What a page shows as the parcel's status: the status' wording, or, with no status
    yet, whether the parcel is with the carrier at all."""
    status = parcel_status(tracking_status=tracking_status, shipment_state=shipment_state)
    if status is not None:
        return status_label(status)
    if shipment_state in ("handed_over", "delivered", "returned", "lost"):
        return str(HANDED_OVER_TEXT)
    return str(NOT_SHIPPED_TEXT)
