"""Tracking-number check digits and the operation-code table (shared/domain.md §2.3, §3)."""

from __future__ import annotations

import pytest

from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.statuses import KNOWN_CODES, map_operation
from shipdesk.tracking.statuses import Status

REAL_NUMBERS = [
    "10944022440321",
    "29014562148754",
    "80084740397510",
    "80083740712514",
    "80082240994512",
    "80093053624992",
    "80092578900499",
    "80092578900482",
    "80092578900475",
    "80082288939742",
    "12542476046939",
    "11172522364055",
    "10944022490302",
    "14102192069353",
]


@pytest.mark.parametrize("number", REAL_NUMBERS)
def test_real_domestic_numbers_pass_the_check_digit(number: str) -> None:
    assert barcodes.is_valid(number)
    assert barcodes.rp14_make(number[:13]) == number


@pytest.mark.parametrize("number", ["45008378901234", "10725878901235", "1094402244032", "1094402244032X"])
def test_fake_or_malformed_numbers_fail(number: str) -> None:
    assert not barcodes.is_valid(number)


def test_s10_check_digits_from_the_standard() -> None:
    assert barcodes.is_valid("EE123456785US")
    assert barcodes.is_valid("LC528964811CN")
    assert barcodes.is_valid("RA644000005RU")
    assert not barcodes.is_valid("RA644000001RU")  # the spec's sample has a wrong check digit


# Every (type, attribute) pair restated in shared/domain.md §2.3; attribute 0 = a type without attributes.
DOMAIN_TABLE: dict[int, list[int]] = {
    1: list(range(1, 12)),
    2: list(range(1, 32)),
    3: list(range(1, 24)),
    4: list(range(1, 20)),
    5: [1, 2, 3, 8],
    6: list(range(1, 6)),
    7: list(range(1, 5)),
    8: [*range(0, 45), 47, 48, 49, 78],
    9: [1, 2],
    10: [0],
    11: [0],
    12: list(range(1, 31)),
    13: [0],
    14: list(range(1, 27)),
    15: [0],
    16: [0],
    17: [0],
    18: [0],
    19: [0],
    20: [0],
    21: [1, 2, 3],
    22: list(range(1, 10)),
    23: [0],
    24: [1, 2, 3, 4, 5, *range(1019, 1100)],
    25: [0],
    26: [1, 2],
    27: [0],
    28: [0],
    29: [0],
    30: [0],
    31: [1, 5, 6, 7, 14, 21, 23, 24, 31, 40, 41, 42, 43, 48, 57, 59, 74, 82],
    32: [0],
    33: [1, 2, 3],
    34: [0],
    35: list(range(1, 10)),
    36: [0, 1, 2],
    37: [0],
    38: [4, 13, 25],
    39: list(range(1, 10)),
    40: [1, 2, 3],
    41: list(range(1, 7)),
    42: list(range(1, 31)),
    43: [0],
    44: list(range(1, 16)),
    48: [0],
    62: [0],
    63: [0],
    1027: [0],
}


def test_no_known_code_is_unmapped() -> None:
    missing = [(t, a) for t, attrs in DOMAIN_TABLE.items() for a in attrs if (t, a) not in KNOWN_CODES]
    assert missing == []


@pytest.mark.parametrize("code", [(8, 55), (2, 99), (99, 1), (45, 0), (1, 0)])
def test_unknown_codes_map_to_none_not_in_transit(code: tuple[int, int]) -> None:
    assert map_operation(*code) is None


@pytest.mark.parametrize(
    ("code", "status", "sub"),
    [
        ((1, 2), Status.ACCEPTED, "accepted_2"),
        ((8, 2), Status.ARRIVED_AT_PICKUP, "arrived"),
        ((2, 1), Status.DELIVERED, "delivered"),
        ((2, 2), Status.RETURNED, "returned_to_sender"),
        ((3, 1), Status.RETURNING, "storage_expired"),
        ((3, 4), Status.REFUSED, "refused"),
        ((5, 1), Status.LOST, "lost"),
        ((18, 0), Status.LOST, "loss_registered"),
        ((8, 40), Status.DELIVERY_FAILED, "storage_expired"),
        ((8, 28), Status.ARRIVED_AT_PICKUP, "storage_expiring_5d"),
        ((24, 1054), Status.CUSTOMS, "customs_hold_1054"),
        ((26, 1), Status.CANCELLED, "cancelled_1"),
        ((48, 0), Status.DELIVERED, "partial"),
        ((12, 6), Status.REFUSED, "refused"),
    ],
)
def test_key_codes_map_to_the_expected_status(code: tuple[int, int], status: Status, sub: str) -> None:
    assert map_operation(*code) == (status, sub)
