"""Russian Post tracking numbers (ШПИ): the domestic 14-digit form and UPU S10.

Check digits per shared/domain.md §3: domestic — weights 3,1,3,1… over digits 1–13, mod 10;
S10 — weights 8,6,4,2,3,5,9,7 over the serial, mod 11 (10 → 0, 11 → 5).
"""

from __future__ import annotations

import re

_RP14 = re.compile(r"^\d{14}$")
_S10 = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)


def rp14_check_digit(first13: str) -> int:
    if len(first13) != 13 or not first13.isdigit():
        raise ValueError("нужны 13 цифр")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(first13))
    return (10 - total % 10) % 10


def rp14_make(first13: str) -> str:
    return first13 + str(rp14_check_digit(first13))


def s10_check_digit(serial8: str) -> int:
    if len(serial8) != 8 or not serial8.isdigit():
        raise ValueError("нужны 8 цифр")
    c = 11 - sum(int(d) * w for d, w in zip(serial8, _S10_WEIGHTS, strict=True)) % 11
    return 0 if c == 10 else 5 if c == 11 else c


def is_valid(number: str) -> bool:
    """True for a well-formed domestic ШПИ or S10 number with a correct check digit."""
    number = number.strip().upper()
    if _RP14.match(number):
        return rp14_check_digit(number[:13]) == int(number[13])
    if _S10.match(number):
        return s10_check_digit(number[2:10]) == int(number[10])
    return False
