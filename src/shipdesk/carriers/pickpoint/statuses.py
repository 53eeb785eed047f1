"""PickPoint sending states (``State`` of /tracksending, /getstates) and our status for each.

Seen in public client fixtures [S]: 101, 102, 103, 112. The others follow the
order of PickPoint's state directory as the emulator serves it and are UNVERIFIED [U]
(see doc.md); an unknown state maps to ``None`` and is flagged, never guessed."""

from __future__ import annotations

from shipdesk.tracking.statuses import Status

S = Status

STATES: dict[int, tuple[str, Status, str]] = {
    101: ("Зарегистрирован", S.INFO_RECEIVED, ""),
    102: ("Сформирован для передачи Логисту", S.INFO_RECEIVED, "ready_for_pickup_by_carrier"),
    103: ("Развоз до ПТ самостоятельно", S.INFO_RECEIVED, "sender_delivers_to_terminal"),
    104: ("Принят на склад Логиста", S.ACCEPTED, ""),
    105: ("Консолидирован в отправку", S.IN_TRANSIT, ""),
    106: ("В пути до города получателя", S.IN_TRANSIT, ""),
    107: ("Таможенное оформление", S.CUSTOMS, ""),
    108: ("Передан на доставку до постамата", S.IN_TRANSIT, "last_mile"),
    109: ("Поступил в постамат / пункт выдачи", S.ARRIVED_AT_PICKUP, ""),
    110: ("Неудачная попытка выдачи", S.DELIVERY_FAILED, ""),
    111: ("Получен адресатом", S.DELIVERED, ""),
    112: ("Невостребованное", S.RETURNING, "storage_expired"),
    113: ("Отказ получателя", S.REFUSED, ""),
    114: ("Возврат консолидирован", S.RETURNING, ""),
    115: ("Возвращен отправителю", S.RETURNED, ""),
    116: ("Выдан частично", S.DELIVERED, "partial"),
    117: ("Утерян", S.LOST, ""),
    118: ("Аннулирован", S.CANCELLED, ""),
}


def status_of(state: object) -> tuple[Status | None, str]:
    try:
        code = int(str(state))
    except (TypeError, ValueError):
        return None, ""
    found = STATES.get(code)
    return (found[1], found[2]) if found else (None, "")
