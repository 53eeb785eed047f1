"""One-line Russian addresses split into their parts, and the parts normalised as Russian
Post prints them (pure functions: no database)."""

from __future__ import annotations

import pytest

from shipdesk.shipments.addresses import parse_address
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.shipments.tests.test_validation import ctx
from shipdesk.shipments.validation import (
    address_warnings,
    normalize_address_part,
    validate_shipment,
)

# the line → the parts found (those not named are empty)
ADDRESSES: list[tuple[str, dict[str, str]]] = [
    ("Свердловская обл., Белоярский р-н, пос. Растущий, ул. Мира, д. 3, кв. 7",
     {"region": "Свердловская обл.", "district": "Белоярский р-н", "city": "пос. Растущий",
      "street": "ул. Мира", "house": "3", "apartment": "7"}),
    ("ул. Ленина, д. 5, кв. 12", {"street": "ул. Ленина", "house": "5", "apartment": "12"}),
    ("Ленина 5-12", {"street": "Ленина", "house": "5", "apartment": "12"}),
    ("Ленина, 5, 12", {"street": "Ленина", "house": "5", "apartment": "12"}),
    ("Санкт-Петербург, наб. реки Мойки, 12, кв. 4",
     {"city": "Санкт-Петербург", "street": "наб. реки Мойки", "house": "12", "apartment": "4"}),
    ("Москва, Тверская, 1", {"city": "Москва", "street": "Тверская", "house": "1"}),
    ("г. Москва, Варшавское шоссе, 37 к. 2 стр. 1",
     {"city": "г. Москва", "street": "Варшавское шоссе", "house": "37",
      "building": "корп. 2 стр. 1"}),
    ("Россия, 101000, г. Москва, ул. Мясницкая, д. 1, кв. 5",
     {"index": "101000", "city": "г. Москва", "street": "ул. Мясницкая", "house": "1",
      "apartment": "5"}),
    ("ул. им. 50-летия Октября, д. 7", {"street": "ул. им. 50-летия Октября", "house": "7"}),
    ("ул. 8 Марта, д. 5 А, подъезд 2, этаж 3", {"street": "ул. 8 Марта", "house": "5А"}),
    ("6-я линия В.О., д. 15, кв. 3", {"street": "6-я линия В. О.", "house": "15",
                                     "apartment": "3"}),
    ("Республика Саха (Якутия), Намский улус, с. Намцы, ул. Октябрьская, 5",
     {"region": "Республика Саха (Якутия)", "district": "Намский улус", "city": "с. Намцы",
      "street": "ул. Октябрьская", "house": "5"}),
    ("620000, Екатеринбург, пр-т Ленина, 50А/2, оф. 3",
     {"index": "620000", "city": "Екатеринбург", "street": "пр-т Ленина", "house": "50А/2",
      "apartment": "оф. 3"}),
    ("мкр. Юбилейный, д. 5, корп. 2, кв. 100",
     {"street": "мкр. Юбилейный", "house": "5", "building": "корп. 2", "apartment": "100"}),
    ("Тверская ул., д. 3к2, кв. 10",
     {"street": "Тверская ул.", "house": "3", "building": "корп. 2", "apartment": "10"}),
    ("Краснодарский край, г. Сочи, ул. Навагинская 9Д кв 14",
     {"region": "Краснодарский край", "city": "г. Сочи", "street": "ул. Навагинская",
      "house": "9Д", "apartment": "14"}),
    ("Свердловская область г Екатеринбург ул Ленина д5 кв12",
     {"region": "Свердловская область", "city": "г Екатеринбург", "street": "ул Ленина",
      "house": "5", "apartment": "12"}),
    ("ул. Ленина, д. 5, кв. 12, Екатеринбург, Свердловская обл.",  # small to big
     {"region": "Свердловская обл.", "city": "Екатеринбург", "street": "ул. Ленина",
      "house": "5", "apartment": "12"}),
    ("Ханты-Мансийский автономный округ, г. Сургут, ул. Мира, 1",
     {"region": "Ханты-Мансийский автономный округ", "city": "г. Сургут",
      "street": "ул. Мира", "house": "1"}),
    ("д. Ивановка, 15", {"city": "д. Ивановка", "house": "15"}),
    ("пер. Садовый, дом 4, строение 2, помещение 7",
     {"street": "пер. Садовый", "house": "4", "building": "стр. 2", "apartment": "пом. 7"}),
    ("б-р Гагарина, д. 9, лит. А", {"street": "б-р Гагарина", "house": "9",
                                     "building": "лит. А"}),
    ("Свердловская обл., пос. Растущий",
     {"region": "Свердловская обл.", "city": "пос. Растущий"}),
    ("Московская область, г. Химки, мкр. Сходня, ул. Мичурина, д. 18, кв. 3",
     {"region": "Московская область", "city": "г. Химки", "street": "мкр. Сходня, ул. Мичурина",
      "house": "18", "apartment": "3"}),
    ("Тюменская обл, г. Тобольск, 7 мкр, д. 30, кв 12",
     {"region": "Тюменская обл", "city": "г. Тобольск", "street": "7 мкр", "house": "30",
      "apartment": "12"}),
    ("СНТ Ромашка, участок 15", {"street": "СНТ Ромашка", "house": "15"}),
    ("ул.Ленина,д.5,кв.12", {"street": "ул. Ленина", "house": "5", "apartment": "12"}),
    ("Москва; ул. Арбат; 10", {"city": "Москва", "street": "ул. Арбат", "house": "10"}),
    ("Краснодар, ул. Красная, 176 оф 5",
     {"city": "Краснодар", "street": "ул. Красная", "house": "176", "apartment": "оф. 5"}),
    ("Санкт-Петербург, Невский пр., д. 28, лит. А, пом. 5Н",
     {"city": "Санкт-Петербург", "street": "Невский пр.", "house": "28", "building": "лит. А",
      "apartment": "пом. 5Н"}),
]


