"""The checks a postal operator does, on single values and whole shipments (no database
needed beyond the context)."""

from __future__ import annotations

import random
from decimal import Decimal

import phonenumbers
import pytest

from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.shipments.validation import (
    Limit,
    ValidationContext,
    normalize_address_part,
    parse_money,
    parse_phone,
    validate_shipment,
)

PARCEL = Limit("russian_post", "POSTAL_PARCEL", "Посылка", 1, 20000, 150, 300, True, True,
               True, True, False)
ONLINE = Limit("russian_post", "ONLINE_PARCEL", "Посылка онлайн", 1, 20000, 60, 140, False,
               True, True, True, False)
INTL = Limit("russian_post", "SMALL_PACKET", "Мелкий пакет", 1, 2000, 60, 90, True, True,
             False, False, True)


def ctx(**kw: object) -> ValidationContext:
    limits = {(x.carrier_code, x.service_code): x for x in (PARCEL, ONLINE, INTL)}
    return ValidationContext(limits=limits, limited_carriers=frozenset({"russian_post"}),
                             **kw)  # type: ignore[arg-type]


def errors_of(**overrides: object) -> dict[str, str]:
    _cleaned, errors = validate_shipment(shipment_data(**overrides), ctx())
    return {".".join(str(p) for p in e.loc): e.message for e in errors}


def test_valid_shipment_is_cleaned_and_normalised() -> None:
    cleaned, errors = validate_shipment(shipment_data(), ctx())
    assert errors == []
    assert cleaned["recipient_phone"] == "+79123456789"
    assert (cleaned["recipient_surname"], cleaned["recipient_given_name"],
            cleaned["recipient_patronymic"]) == ("Иванов", "Иван", "Иванович")
    assert cleaned["street"] == "ул. Ленина"
    assert cleaned["house"] == "5" and cleaned["apartment"] == "12"
    assert "улица ленина" in cleaned["address_as_given"]
    assert cleaned["cod_amount"] == Decimal("2500.00")
    assert cleaned["mail_category"] == "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY"


@pytest.mark.parametrize(("kind", "given", "expected"), [
    ("street", "улица  ленина", "ул. Ленина"),
    ("street", "ПРОСПЕКТ МИРА", "пр-кт Мира"),
    ("street", "пер Садовый", "пер. Садовый"),
    ("city", "г москва", "г. Москва"),
    ("city", "ростов-на-дону", "Ростов-на-Дону"),
    ("region", "московская обл", "Московская обл."),
    ("house", "дом 7а", "7а"),
    ("apartment", "кв.12", "12"),
    ("building", "к2", "корп. 2"),
    ("building", "стр 1", "стр. 1"),
    ("street", "ул. МакДональдс", "ул. МакДональдс"),
])
def test_address_part_normalisation(kind: str, given: str, expected: str) -> None:
    assert normalize_address_part(kind, given) == expected


def test_raw_address_is_split_and_kept_as_given() -> None:
    data = shipment_data(address="101000, г. Москва, ул. Мясницкая, д. 1, кв. 5", index="",
                         region="", city="", street="", house="", apartment="")
    cleaned, errors = validate_shipment(data, ctx())
    assert errors == []
    assert (cleaned["index"], cleaned["region"], cleaned["street"], cleaned["house"]) == (
        "101000", "Москва", "ул. Мясницкая", "1")
    assert cleaned["address_as_given"] == "101000, г. Москва, ул. Мясницкая, д. 1, кв. 5"


@pytest.mark.parametrize(("value", "expected"), [
    ("8 (912) 345-67-89", "+79123456789"), ("+7 912 345 67 89", "+79123456789"),
    ("9123456789", "+79123456789"), ("+7 (495) 123-45-67", "+74951234567"),
    ("8 495 123 45 67", "+74951234567"), ("+1 212 555 0100", "+12125550100"),
])
def test_phone_normalised_to_e164(value: str, expected: str) -> None:
    assert parse_phone(value) == (expected, None)


@pytest.mark.parametrize("value", ["12345", "+7 000", "телефон"])
def test_bad_phone_is_an_error(value: str) -> None:
    phone, error = parse_phone(value)
    assert phone == "" and error


def test_mobile_fast_path_agrees_with_libphonenumber() -> None:
    rng = random.Random(1)
    for _ in range(2000):
        digits = f"9{rng.randrange(10**9):09d}"
        for spelling in (f"8{digits}", f"+7 {digits[:3]} {digits[3:]}", digits):
            ours, error = parse_phone(spelling)
            reference = phonenumbers.parse(spelling, "RU")
            if phonenumbers.is_valid_number(reference):
                assert ours == phonenumbers.format_number(
                    reference, phonenumbers.PhoneNumberFormat.E164)
            else:
                # libphonenumber knows ranges not yet allocated; ours accepts any 9xx
                assert ours == "+7" + digits and error is None


