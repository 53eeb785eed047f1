"""A typed number is checked by its carrier's own format (the adapter's ``validate_number``,
found through the registry), not by Russian Post's for everyone."""

from __future__ import annotations

import pytest

from shipdesk.carriers.base import CarrierAdapter
from shipdesk.numbering.validation import rp14_compose, s10_compose, validate_tracking_number

RP14 = rp14_compose("800847", "40", 12)
S10 = s10_compose("CA", 12345678, "RU")


@pytest.mark.parametrize(("carrier", "typed", "cleaned"), [
    ("russian_post", f" {RP14[:6]} {RP14[6:]} ", RP14),
    ("russian_post", S10.lower(), S10),
    ("cdek", "1106000001", "1106000001"),  # what CDEK's emulator (and CDEK) issues: 10 digits
    ("cdek", "1106 000 001", "1106000001"),
    ("cdek", "12345678", "12345678"),
    ("cdek", "123456789012", "123456789012"),
    ("pickpoint", "15000000001", "15000000001"),  # the invoice number PickPoint's emulator issues
    ("pickpoint", "200800000001", "200800000001"),  # its barcode
    ("sandbox", "SBX000000001RU", "SBX000000001RU"),  # the sandbox's own
    ("sandbox", "sbx-000000001-ru", "SBX000000001RU"),
    ("sandbox", RP14, RP14),  # from its number ranges
    ("sandbox", s10_compose("ZZ", 5, "RU"), s10_compose("ZZ", 5, "RU")),
])
def test_the_carriers_own_numbers_are_accepted(carrier: str, typed: str, cleaned: str) -> None:
    assert validate_tracking_number(typed, carrier_code=carrier) == cleaned


def test_a_carrier_without_an_adapter_is_checked_by_the_postal_formats() -> None:
    assert validate_tracking_number(RP14, carrier_code="local_courier") == RP14
    with pytest.raises(ValueError, match="номер S10 состоит из 13"):
        validate_tracking_number("AB1234", carrier_code="local_courier")


@pytest.mark.parametrize(("carrier", "typed", "message"), [
    ("russian_post", "1106000001",
     "Неверная длина трек-номера: 10 цифр, а номер Почты России состоит из 14"),
    ("russian_post", RP14[:-1] + str((int(RP14[-1]) + 1) % 10), "Неверная контрольная цифра"),
    ("russian_post", S10[:10] + str((int(S10[10]) + 1) % 10) + "RU", "Неверная контрольная цифра"),
    ("cdek", "1234567", "Неверная длина номера заказа СДЭК: 7 цифр"),
    ("cdek", "1234567890123", "Неверная длина номера заказа СДЭК: 13 цифр"),
    ("cdek", RP14, "Неверная длина номера заказа СДЭК: 14 цифр"),
    ("cdek", S10, "Номер заказа СДЭК состоит только из цифр"),
    ("cdek", "", "не указан"),
    ("pickpoint", "123456789", "Неверная длина номера отправления PickPoint: 9 цифр"),
    ("pickpoint", "15000000001RU", "только из цифр"),
    ("sandbox", "SBX00000001RU", "SBX, 9 цифр, RU"),
    ("sandbox", "1106000001", "номер Почты России состоит из 14"),
])
def test_bad_numbers_name_the_carriers_format(carrier: str, typed: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_tracking_number(typed, carrier_code=carrier)


def test_cdek_and_pickpoint_numbers_are_no_longer_refused_as_russian_post_ones() -> None:
    """The reported bug: their numbers were refused with «номер Почты России состоит из 14»."""
    with pytest.raises(ValueError, match="номер Почты России состоит из 14"):
        validate_tracking_number("1106000001")  # without a carrier: the postal formats
    assert validate_tracking_number("1106000001", carrier_code="cdek") == "1106000001"
    assert validate_tracking_number("15000000001", carrier_code="pickpoint") == "15000000001"


def test_an_adapter_without_a_format_of_its_own_takes_letters_and_digits() -> None:
    assert CarrierAdapter.validate_number(" ab-12 34 ") == "AB1234"
    with pytest.raises(ValueError, match="длиннее 32"):
        CarrierAdapter.validate_number("A" * 33)
    with pytest.raises(ValueError, match="не указан"):
        CarrierAdapter.validate_number("  ")
    with pytest.raises(ValueError, match="латинских букв и цифр"):
        CarrierAdapter.validate_number("AB#12")


def test_numbers_the_carriers_emulators_issue_pass_their_validators() -> None:
    from shipdesk.carriers.cdek.emulator import CdekEmulator
    from shipdesk.carriers.pickpoint.emulator import PickpointEmulator

    assert validate_tracking_number(str(CdekEmulator().next_number), carrier_code="cdek")
    assert validate_tracking_number(str(PickpointEmulator().next_invoice),
                                    carrier_code="pickpoint")
