from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shipdesk.carriers.base import Address, ParcelRequest, Party
from shipdesk.tariffs.engine import TariffDataError, TariffTable
from shipdesk.tariffs.services import DATA_DIR


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA_DIR / f"{name}.json").read_text("utf-8"))


def parcel(service: str = "POSTAL_PARCEL", frm: str = "109440", to: str = "644015",
           weight: int = 1000, **kw: Any) -> ParcelRequest:
    return ParcelRequest(reference="", service_code=service,
                         sender=Party("", address=Address(index=frm)),
                         recipient=Party("", address=Address(index=to)), weight_g=weight, **kw)


@pytest.fixture(scope="module")
def rp() -> TariffTable:
    return TariffTable(load("russian_post"))


def test_russian_post_sample_from_otpravka(rp: TariffTable) -> None:
    """Otpravka's sample: parcel 1000 g 109440 -> 644015, ground 306.58 + VAT 61.32. The
    table's prices exclude VAT: lines as the table states them, the VAT a line of its own."""
    quote = rp.rate(parcel(options={"fragile": True}))
    assert not isinstance(quote, str)
    assert [(line.name, line.amount) for line in quote.lines] == [
        ("Пересылка", Decimal("306.58")),
        ("Осторожно / хрупкое", Decimal("70.76")),  # sample: 70.75
        ("НДС 20 %", Decimal("75.47")),  # 61.32 + 14.15
    ]
    assert quote.total == Decimal("452.81")
    assert quote.raw["vat"] == Decimal("75.47")
    assert (quote.days_min, quote.days_max) == (1, 3)


def test_weight_steps(rp: TariffTable) -> None:
    totals = {w: rp.rate(parcel(weight=w)).total for w in (1, 500, 501, 1000, 1001)}  # type: ignore[union-attr]
    assert totals[1] == totals[500] == Decimal("314.50")  # 262.08 * 1.2
    assert totals[501] == totals[1000] == Decimal("367.90")
    assert totals[1001] == Decimal("421.30")


def test_declared_value_and_cod_fees(rp: TariffTable) -> None:
    quote = rp.rate(parcel(declared_value=Decimal("1000.00"), cod_amount=Decimal("1000.00")))
    assert not isinstance(quote, str)
    names = {line.name: line.amount for line in quote.lines}
    assert names["Объявленная ценность"] == Decimal("40.00")  # 4%, VAT on its own line
    assert names["Наложенный платёж"] == Decimal("30.00")  # max(2% = 20.00, min 30)
    assert names["НДС 20 %"] == Decimal("61.32") + Decimal("8.00") + Decimal("6.00")
    assert quote.total == Decimal("451.90")
    assert quote.raw["category"] == "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY"
    assert quote.total == sum(line.amount for line in quote.lines)


def test_percent_fee_rounds_half_up_to_kopecks(rp: TariffTable) -> None:
    quote = rp.rate(parcel(declared_value=Decimal("0.13")))  # 4% = 0.52 kop -> 1 kop
    assert not isinstance(quote, str)
    assert quote.lines[1].amount == Decimal("0.01")  # 1 kop, VAT 0.2 kop rounds to 0


def test_fixed_options(rp: TariffTable) -> None:
    quote = rp.rate(parcel(options={"sms_notice": True, "inventory": True}))
    assert not isinstance(quote, str)
    assert [line.amount for line in quote.lines[1:]] == [
        Decimal("21.00"), Decimal("80.00"), Decimal("61.32") + Decimal("4.20") + Decimal("16.00")]


@pytest.mark.parametrize(("kw", "reason"), [
    ({"service": "LETTER"}, "не тарифицируется"),
    ({"to": "999999"}, "не найден в таблице зон"),
    ({"to": "64401"}, "не найден"),
    ({"weight": 50001}, "больше предельного"),
    ({"service": "PARCEL_CLASS_1", "weight": 2501}, "больше предельного"),
    ({"weight": 0}, "больше нуля"),
    ({"options": {"mail_category": "SIMPLE"}}, "недоступна"),
])
def test_unrateable_parcels_say_why(rp: TariffTable, kw: dict[str, Any], reason: str) -> None:
    result = rp.rate(parcel(**kw))
    assert isinstance(result, str)
    assert reason in result


def test_zones_grow_with_distance(rp: TariffTable) -> None:
    prices = [rp.rate(parcel(to=to)).total for to in ("101000", "344000", "620000", "644015", "690000")]  # type: ignore[union-attr]
    assert prices == sorted(prices)
    assert len(set(prices)) == 5


def test_sandbox_table_matches_its_emulators_formula() -> None:
    table = TariffTable(load("sandbox"))
    quote = table.rate(parcel(service="standard", weight=1200, declared_value=Decimal("1500"),
                              cod_amount=Decimal("1500")))
    assert not isinstance(quote, str)
    # 250 + 2 * 40 + 1% of 1500 + 2% of 1500, VAT included
    assert quote.total == Decimal("375.00")
    assert quote.raw["vat"] == Decimal("62.50")


@given(st.integers(1, 20000), st.integers(0, 10**7), st.integers(0, 10**7),
       st.sampled_from(["101000", "190000", "344000", "450000", "644015", "690000"]))
def test_total_is_the_sum_of_lines_in_kopecks(weight: int, declared: int, cod: int, to: str) -> None:
    table = TariffTable(load("russian_post"))
    quote = table.rate(parcel(weight=weight, to=to, declared_value=Decimal(declared).scaleb(-2),
                              cod_amount=Decimal(cod).scaleb(-2), options={"fragile": True}))
    assert not isinstance(quote, str)
    assert quote.total == sum(line.amount for line in quote.lines)
    assert all(line.amount == line.amount.quantize(Decimal("0.01")) for line in quote.lines)
    assert all(isinstance(line.amount, Decimal) for line in quote.lines)


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.update(format="x"), "Неизвестный формат"),
    (lambda d: d.pop("carrier"), "carrier"),
    (lambda d: d.update(effective_from="01.01.2026"), "ГГГГ-ММ-ДД"),
    (lambda d: d["services"]["EMS"]["base"].update({"3": "12.345"}), "services.EMS.base.3"),
    (lambda d: d["services"]["EMS"]["base"].pop("2"), "services.EMS"),
    (lambda d: d.update(declared_value_percent="abc"), "declared_value_percent"),
    (lambda d: d["regions"].append([700, 799, 9]), "пояс больше"),
    (lambda d: d["zones"].pop(), "квадратной"),
])
def test_broken_tables_are_refused_with_the_place(change: Any, message: str) -> None:
    data = copy.deepcopy(load("russian_post"))
    change(data)
    with pytest.raises(TariffDataError, match=message):
        TariffTable(data)
