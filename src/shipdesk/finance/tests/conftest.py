"""Finance test data: COD shipments as intake would leave them, and tracking's feed saying
they were delivered or returned (the rows tracking's ingest writes)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from shipdesk.finance import services
from shipdesk.tenancy.models import Organization

SAMPLES = Path(__file__).resolve().parent / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def make_shipment(org: Organization, *, tracking: str, order: str, cod: str,
                  carrier: str = "cdek", account: Any = None, shipping_cost: str | None = None
                  ) -> Any:
    from shipdesk.shipments.models import Shipment, State

    return Shipment.objects.create(
        organization=org, order_number=order, tracking_number=tracking or None,
        cod_amount=Decimal(cod), carrier_code=carrier, carrier_account=account,
        state=State.HANDED_OVER, recipient_surname="Иванов",
        shipping_cost=Decimal(shipping_cost) if shipping_cost else None)


def feed(shipment: Any, status: str, at: dt.datetime) -> None:
    from shipdesk.tracking.models import ShipmentStatusChange

    ShipmentStatusChange.objects.create(organization_id=shipment.organization_id,
                                        shipment=shipment, status=status, changed_at=at)
    services.receivables_from_feed()


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day + "T12:00:00+00:00")


@pytest.fixture
def carrier_account(org: Organization) -> Any:
    from shipdesk.carriers.models import CarrierAccount

    def make(code: str = "cdek", **terms: Any) -> Any:
        account = CarrierAccount.objects.create(organization=org, carrier_code=code, name=code,
                                                base_url="http://127.0.0.1:9/")
        if terms:
            from shipdesk.finance.models import FinanceTerms

            FinanceTerms.objects.create(organization=org, carrier_account=account, **terms)
        return account

    return make
