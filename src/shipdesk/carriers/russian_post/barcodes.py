"""Russian Post tracking numbers (ШПИ) as the adapter and emulator need them.

The check-digit algorithms (domestic 14-digit and UPU S10, shared/domain.md §3) live in
``shipdesk.numbering.validation``, the one place that owns them; this module only adds
the two shapes the Russian Post code uses.
"""

from __future__ import annotations

from shipdesk.numbering.validation import (
    rp14_check_digit,
    s10_check_digit,
    validate_tracking_number,
)

__all__ = ["is_valid", "rp14_check_digit", "rp14_make", "s10_check_digit"]


def rp14_make(first13: str) -> str:
    return first13 + str(rp14_check_digit(first13))


def is_valid(number: str) -> bool:
    """True for a well-formed domestic ШПИ or S10 number with a correct check digit."""
    try:
        validate_tracking_number(number)
    except ValueError:
        return False
    return True
