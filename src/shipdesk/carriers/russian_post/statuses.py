"""Russian Post tracking operation codes (OperType.OperAttr) → our :class:`Status` + sub-status.

Every (type, attribute) pair listed in shared/domain.md §2.3 (and the LAPAY status list it
restates) is here. A type without attributes is reported with attribute 0. A pair that is
not in the table maps to ``None``: flagged by the caller, never guessed as "in transit".
"""

from __future__ import annotations

from datetime import date, timedelta

from shipdesk.tracking.statuses import Status

S = Status

TYPE_NAMES: dict[int, str] = {
    1: "Приём",
    2: "Вручение",
    3: "Возврат",
    4: "Досылка почты",
    5: "Невручение",
    6: "Хранение",
    7: "Временное хранение",
    8: "Обработка",
    9: "Импорт международной почты",
    10: "Экспорт международной почты",
    11: "Приём на таможню",
    12: "Неудачная попытка вручения",
    13: "Регистрация отправки",
    14: "Таможенное оформление",
    15: "Передача на временное хранение",
    16: "Уничтожение",
    17: "Оформление в собственность",
    18: "Регистрация утраты",
    19: "Таможенные платежи поступили",
    20: "Регистрация",
    21: "Доставка",
    22: "Недоставка",
    23: "Поступление на временное хранение",
    24: "Продление срока выпуска таможней",
    25: "Вскрытие",
    26: "Отмена",
    27: "Получена электронная регистрация",
    28: "Присвоение идентификатора",
    29: "Регистрация прохождения в ММПО",
    30: "Отправка SRM",
    31: "Обработка перевозчиком",
    32: "Поступление АПО",
    33: "Международная обработка",
    34: "Электронное уведомление загружено",
    35: "Отказ в курьерской доставке",
    36: "Уточнение вида оплаты доставки",
    37: "Предварительное оформление",
    38: "Задержка для уточнений у отправителя",
    39: "Предварительное таможенное декларирование",
    40: "Таможенный контроль",
    41: "Обработка таможенных платежей",
    42: "Вторая неудачная попытка вручения",
    43: "Вручение разрешено",
    44: "Отказ в приёме",
    48: "Частичное вручение",
    62: "Возвращено клиенту",
    63: "Наложенный платёж оплачен",
    1027: "Недостача",
}

# Attribute names we show (and the emulator emits); a pair absent here still maps if in _MAP.
ATTR_NAMES: dict[tuple[int, int], str] = {
    (1, 1): "Единичный",
    (1, 2): "Партионный",
    (1, 3): "Партионный электронно",
    (2, 1): "Вручение адресату",
    (2, 2): "Вручение отправителю",
    (3, 1): "Истёк срок хранения",
    (3, 4): "Отказ адресата",
    (3, 15): "Частичный выкуп",
    (5, 1): "Утрачено",
    (6, 3): "Установленный срок хранения",
    (8, 0): "Сортировка",
    (8, 1): "Покинуло место приёма",
    (8, 2): "Прибыло в место вручения",
    (8, 3): "Прибыло в сортировочный центр",
    (8, 4): "Покинуло сортировочный центр",
    (8, 13): "Прибыло на территорию РФ",
    (8, 27): "Истекает срок хранения (осталось 25 дней)",
    (8, 28): "Истекает срок хранения (осталось 5 дней)",
    (8, 40): "Истёк срок хранения",
    (9, 1): "Поступило, приписано",
    (11, 0): "Приём на таможню",
    (12, 1): "Временное отсутствие адресата",
    (12, 6): "Отказ от получения",
    (14, 1): "Выпущено таможней",
    (14, 7): "Требуется досмотр",
    (14, 8): "Выпуск приостановлен",
    (24, 1054): "Таможенная декларация отсутствует или некорректна",
    (26, 1): "Требование отправителя",
    (28, 0): "Присвоение идентификатора",
    (48, 0): "Частичное вручение",
}


def _pairs(t: int, attrs: range | list[int] | tuple[int, ...]) -> list[tuple[int, int]]:
    return [(t, a) for a in attrs]


_MAP: dict[tuple[int, int], tuple[Status, str]] = {}


def _put(pairs: list[tuple[int, int]], status: Status, sub: str, *, per_attr: bool = False) -> None:
    for t, a in pairs:
        _MAP[(t, a)] = (status, f"{sub}_{a}" if per_attr else sub)


# 1 Приём: 1–11 kinds of acceptance.
_put(_pairs(1, range(1, 12)), S.ACCEPTED, "accepted", per_attr=True)
# 2 Вручение: odd = to addressee, even = back to the sender (3/4 locker, 6/7 postman, 8/9 courier…);
# 10–14 addressee variants; 31 to sender by courier with ПЭП. 15–30 follow the same odd/even
# pairing (domain.md marks the exact pairing of 15–30 as seen in one source only).
_put([(2, 0)], S.DELIVERED, "delivered")
for _a in range(1, 32):
    if _a in (2, 4, 7, 9, 31) or (_a >= 15 and _a % 2 == 0 and _a != 18):
        _put([(2, _a)], S.RETURNED, "returned_to_sender")
    else:
        _put([(2, _a)], S.DELIVERED, "delivered")
