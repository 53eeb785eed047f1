"""Price breakdowns that add up: the lines of a :class:`~shipdesk.carriers.base.RateQuote`
sum exactly to its total (what the carrier charges), whatever the carrier's answer
itemises. Pure functions, no Django: adapters and the tariff engine share them."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from shipdesk.carriers.base import ChargeLine

ZERO = Decimal("0.00")
KOPECK = Decimal("0.01")
# The line that closes the gap between the items a carrier listed and the total it charges
# (a part it itemised but did not charge, a discount, its own rounding).
DIFFERENCE = "Поправка до итога перевозчика"
# A quote with no itemisation at all: the whole price on one line.
WHOLE = "Стоимость по расчёту перевозчика"


def vat_name(net: Decimal, vat: Decimal) -> str:
    """«НДС 20 %» when the VAT is a whole percent of the net amount (within 0.05 of a
    percentage point: the carrier rounds per item), plain «НДС» otherwise."""
    if net > 0 and vat > 0:
        exact = vat * 100 / net
        percent = exact.quantize(Decimal("1"))
        if abs(exact - percent) < Decimal("0.05"):
            return f"НДС {percent} %"
    return "НДС"


def lines_adding_up(lines: Iterable[ChargeLine], total: Decimal, *,
                    difference: str = DIFFERENCE, whole: str = WHOLE) -> tuple[ChargeLine, ...]:
    """``lines`` (zero lines dropped) plus, when they do not sum to ``total``, one explicit
    line with the difference (negative when the items exceed the total). No lines at all:
    one line ``whole`` with the total."""
    kept = tuple(line for line in lines if line.amount)
    if not kept:
        return (ChargeLine(whole, total),) if total else ()
    gap = total - sum((line.amount for line in kept), ZERO)
    if gap:
        return (*kept, ChargeLine(difference, gap))
    return kept


def adds_up(lines: Iterable[ChargeLine], total: Decimal) -> bool:
    return sum((line.amount for line in lines), ZERO) == total