@pytest.mark.parametrize(("line", "expected"), ADDRESSES, ids=[a for a, _p in ADDRESSES])
def test_one_line_address_is_split_into_parts(line: str, expected: dict[str, str]) -> None:
    parsed = parse_address(line)
    found = {k: v for k, v in parsed.parts().items() if v}
    assert found == expected
    assert parsed.split and parsed.unplaced == ()


def test_name_without_type_word_is_not_guessed_as_a_part_given_elsewhere() -> None:
    # beside a «Город» column, "Тверская" before the house is the street, never the city
    parsed = parse_address("Тверская, 1", frozenset({"city"}))
    assert (parsed.city, parsed.street, parsed.house) == ("", "Тверская", "1")


@pytest.mark.parametrize("line", ["какая-то непонятная строка", "Екатеринбург Ленина"])
def test_line_without_house_and_with_unplaced_names_is_not_split(line: str) -> None:
    parsed = parse_address(line)
    assert not parsed.split
    assert (parsed.street, parsed.house) == ("", "")
    assert parsed.unplaced


def test_what_cannot_be_placed_beside_a_house_is_reported() -> None:
    parsed = parse_address("Москва, ул. Мира, 5, кв. 3, кв. 4")
    assert (parsed.street, parsed.house, parsed.apartment) == ("ул. Мира", "5", "3")
    assert parsed.unplaced == ("кв. 4",)


@pytest.mark.parametrize(("kind", "given", "expected"), [
    ("street", "наб. реки Мойки", "наб. реки Мойки"),
    ("street", "наб. реки мойки", "наб. реки Мойки"),
    ("street", "НАБЕРЕЖНАЯ РЕКИ МОЙКИ", "наб. реки Мойки"),
    ("street", "ул. им. 50-летия Октября", "ул. им. 50-летия Октября"),
    ("street", "ул. им. 50-летия октября", "ул. им. 50-летия Октября"),
    ("street", "пр-т Ленина", "пр-кт Ленина"),
    ("street", "пр-т ленина", "пр-кт Ленина"),
    ("street", "ул. 8 марта", "ул. 8 Марта"),
    ("street", "УЛ. III ИНТЕРНАЦИОНАЛА", "ул. III Интернационала"),
    ("district", "Намский улус", "Намский улус"),
    ("district", "намский улус", "Намский улус"),
    ("city", "улус Шибертуй", "улус Шибертуй"),
    ("city", "комсомольск-на-амуре", "Комсомольск-на-Амуре"),
    ("region", "РЕСПУБЛИКА САХА (ЯКУТИЯ)", "Респ. Саха (Якутия)"),
    ("street", "ЖК СОЛНЕЧНЫЙ", "ЖК Солнечный"),
])
def test_normalisation_keeps_lower_case_words_lower_case(kind: str, given: str,
                                                         expected: str) -> None:
    assert normalize_address_part(kind, given) == expected


