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
    Status.RETURNED: _("Возвращено отправителю"),
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


# Plain-Russian wording of each status for the recipient's page (no carrier jargon).
STATUS_PLAIN: dict[Status, object] = {
    Status.INFO_RECEIVED: _("Магазин передал данные о посылке перевозчику"),
    Status.ACCEPTED: _("Посылку приняли в отделении отправителя"),
    Status.IN_TRANSIT: _("Посылка в пути"),
    Status.CUSTOMS: _("Посылка проходит таможню"),
    Status.ARRIVED_AT_PICKUP: _("Посылка ждёт вас в пункте выдачи"),
    Status.OUT_FOR_DELIVERY: _("Курьер везёт посылку"),
    Status.DELIVERY_FAILED: _("Не удалось вручить посылку"),
    Status.DELIVERED: _("Посылка вручена"),
    Status.REFUSED: _("Получатель отказался от посылки"),
    Status.RETURNING: _("Посылка возвращается отправителю"),
    Status.RETURNED: _("Посылка вернулась отправителю"),
    Status.LOST: _("Посылка утеряна, магазин разбирается"),
    Status.DAMAGED: _("Посылка повреждена"),
    Status.CANCELLED: _("Отправка отменена"),
}
