"""Test data for shipments: valid input a caller would send, and number pools."""

from __future__ import annotations

import itertools
from typing import Any

from shipdesk.tenancy.services import Actor

_seq = itertools.count(1)


def shipment_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_number": f"T-{next(_seq)}",
        "service_code": "POSTAL_PARCEL",
        "recipient_name": "Иванов Иван Иванович",
        "recipient_phone": "8 (912) 345-67-89",
        "index": "644010",
        "region": "Омская обл",
        "city": "г. Омск",
        "street": "улица ленина",
        "house": "д. 5",
        "apartment": "кв. 12",
        "weight_g": 1200,
        "declared_value": "2500.00",
        "cod_amount": "2500",
    }
    data.update(overrides)
    return data


def number_pool(actor: Actor, carrier_code: str = "russian_post", size: int = 1000) -> Any:
    """A Russian Post 14-digit range of ``size`` numbers for the actor's organization."""
    from shipdesk.numbering.services import pool_create
    from shipdesk.numbering.validation import rp14_compose

    code = next(_seq) % 100
    return pool_create(actor=actor, carrier_code=carrier_code,
                       first_number=rp14_compose("800995", f"{code:02d}", 0),
                       last_number=rp14_compose("800995", f"{code:02d}", size - 1))
