"""Every CDEK order status code (API v2 ``code``) and our status for it; the legacy numeric
``status_code`` of old webhooks too. An unknown code maps to ``None`` and is flagged.

The published list (appendix 1 of CDEK's API v2 documentation) is carried as data in
``data/order_statuses.json``; ``ALIASES`` keeps the names older documents and SDKs used."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from shipdesk.tracking.statuses import Status

DATA = Path(__file__).resolve().parent / "data"


@cache
def published_statuses() -> dict[str, str]:
    """CDEK's published order status codes with their Russian names."""
    data = json.loads((DATA / "order_statuses.json").read_text(encoding="utf-8"))
    return {row["code"]: row["name"] for row in data["statuses"]}

S = Status

STATUS_MAP: dict[str, tuple[Status, str]] = {
    "ACCEPTED": (S.INFO_RECEIVED, "accepted_for_validation"),
    "CREATED": (S.INFO_RECEIVED, ""),
    "REMOVED": (S.CANCELLED, ""),
    "INVALID": (S.INFO_RECEIVED, "invalid"),  # the order data was rejected: needs fixing
    "RECEIVED_AT_SHIPMENT_WAREHOUSE": (S.ACCEPTED, ""),
    "READY_FOR_SHIPMENT_IN_SENDER_CITY": (S.IN_TRANSIT, "ready_to_ship"),
    "RETURNED_TO_SENDER_CITY_WAREHOUSE": (S.IN_TRANSIT, "back_at_sender_city_warehouse"),
    "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY": (S.IN_TRANSIT, ""),
    "SENT_TO_TRANSIT_CITY": (S.IN_TRANSIT, ""),
    "ACCEPTED_IN_TRANSIT_CITY": (S.IN_TRANSIT, ""),
    "ACCEPTED_AT_TRANSIT_WAREHOUSE": (S.IN_TRANSIT, ""),
    "RETURNED_TO_TRANSIT_WAREHOUSE": (S.IN_TRANSIT, "back_at_transit_warehouse"),
    "READY_FOR_SHIPMENT_IN_TRANSIT_CITY": (S.IN_TRANSIT, ""),
    "TAKEN_BY_TRANSPORTER_FROM_TRANSIT_CITY": (S.IN_TRANSIT, ""),
    # the way back to the shop (after NOT_DELIVERED)
    "SENT_TO_SENDER_CITY": (S.RETURNING, ""),
    "ACCEPTED_IN_SENDER_CITY": (S.RETURNING, ""),
    "SENT_TO_RECIPIENT_CITY": (S.IN_TRANSIT, ""),
    "ACCEPTED_IN_RECIPIENT_CITY": (S.IN_TRANSIT, "in_recipient_city"),
    "ACCEPTED_AT_RECIPIENT_CITY_WAREHOUSE": (S.IN_TRANSIT, "awaiting_courier"),
    "ACCEPTED_AT_PICK_UP_POINT": (S.ARRIVED_AT_PICKUP, ""),
    "TAKEN_BY_COURIER": (S.OUT_FOR_DELIVERY, ""),
    "RETURNED_TO_RECIPIENT_CITY_WAREHOUSE": (S.DELIVERY_FAILED, ""),
    "DELIVERED": (S.DELIVERED, ""),
    "NOT_DELIVERED": (S.RETURNING, "not_delivered"),
    "IN_CUSTOMS_INTERNATIONAL": (S.CUSTOMS, "international"),
    "SHIPPED_TO_DESTINATION": (S.IN_TRANSIT, ""),
    "PASSED_TO_TRANSIT_CARRIER": (S.IN_TRANSIT, ""),
    "IN_CUSTOMS_LOCAL": (S.CUSTOMS, "local"),
    "CUSTOMS_COMPLETE": (S.IN_TRANSIT, "customs_complete"),
    "POSTOMAT_POSTED": (S.ARRIVED_AT_PICKUP, "locker"),
    "POSTOMAT_SEIZED": (S.RETURNING, "removed_from_locker"),
    "POSTOMAT_RECEIVED": (S.DELIVERED, "locker"),
    # acceptance at a warehouse recorded separately from its arrival (the current list)
    "ENTERED_TO_TRANSIT_WAREHOUSE": (S.IN_TRANSIT, ""),
    "ENTERED_TO_RECIPIENT_CITY_WAREHOUSE": (S.IN_TRANSIT, "awaiting_courier"),
    "ENTERED_TO_PICK_UP_POINT": (S.ARRIVED_AT_PICKUP, ""),
}

