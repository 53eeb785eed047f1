"""Written correspondence as mail kinds with their postage: simple and registered letters,
first-class letters, and small packets (pure: no database).

Domestic letter postage does not depend on distance, only on the kind and the weight: a
price for the first weight step and one for each further started step. The figures below
are an APPROXIMATION built for Shipdesk (Russian Post publishes its letter tariffs yearly;
they are not in shared/domain.md): replace them with your contract's. VAT is included, as in
the public price list. ``service_code`` values are the ones shipments already use (Otpravka's
mail types), plus ``SIMPLE_LETTER`` for letters without a tracking number."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class LetterKind:
    code: str
    name: str
    registered: bool  # has a tracking number (ШПИ) and goes on the F103
    max_weight_g: int
    step_g: int
    first: Decimal
    per_step: Decimal


KINDS: dict[str, LetterKind] = {k.code: k for k in (
    LetterKind("SIMPLE_LETTER", "Письмо простое", False, 100, 20, Decimal("45.00"),
               Decimal("3.50")),
    LetterKind("LETTER", "Письмо заказное", True, 100, 20, Decimal("87.50"), Decimal("4.00")),
    LetterKind("LETTER_CLASS_1", "Письмо 1 класса", True, 500, 100, Decimal("150.00"),
               Decimal("12.00")),
    LetterKind("SMALL_PACKET", "Мелкий пакет", True, 2000, 100, Decimal("310.00"),
               Decimal("28.00")),
)}


class NotALetter(ValueError):
    pass


def postage(code: str, weight_g: int) -> Decimal:
    """The postage of one item: ``postage("LETTER", 45)`` → 87.50 + 2 × 4.00 = 95.50."""
    kind = KINDS.get(code)
    if kind is None:
        raise NotALetter(f"{code!r} is not a letter kind")
    if not 0 < weight_g <= kind.max_weight_g:
        raise NotALetter(f"{kind.name}: вес от 1 до {kind.max_weight_g} г")
    extra_steps = -(-max(weight_g - kind.step_g, 0) // kind.step_g)
    return kind.first + kind.per_step * extra_steps
