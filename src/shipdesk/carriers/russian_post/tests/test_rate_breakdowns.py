"""The Russian Post adapter's quotes, asked of its emulator, add up to the total: the parts
without VAT, the VAT on a line of its own."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shipdesk.carriers.russian_post.adapter import Adapter
from shipdesk.carriers.russian_post.tests.conftest import parcel


@pytest.mark.parametrize("service", ["POSTAL_PARCEL", "EMS", "ONLINE_COURIER"])
@pytest.mark.parametrize(("weight", "declared", "fragile"), [
    (1, "0", False), (1200, "1500.00", True), (9999, "0.13", True), (19999, "77777.77", False)])
def test_lines_add_up_to_the_total(adapter: Adapter, service: str, weight: int, declared: str,
                                   fragile: bool) -> None:
    [quote] = adapter.rate(parcel(service_code=service, weight_g=weight,
                                  declared_value=Decimal(declared), cod_amount=Decimal("0"),
                                  options={"fragile": fragile}))
    assert sum(line.amount for line in quote.lines) == quote.total
    assert quote.lines[0].name == "Пересылка"
    assert quote.lines[-1].name == "НДС 20 %"
    assert quote.lines[-1].amount == Decimal(quote.raw["total-vat"]).scaleb(-2)
    assert all(line.name != "Поправка до итога перевозчика" for line in quote.lines)