# Names of the same statuses in older documents and SDKs (still seen in old integrations'
# webhooks): read as the published code.
ALIASES: dict[str, str] = {
    "READY_TO_SHIP_AT_SENDING_OFFICE": "READY_FOR_SHIPMENT_IN_SENDER_CITY",
    "PASSED_TO_CARRIER_AT_SENDING_OFFICE": "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY",
    "SEND_TO_TRANSIT_OFFICE": "SENT_TO_TRANSIT_CITY",
    "MET_AT_TRANSIT_OFFICE": "ACCEPTED_IN_TRANSIT_CITY",
    "READY_TO_SHIP_IN_TRANSIT_OFFICE": "READY_FOR_SHIPMENT_IN_TRANSIT_CITY",
    "PASSED_TO_CARRIER_AT_TRANSIT_OFFICE": "TAKEN_BY_TRANSPORTER_FROM_TRANSIT_CITY",
    "MET_AT_SENDING_OFFICE": "ACCEPTED_IN_SENDER_CITY",
    "MET_AT_RECIPIENT_OFFICE": "ACCEPTED_IN_RECIPIENT_CITY",
    "ENTERED_TO_OFFICE_TRANSIT_WAREHOUSE": "ENTERED_TO_TRANSIT_WAREHOUSE",
    "ENTERED_TO_DELIVERY_WAREHOUSE": "ENTERED_TO_RECIPIENT_CITY_WAREHOUSE",
    "ENTERED_TO_WAREHOUSE_ON_DEMAND": "ENTERED_TO_PICK_UP_POINT",
}

# Additional status (reason) codes that change the meaning of DELIVERED / NOT_DELIVERED.
REASON_SUBSTATUS: dict[str, str] = {
    "11": "refused",
    "12": "refused_quality",
    "13": "refused_short_delivery",
    "14": "refused_wrong_item",
    "15": "refused_late",
    "16": "refused_already_bought",
    "17": "refused_changed_mind",
    "18": "refused_order_error",
    "19": "refused_damaged",
    "20": "partial_delivery",
    "21": "refused_no_money",
    "22": "refused_did_not_like",
    "23": "storage_expired",
    "24": "customs",
    "26": "lost",
    "27": "disposed",
    "1": "wrong_address",
    "2": "unreachable",
    "3": "addressee_absent",
}
REFUSAL_REASONS = frozenset({"11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "22"})

# The deprecated numeric ``status_code`` of old webhooks (appendix 1 of the v1.5 docs).
LEGACY_CODES: dict[str, str] = {
    "1": "CREATED",
    "2": "REMOVED",
    "3": "RECEIVED_AT_SHIPMENT_WAREHOUSE",
    "4": "DELIVERED",
    "5": "NOT_DELIVERED",
    "6": "READY_FOR_SHIPMENT_IN_SENDER_CITY",
    "7": "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY",
    "8": "SENT_TO_RECIPIENT_CITY",
    "9": "ACCEPTED_IN_RECIPIENT_CITY",
    "10": "ACCEPTED_AT_RECIPIENT_CITY_WAREHOUSE",
    "11": "TAKEN_BY_COURIER",
    "12": "ACCEPTED_AT_PICK_UP_POINT",
    "13": "ACCEPTED_AT_TRANSIT_WAREHOUSE",
    "16": "RETURNED_TO_SENDER_CITY_WAREHOUSE",
    "17": "RETURNED_TO_TRANSIT_WAREHOUSE",
    "18": "RETURNED_TO_RECIPIENT_CITY_WAREHOUSE",
    "19": "READY_FOR_SHIPMENT_IN_TRANSIT_CITY",
    "20": "TAKEN_BY_TRANSPORTER_FROM_TRANSIT_CITY",
    "21": "SENT_TO_TRANSIT_CITY",
    "22": "ACCEPTED_IN_TRANSIT_CITY",
    "27": "SENT_TO_SENDER_CITY",
    "28": "ACCEPTED_IN_SENDER_CITY",
}


def status_of(code: str, reason_code: str = "", *, is_return: bool = False) -> tuple[Status | None, str]:
    """Our status and sub-status for a CDEK status code (+ reason code). A return order's
    DELIVERED means the parcel is back with the shop."""
    code = LEGACY_CODES.get(code, code)
    code = ALIASES.get(code, code)
    if code not in STATUS_MAP:
        return None, ""
    status, substatus = STATUS_MAP[code]
    reason = REASON_SUBSTATUS.get(str(reason_code or ""), "")
    if is_return:
        if code in ("DELIVERED", "POSTOMAT_RECEIVED"):
            return S.RETURNED, "returned_to_shop"
        if status not in (S.CANCELLED,):
            return S.RETURNING, "return_order"
    if code == "DELIVERED" and str(reason_code) == "20":
        return S.DELIVERED, "partial"
    if code == "NOT_DELIVERED":
        if str(reason_code) in REFUSAL_REASONS:
            return S.REFUSED, reason
        if str(reason_code) == "26":
            return S.LOST, "lost"
        return S.RETURNING, reason or substatus
    return status, reason or substatus
