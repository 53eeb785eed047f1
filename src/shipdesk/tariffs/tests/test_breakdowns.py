"""A price breakdown always adds up to the price: for every shipped tariff table and any
parcel it rates, and for a carrier quote whatever the carrier itemised."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shipdesk.carriers.base import Address, ChargeLine, ParcelRequest, Party, RateQuote
from shipdesk.tariffs.engine import OPTION_KEYS, TariffTable
from shipdesk.tariffs.services import DATA_DIR, quote_adding_up

TABLES = {path.stem: TariffTable(json.loads(path.read_text("utf-8")))
          for path in sorted(DATA_DIR.glob("*.json"))}


def test_every_shipped_table_is_covered() -> None:
    assert {"russian_post", "sandbox"} <= set(TABLES)


@st.composite
def table_and_parcel(draw: Any) -> tuple[TariffTable, ParcelRequest]:
    table = TABLES[draw(st.sampled_from(sorted(TABLES)))]
    service = table.services[draw(st.sampled_from(sorted(table.services)))]
    prefixes = [p for p in range(1000) if table.belt_of[p]]
    frm, to = (f"{draw(st.sampled_from(prefixes)):03d}{draw(st.integers(0, 999)):03d}"
               for _ in range(2))
    options = {key: True for key in draw(st.sets(st.sampled_from(OPTION_KEYS)))
               if key in table.options}
    parcel = ParcelRequest(
        reference="", service_code=service.code,
        sender=Party("", address=Address(index=frm)),
        recipient=Party("", address=Address(index=to)),
        weight_g=draw(st.integers(1, service.max_weight_g)),
        declared_value=Decimal(draw(st.integers(0, 10**8))).scaleb(-2),
        cod_amount=Decimal(draw(st.integers(0, 10**8))).scaleb(-2),
        options=options)
    return table, parcel


@settings(max_examples=400, deadline=None)
@given(table_and_parcel())
def test_lines_of_every_table_quote_add_up_to_its_total(case: tuple[TariffTable, ParcelRequest]
                                                        ) -> None:
    table, parcel = case
    quote = table.rate(parcel)
    if isinstance(quote, str):  # a category the service does not take: said, not priced
        assert "недоступна" in quote
        return
    amounts = [line.amount for line in quote.lines]
    assert sum(amounts, Decimal("0")) == quote.total
    assert all(a == a.quantize(Decimal("0.01")) and a > 0 for a in amounts)
    vat_lines = [line for line in quote.lines if line.name.startswith("НДС")]
    if table.prices_include_vat or not quote.raw["vat"]:
        assert vat_lines == []  # VAT inside the prices: not a summand
    else:
        assert [line.amount for line in vat_lines] == [quote.raw["vat"]]
    [bulk] = table.rate_many([parcel])
    assert bulk is not None and bulk.lines == quote.lines and bulk.total == quote.total


def test_a_carrier_quote_that_does_not_add_up_gets_an_explicit_difference_line() -> None:
    quote = RateQuote(service_code="x", service_name="x", total=Decimal("450.00"),
                      lines=(ChargeLine("Пересылка", Decimal("306.00")),
                             ChargeLine("НДС 20 %", Decimal("120.00"))))
    fixed = quote_adding_up(quote)
    assert fixed.lines[:2] == quote.lines
    assert fixed.lines[2] == ChargeLine("Поправка до итога перевозчика", Decimal("24.00"))
    assert sum(line.amount for line in fixed.lines) == Decimal("450.00")


@pytest.mark.parametrize("lines", [(), (ChargeLine("Доставка", Decimal("0")),)])
def test_a_carrier_quote_without_items_is_one_line_with_the_whole_price(
        lines: tuple[ChargeLine, ...]) -> None:
    quote = RateQuote(service_code="x", service_name="x", total=Decimal("199.90"), lines=lines)
    assert quote_adding_up(quote).lines == (
        ChargeLine("Стоимость по расчёту перевозчика", Decimal("199.90")),)


def test_a_quote_that_adds_up_is_kept_as_it_is() -> None:
    quote = RateQuote(service_code="x", service_name="x", total=Decimal("10.00"),
                      lines=(ChargeLine("a", Decimal("4.00")), ChargeLine("b", Decimal("6.00"))))
    assert quote_adding_up(quote) is quote