def test_money_with_three_decimals_is_refused() -> None:
    assert parse_money("10.005")[1]
    assert parse_money(1.005)[1]  # a float from a spreadsheet cell
    assert parse_money("1 234,50") == (Decimal("1234.50"), None)
    assert parse_money("10.500") == (Decimal("10.50"), None)  # trailing zero is fine
    assert "два" in errors_of(cod_amount="100.125")["cod_amount"] or \
        "двух" in errors_of(cod_amount="100.125")["cod_amount"]


def test_negative_and_missing_weight() -> None:
    assert "отрицательн" in errors_of(weight_g=-5)["weight_g"]
    assert "вес" in errors_of(weight_g="")["weight_g"].lower()
    assert "целое" in errors_of(weight_g="12.5")["weight_g"]


def test_weight_above_mail_type_limit() -> None:
    assert "20000" in errors_of(weight_g=25000)["weight_g"]


def test_dimensions_checked_per_mail_type() -> None:
    assert "сумма сторон" in errors_of(length_cm=150, width_cm=100, height_cm=100)[
        "length_cm"].lower()
    assert "не указываются" in errors_of(service_code="ONLINE_PARCEL", length_cm=10,
                                         width_cm=10, height_cm=10)["length_cm"]


def test_cod_above_declared_value() -> None:
    message = errors_of(declared_value="100", cod_amount="200")["cod_amount"]
    assert "больше объявленной ценности" in message


def test_unknown_index_prefix() -> None:
    assert "не существует" in errors_of(index="000123")["index"]
    assert "6 цифр" in errors_of(index="12345")["index"]


def test_index_of_another_region() -> None:
    message = errors_of(index="101000", region="Омская обл")["index"]
    assert "Москва" in message and "Омская" in message


def test_index_not_in_loaded_directory() -> None:
    data = shipment_data(index="644010")
    _c, errors = validate_shipment(data, ctx(offices=frozenset({"644011"})))
    assert [e.loc for e in errors] == [("index",)]
    assert "справочнике" in errors[0].message
    _c, errors = validate_shipment(data, ctx(offices=frozenset({"644010"})))
    assert errors == []


def test_unknown_service_code() -> None:
    assert "FOO" in errors_of(service_code="FOO")["service_code"]


def test_international_needs_customs_items() -> None:
    errors = errors_of(country="DE", service_code="SMALL_PACKET", index="10115",
                       region="", cod_amount="0")
    assert "items" in errors
    errors = errors_of(country="DE", service_code="SMALL_PACKET", index="10115", region="",
                       cod_amount="0", declared_value="30",
                       items=[{"name": "Шарф", "quantity": 2, "unit_price": "10",
                               "weight_g": 400}])
    assert "items.0.hs_code" in errors and "items.0.origin_country" in errors
    assert "declared_value" in errors  # 30 != 2 × 10
    assert "items" not in errors  # 2 × 400 g of items fit in a 1200 g parcel
    heavy = errors_of(country="DE", service_code="SMALL_PACKET", index="10115", region="",
                      cod_amount="0", weight_g=700,
                      items=[{"name": "Шарф", "quantity": 2, "unit_price": "10",
                              "weight_g": 400, "hs_code": "611710", "origin_country": "RU"}])
    assert "800" in heavy["items"]
    _c, ok = validate_shipment(shipment_data(
        country="DE", service_code="SMALL_PACKET", index="10115", region="", cod_amount="0",
        declared_value="20", weight_g=900,
        items=[{"name": "Шарф", "quantity": 2, "unit_price": "10", "weight_g": 400,
                "hs_code": "611710", "origin_country": "RU"}]), ctx())
    assert ok == []


def test_domestic_mail_type_abroad_and_back() -> None:
    assert "международный" in errors_of(country="KZ", index="050000", region="")[
        "service_code"]
    assert "международных" in errors_of(service_code="SMALL_PACKET", cod_amount="0")[
        "service_code"]


def test_bad_tracking_number_check_digit() -> None:
    from shipdesk.numbering.validation import validate_tracking_number

    _c, errors = validate_shipment(shipment_data(tracking_number="10944022440322"),
                                   ctx(tracking_validator=validate_tracking_number))
    assert [e.loc for e in errors] == [("tracking_number",)]
    cleaned, errors = validate_shipment(shipment_data(tracking_number="109440 22 44032 1"),
                                        ctx(tracking_validator=validate_tracking_number))
    assert errors == [] and cleaned["tracking_number"] == "10944022440321"
