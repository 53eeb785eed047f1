"""Rate shopping with a CDEK account: another carrier's service code (Russian Post's
``POSTAL_PARCEL``, the form's default) must not break CDEK's rating; CDEK's own tariff list
answers instead."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.carriers.base import Address, ParcelRequest, Party
from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.adapter import tariff_code
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, SHOP_TARIFFS, CdekEmulator
from shipdesk.carriers.emulation import start
from shipdesk.carriers.models import CarrierAccount
from shipdesk.tariffs.services import rate_shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def cdek_account(org: Any) -> Iterator[CarrierAccount]:
    running = start(CdekEmulator())
    CdekAdapter.tokens._local.clear()
    fields: dict[str, Any] = {"credentials": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}
    account = CarrierAccount.objects.create(organization=org, carrier_code="cdek", name="СДЭК",
                                            base_url=f"{running.url}/v2", **fields)
    yield account
    running.stop()


def request(service_code: str) -> ParcelRequest:
    return ParcelRequest(
        reference="", service_code=service_code, weight_g=1200,
        sender=Party("Магазин", address=Address(index="101000", city="Москва")),
        recipient=Party("Иванов", address=Address(index="644024", city="Омск", street="ул. Ленина",
                                                  house="10")))


def test_another_carriers_service_code_rates_every_cdek_tariff(actor: Any, cdek_account: Any) -> None:
    offers = rate_shop(actor=actor, request=request("POSTAL_PARCEL"))
    assert [o.error for o in offers] == [""] * len(offers)
    assert {o.quote.service_code for o in offers if o.quote} == {str(code) for code in SHOP_TARIFFS}
    assert all(o.source == "api" and o.carrier_code == "cdek" for o in offers)
    assert offers[0].chosen and offers[0].quote is not None
    assert offers[0].quote.total == min(o.quote.total for o in offers if o.quote)


def test_a_cdek_tariff_code_rates_that_tariff_alone(actor: Any, cdek_account: Any) -> None:
    [offer] = rate_shop(actor=actor, request=request("136"))
    assert offer.error == "" and offer.quote is not None
    assert (offer.quote.service_code, offer.quote.total) == ("136", Decimal("335.00"))


def test_only_a_number_is_a_cdek_tariff_code() -> None:
    assert [tariff_code(c) for c in ("136", " 62 ", "", "POSTAL_PARCEL", "standard", "١٣٦")] == [
        136, 62, None, None, None, None]