_put([(2, 6), (2, 17), (2, 18)], S.DELIVERED, "delivered_by_postman")
_put([(2, 8)], S.DELIVERED, "delivered_by_courier")
_put([(2, 3)], S.DELIVERED, "delivered_via_locker")
# 3 Возврат: reason 1–23; 4 = refused by the addressee.
_put(_pairs(3, range(1, 24)), S.RETURNING, "return_reason", per_attr=True)
_put([(3, 1)], S.RETURNING, "storage_expired")
_put([(3, 4)], S.REFUSED, "refused")
_put([(3, 15)], S.RETURNING, "partial_redemption")
# 4 Досылка: 1–19.
_put(_pairs(4, range(1, 20)), S.IN_TRANSIT, "redirected", per_attr=True)
_put([(4, 3)], S.IN_TRANSIT, "missorted")
# 5 Невручение.
_put([(5, 1)], S.LOST, "lost")
_put([(5, 2)], S.LOST, "seized")
_put([(5, 3)], S.IN_TRANSIT, "missorted")
_put([(5, 8)], S.CUSTOMS, "customs_decision")
_put([(5, 9)], S.DELIVERY_FAILED, "address_not_served")
# 6 Хранение.
_put(_pairs(6, range(1, 6)), S.ARRIVED_AT_PICKUP, "storage", per_attr=True)
_put([(6, 1)], S.ARRIVED_AT_PICKUP, "poste_restante")
_put([(6, 2)], S.ARRIVED_AT_PICKUP, "po_box")
# 7 Временное хранение: undelivered / unclaimed / prohibited / expertise.
_put(_pairs(7, range(1, 5)), S.DELIVERY_FAILED, "temporary_storage", per_attr=True)
# 8 Обработка.
_put(
    _pairs(8, [0, 1, 3, 4, 5, 6, 7, 8, 11, 13, 17, 20, 26, 29, 30, 31, 32, 34, 44, 49]),
    S.IN_TRANSIT,
    "processing",
    per_attr=True,
)
_put([(8, 0)], S.IN_TRANSIT, "sorting")
_put([(8, 21)], S.IN_TRANSIT, "address_clarification")
_put([(8, 47)], S.IN_TRANSIT, "suspended_115fz")
_put([(8, 78)], S.IN_TRANSIT, "cancel_requested")
_put([(8, 39)], S.IN_TRANSIT, "handed_to_pickup_point")
_put([(8, 2)], S.ARRIVED_AT_PICKUP, "arrived")
_put([(8, 9)], S.ARRIVED_AT_PICKUP, "arrived_at_locker")
_put([(8, 14)], S.ARRIVED_AT_PICKUP, "arrived_at_issue_centre")
_put([(8, 16)], S.ARRIVED_AT_PICKUP, "electronic_handover")
_put([(8, 19)], S.ARRIVED_AT_PICKUP, "to_storeroom")
_put([(8, 48)], S.ARRIVED_AT_PICKUP, "storage_place_assigned")
_put([(8, 23), (8, 37), (8, 38)], S.ARRIVED_AT_PICKUP, "storage_extension", per_attr=True)
_put([(8, 24)], S.ARRIVED_AT_PICKUP, "notice_sent")
_put([(8, 25)], S.ARRIVED_AT_PICKUP, "notice_delivered")
_put([(8, 10)], S.ARRIVED_AT_PICKUP, "storage_expiring")
# "Storage expiring (N days left)": the only storage date tracking gives (the period set on
# the order, Otpravka's shelf-life-days, is not in the tracking answer).
DAYS_LEFT: dict[tuple[int, int], int] = {(8, 27): 25, (8, 28): 5, (8, 33): 23, (8, 35): 10,
                                         (8, 42): 1, (8, 43): 2}
for (_t, _a), _days in DAYS_LEFT.items():
    _put([(_t, _a)], S.ARRIVED_AT_PICKUP, f"storage_expiring_{_days}d")
_put([(8, 15), (8, 18)], S.OUT_FOR_DELIVERY, "out_for_delivery", per_attr=True)
_put([(8, 22)], S.OUT_FOR_DELIVERY, "awaiting_courier")
_put([(8, 12)], S.DELIVERY_FAILED, "removed_from_locker")
_put([(8, 40)], S.DELIVERY_FAILED, "storage_expired")
_put([(8, 36)], S.RETURNING, "return_requested")
_put([(8, 41)], S.RETURNING, "return_assembled")
# 9–11, 13 international movement.
_put(_pairs(9, [0, 1, 2]), S.IN_TRANSIT, "import", per_attr=True)
_put([(10, 0)], S.IN_TRANSIT, "export")
_put([(11, 0)], S.CUSTOMS, "customs_accepted")
_put([(13, 0)], S.IN_TRANSIT, "dispatch_registered")
# 12 / 42 failed delivery attempt (reasons 1–30); 6 = refused.
for _t, _sub in ((12, "attempt"), (42, "second_attempt")):
    _put(_pairs(_t, range(1, 31)), S.DELIVERY_FAILED, f"{_sub}_failed", per_attr=True)
    _put([(_t, 6)], S.REFUSED, "refused")