def _cleaned(**overrides: object) -> tuple[dict[str, object], list[object], list[object]]:
    warnings: list[object] = []
    cleaned, errors = validate_shipment(shipment_data(**overrides), ctx(),
                                        warnings=warnings)  # type: ignore[arg-type]
    return cleaned, errors, warnings


def test_one_line_address_beside_region_and_city_is_split() -> None:
    cleaned, errors, warnings = _cleaned(
        index="620014", region="Свердловская обл.", city="Екатеринбург", street="",
        house="", apartment="", address="ул. Малышева, д. 5, кв. 12")
    assert errors == [] and warnings == []
    assert (cleaned["region"], cleaned["city"], cleaned["street"], cleaned["house"],
            cleaned["apartment"]) == ("Свердловская обл.", "Екатеринбург", "ул. Малышева",
                                      "5", "12")
    assert cleaned["address_as_given"] == "ул. Малышева, д. 5, кв. 12"


def test_parts_given_on_their_own_win_over_the_line() -> None:
    cleaned, errors, _w = _cleaned(
        index="620014", region="", city="Екатеринбург", street="", house="", apartment="40",
        address="г. Березовский, ул. Мира, 3, кв. 7")
    assert errors == []
    assert (cleaned["city"], cleaned["street"], cleaned["house"], cleaned["apartment"]) == (
        "Екатеринбург", "ул. Мира", "3", "40")


def test_whole_address_typed_as_the_street_is_split() -> None:
    cleaned, errors, _w = _cleaned(street="улица ленина, д. 5, корп. 2, кв. 12", house="",
                                   apartment="")
    assert errors == []
    assert (cleaned["street"], cleaned["house"], cleaned["building"],
            cleaned["apartment"]) == ("ул. Ленина", "5", "корп. 2", "12")


def test_rural_address_with_district_and_settlement() -> None:
    cleaned, errors, _w = _cleaned(
        index="624030", region="", city="", street="", house="", apartment="",
        address="Свердловская обл., Белоярский р-н, пос. Растущий, ул. Мира, д. 3, кв. 7")
    assert errors == []
    assert (cleaned["region"], cleaned["district"], cleaned["city"], cleaned["street"],
            cleaned["house"], cleaned["apartment"]) == (
        "Свердловская обл.", "Белоярский р-н", "п. Растущий", "ул. Мира", "3", "7")


def test_spb_without_region_takes_the_region_from_the_index() -> None:
    cleaned, errors, _w = _cleaned(
        index="191186", region="", city="", street="", house="", apartment="",
        address="Санкт-Петербург, наб. реки Мойки, д. 12, кв. 4")
    assert errors == []
    assert (cleaned["region"], cleaned["city"], cleaned["street"], cleaned["house"]) == (
        "Санкт-Петербург", "Санкт-Петербург", "наб. реки Мойки", "12")


def test_unsplittable_address_is_kept_whole_with_a_warning() -> None:
    cleaned, errors, warnings = _cleaned(
        city="Омск", street="", house="", apartment="",
        address="возле рынка, спросить Ивана")
    assert errors == []  # a warning, not an error: the shipment is stored
    assert cleaned["street"] == "возле рынка, спросить Ивана"
    assert cleaned["address_as_given"] == "возле рынка, спросить Ивана"
    assert [(w.loc, w.code) for w in warnings] == [  # type: ignore[attr-defined]
        (("street",), "address_not_split")]
    assert "не разобран" in str(warnings[0].message)  # type: ignore[attr-defined]


def test_leftover_beside_a_split_address_is_a_warning() -> None:
    _c, errors, warnings = _cleaned(street="", house="", apartment="",
                                    address="ул. Мира, 5, кв. 3, кв. 4")
    assert errors == []
    assert [(w.loc, w.code) for w in warnings] == [  # type: ignore[attr-defined]
        (("address",), "address_unplaced")]
    assert "кв. 4" in str(warnings[0].message)  # type: ignore[attr-defined]


def test_no_warning_for_a_pickup_point_or_a_foreign_address() -> None:
    assert address_warnings({"street": "ул. Мира", "house": "", "country": "RU",
                             "pickup_point_code": "7701-001"}) == []
    assert address_warnings({"street": "Hauptstraße", "house": "", "country": "DE"}) == []
    assert address_warnings({"street": "ул. Мира", "house": "", "country": "RU"})
