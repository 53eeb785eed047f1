"""Test data for the documents domain: shipments created directly in state NUMBERED with
valid tracking numbers (check digits from ``numbering.validation``)."""

from __future__ import annotations

import itertools
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

from shipdesk.numbering.validation import rp14_compose, s10_compose
from shipdesk.shipments.models import SenderProfile, Shipment, ShipmentItem, State
from shipdesk.tenancy.models import Organization

_serial = itertools.count(1)


def rp14(n: int | None = None) -> str:
    return rp14_compose("101000", "62", n if n is not None else next(_serial))


def s10(n: int | None = None) -> str:
    return s10_compose("RA", n if n is not None else next(_serial), "RU")


def sender(org: Organization, **kw: Any) -> SenderProfile:
    defaults = {"name": "Склад", "company": "ООО «Ромашка»", "phone": "+74951234567",
                "index": "101000", "city": "г. Москва", "street": "ул. Тверская", "house": "1"}
    defaults.update(kw)
    return SenderProfile.objects.create(organization=org, **defaults)


def shipment(org: Organization, *, sender_profile: SenderProfile | None = None,
             tracking: str | None = None, items: list[dict[str, Any]] | None = None,
             **kw: Any) -> Shipment:
    n = next(_serial)
    defaults: dict[str, Any] = {
        "order_number": f"ORD-{n:05d}", "state": State.NUMBERED, "carrier_code": "russian_post",
        "service_code": "ONLINE_PARCEL", "mail_category": "ORDINARY",
        "recipient_surname": "Иванов", "recipient_given_name": "Иван",
        "recipient_patronymic": "Петрович", "recipient_phone": "+79161234567",
        "index": "141400", "region": "Московская обл.", "city": "г. Химки",
        "street": "ул. Молодёжная", "house": str(n % 90 + 1), "apartment": str(n % 200 + 1),
        "weight_g": 1000 + n % 500, "declared_value": Decimal("1500.00"),
        "cod_amount": Decimal("0"), "shipping_cost": Decimal("350.40"),
        "tracking_number": tracking or rp14(n),
    }
    defaults.update(kw)
    s = Shipment.objects.create(organization=org, sender=sender_profile, **defaults)
    for pos, item in enumerate(items or []):
        ShipmentItem.objects.create(shipment=s, position=pos, **item)
    return s


def output_dir() -> Path:
    path = Path(os.environ.get("TEST_OUTPUT_DIR", "test-output")) / "documents"
    path.mkdir(parents=True, exist_ok=True)
    return path