# Customs.
_put(_pairs(14, range(1, 27)), S.CUSTOMS, "customs", per_attr=True)
_put([(14, 1)], S.CUSTOMS, "released")
_put([(14, 2)], S.RETURNING, "returned_by_customs")
_put([(19, 0)], S.CUSTOMS, "duties_received")
_put(_pairs(24, [1, 2, 3, 4, 5, *range(1019, 1100)]), S.CUSTOMS, "customs_hold", per_attr=True)
_put(_pairs(39, range(1, 10)), S.CUSTOMS, "pre_declaration", per_attr=True)
_put(_pairs(40, range(1, 4)), S.CUSTOMS, "customs_control", per_attr=True)
_put(_pairs(41, range(1, 7)), S.CUSTOMS, "customs_payments", per_attr=True)
# Disposal, loss.
_put([(15, 0)], S.LOST, "to_temporary_storage")
_put([(16, 0)], S.LOST, "destroyed")
_put([(17, 0)], S.LOST, "confiscated")
_put([(18, 0)], S.LOST, "loss_registered")
# Registration / data.
_put([(20, 0)], S.INFO_RECEIVED, "registered")
_put([(27, 0)], S.INFO_RECEIVED, "electronic_registration")
_put([(28, 0)], S.INFO_RECEIVED, "id_assigned")
_put([(37, 0)], S.INFO_RECEIVED, "pre_registration")
# Door delivery / non-delivery.
_put(_pairs(21, range(1, 4)), S.DELIVERED, "door_delivered", per_attr=True)
_put(_pairs(22, range(1, 10)), S.DELIVERY_FAILED, "not_delivered", per_attr=True)
_put([(22, 5)], S.REFUSED, "refused")
_put([(23, 0)], S.DELIVERY_FAILED, "temporary_storage")
_put([(25, 0)], S.IN_TRANSIT, "opened")
_put(_pairs(26, [1, 2]), S.CANCELLED, "cancelled", per_attr=True)
_put([(29, 0)], S.IN_TRANSIT, "exchange_office")
_put([(30, 0)], S.IN_TRANSIT, "srm_sent")
_put(
    _pairs(31, [1, 5, 6, 7, 14, 21, 23, 24, 31, 40, 41, 42, 43, 48, 57, 59, 74, 82]),
    S.IN_TRANSIT,
    "carrier",
    per_attr=True,
)
_put([(32, 0)], S.IN_TRANSIT, "apo_arrived")
_put(_pairs(33, range(1, 4)), S.IN_TRANSIT, "international", per_attr=True)
_put([(34, 0)], S.DELIVERED, "electronic_notice_loaded")
_put(_pairs(35, range(1, 10)), S.ARRIVED_AT_PICKUP, "courier_delivery_refused", per_attr=True)
_put(_pairs(36, range(0, 3)), S.IN_TRANSIT, "delivery_payment", per_attr=True)
_put(_pairs(38, [4, 13, 25]), S.DELIVERY_FAILED, "held_for_sender", per_attr=True)
_put([(43, 0)], S.IN_TRANSIT, "delivery_allowed")
_put(_pairs(44, range(0, 16)), S.INFO_RECEIVED, "acceptance_refused", per_attr=True)
_put([(48, 0)], S.DELIVERED, "partial")
_put([(62, 0)], S.RETURNED, "returned_to_client")
_put([(63, 0)], S.DELIVERED, "cod_paid")
_put([(1027, 0)], S.DAMAGED, "shortage")

KNOWN_CODES: frozenset[tuple[int, int]] = frozenset(_MAP)


def map_operation(oper_type: int, oper_attr: int | None) -> tuple[Status, str] | None:
    """Our status and sub-status for a Russian Post operation, ``None`` when unknown."""
    return _MAP.get((oper_type, oper_attr or 0))


def storage_until(oper_type: int, oper_attr: int | None, local_day: date) -> date | None:
    """The last day of free storage an operation tells ("N days left" on ``local_day``, the
    operation's own date at the office), ``None`` when it tells none."""
    left = DAYS_LEFT.get((oper_type, oper_attr or 0))
    return local_day + timedelta(days=left) if left is not None else None


def raw_code(oper_type: int, oper_attr: int | None) -> str:
    return f"{oper_type}.{oper_attr or 0}"


def operation_name(oper_type: int, oper_attr: int | None) -> str:
    name = TYPE_NAMES.get(oper_type, f"Операция {oper_type}")
    attr = ATTR_NAMES.get((oper_type, oper_attr or 0))
    return f"{name}: {attr}" if attr else name
