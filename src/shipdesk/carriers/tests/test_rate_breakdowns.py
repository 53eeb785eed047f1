"""Every carrier adapter's quote, asked of its emulator over loopback HTTP, has lines that
add up to its total exactly (Russian Post's are in ``russian_post/tests``)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from shipdesk.carriers.base import RateQuote
from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, SHOP_TARIFFS, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.sandbox.adapter import Adapter as SandboxAdapter
from shipdesk.carriers.sandbox.emulator import API_KEY, SandboxEmulator
from shipdesk.carriers.tests.helpers import fast_client, parcel


def assert_adds_up(quote: RateQuote) -> None:
    assert quote.lines, quote
    assert sum((line.amount for line in quote.lines), Decimal("0")) == quote.total
    assert all(line.amount == line.amount.quantize(Decimal("0.01")) for line in quote.lines)


@pytest.fixture(scope="module")
def cdek() -> Iterator[CdekAdapter]:
    running: Running = start(CdekEmulator())
    CdekAdapter.tokens._local.clear()
    yield CdekAdapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                      base_url=f"{running.url}/v2", http=fast_client())
    running.stop()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxAdapter]:
    running: Running = start(SandboxEmulator())
    yield SandboxAdapter(credentials={"api_key": API_KEY}, base_url=running.url,
                         http=fast_client())
    running.stop()


@pytest.mark.parametrize("tariff", sorted(SHOP_TARIFFS))
@pytest.mark.parametrize(("weight", "declared"), [(300, "0"), (1200, "1500.00"),
                                                  (7777, "12345.67")])
def test_cdek_tariff_lines_add_up(cdek: CdekAdapter, tariff: int, weight: int,
                                  declared: str) -> None:
    [quote] = cdek.rate(parcel(service_code=str(tariff), weight_g=weight,
                               declared_value=Decimal(declared)))
    assert_adds_up(quote)
    assert quote.lines[0].name == "Доставка"
    names = [line.name for line in quote.lines]
    assert ("Страхование" in names) is (Decimal(declared) > 0)


def test_cdek_tariff_list_lines_add_up(cdek: CdekAdapter) -> None:
    quotes = cdek.rate(parcel(service_code="", weight_g=2600))
    assert {q.service_code for q in quotes} == {str(t) for t in SHOP_TARIFFS}
    for quote in quotes:
        assert_adds_up(quote)


def test_cdek_total_beyond_its_items_gets_an_explicit_line() -> None:
    quote = CdekAdapter.quote_from_tariff("139", {
        "delivery_sum": 1315.0, "total_sum": 1500.0,
        "services": [{"code": "INSURANCE", "sum": 263.0, "total_sum": 185.0}]})
    assert [(line.name, line.amount) for line in quote.lines] == [
        ("Доставка", Decimal("1315.00")), ("Страхование", Decimal("185.00"))]
    odd = CdekAdapter.quote_from_tariff("139", {
        "delivery_sum": 1315.0, "total_sum": 1578.01, "services": [{"code": "X", "sum": 263}]})
    assert odd.lines[-1].name == "Поправка до итога перевозчика"
    assert odd.lines[-1].amount == Decimal("0.01")
    assert_adds_up(odd)


@pytest.mark.parametrize(("weight", "declared", "cod"), [(1, "0", "0"), (1200, "1500.00", "1500.00"),
                                                         (29999, "0.01", "99999.99")])
def test_sandbox_rate_lines_add_up(sandbox: SandboxAdapter, weight: int, declared: str,
                                   cod: str) -> None:
    quotes = sandbox.rate(parcel(service_code="", weight_g=weight,
                                 declared_value=Decimal(declared), cod_amount=Decimal(cod)))
    assert len(quotes) == 3
    for quote in quotes:
        assert_adds_up(quote)
