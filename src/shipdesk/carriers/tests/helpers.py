"""Shared test helpers: parcels, PDF barcode decoding, emulator control over HTTP."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from shipdesk.carriers import timing
from shipdesk.carriers.base import Address, Item, ParcelRequest, Party
from shipdesk.carriers.http import build_client

_keys = itertools.count()


def fast_client(**options: Any) -> httpx.Client:
    options.setdefault("backoff_base", 0.01)
    return build_client(key=f"t-{next(_keys)}-{time.time()}", options=options, log_exchanges=False)


def parcel(reference: str = "ORD-1", service_code: str = "standard", **changes: Any) -> ParcelRequest:
    values: dict[str, Any] = dict(
        reference=reference,
        service_code=service_code,
        sender=Party(
            name="ООО Ромашка",
            phone="+74951234567",
            address=Address(index="101000", city="Москва", street="ул. Мясницкая", house="1"),
        ),
        recipient=Party(
            name="Иванов Иван",
            phone="+79161234567",
            email="ivan@example.test",
            address=Address(index="644024", city="Омск", street="ул. Ленина", house="10", apartment="5"),
        ),
        weight_g=1200,
        length_cm=20,
        width_cm=15,
        height_cm=10,
        declared_value=Decimal("1500.00"),
        cod_amount=Decimal("1500.00"),
        items=(Item(name="Кружка", quantity=2, unit_price=Decimal("750.00"), weight_g=500),),
    )
    values.update(changes)
    return ParcelRequest(**values)


def control(url: str, what: str, **data: Any) -> Any:
    """An emulator's control endpoint. Moving its clock moves the adapters' with it: the
    test says that this much time has passed, for the carrier and for us alike."""
    answer = httpx.post(f"{url}/__emulator__/{what}", json=data).json()
    if what == "clock" and ("advance_hours" in data or "now" in data):
        timing.follow(datetime.fromisoformat(answer["now"]))
    return answer


def pdf_barcodes(pdf: bytes) -> list[str]:
    import pypdfium2
    import zxingcpp

    found: list[str] = []
    document = pypdfium2.PdfDocument(pdf)
    for page in document:
        image = page.render(scale=4).to_pil()
        found.extend(result.text for result in zxingcpp.read_barcodes(image))
    return found


def pdf_text(pdf: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
