"""A one-line address reaching a shipment through every door (a spreadsheet beside
«Регион» and «Город» columns, the API, the form) and leaving it whole in the carrier's
request."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from shipdesk.carriers.base import Address
from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.russian_post.tests.conftest import make_adapter, start_emulator
from shipdesk.shipments import services
from shipdesk.shipments.models import Shipment
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.shipments.tests.test_importing import upload, xlsx
from shipdesk.tenancy.services import Actor

EXPORT_HEADERS = ["Номер заказа", "ФИО получателя", "Телефон", "Индекс", "Регион", "Город",
                  "Адрес (улица, дом, кв.)", "Вес, г"]
UNSPLIT = "возле рынка, спросить Ивана"


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_upload_with_region_city_and_address_columns_stores_street_house_and_flat(
        actor: Actor, web: Client) -> None:
    content = xlsx([
        ["E-1", "Петрова Анна", "89120000001", "620014", "Свердловская обл.", "Екатеринбург",
         "ул. Малышева, д. 5, кв. 12", 500],
        ["E-2", "Сидоров Пётр", "89120000002", "624030", "Свердловская обл.", "",
         "Белоярский р-н, пос. Растущий, ул. Мира, д. 3, корп. 2, кв. 7", 700],
        ["E-3", "Иванов Иван", "89120000003", "620014", "Свердловская обл.", "Екатеринбург",
         UNSPLIT, 900],
    ], EXPORT_HEADERS)
    job = upload(actor, content)
    assert (job.status, job.created_count, job.rejected_count) == ("done", 3, 0)

    first = Shipment.objects.get(order_number="E-1")
    assert (first.region, first.city, first.street, first.house, first.apartment) == (
        "Свердловская обл.", "Екатеринбург", "ул. Малышева", "5", "12")
    assert first.address_as_given == "ул. Малышева, д. 5, кв. 12"
    second = Shipment.objects.get(order_number="E-2")
    assert (second.region, second.district, second.city, second.street, second.house,
            second.building, second.apartment) == (
        "Свердловская обл.", "Белоярский р-н", "п. Растущий", "ул. Мира", "3", "корп. 2", "7")

    # a line that cannot be split is stored whole and the shipment's page says so
    third = Shipment.objects.get(order_number="E-3")
    assert (third.street, third.house, third.address_as_given) == (UNSPLIT, "", UNSPLIT)
    page = web.get(f"/shipments/{third.pk}/").content.decode()
    assert "не разобран на улицу, дом и квартиру" in page
    assert "не разобран" not in web.get(f"/shipments/{first.pk}/").content.decode()


def test_api_create_with_city_and_one_line_address(api: Client) -> None:
    body = shipment_data(order_number="A-1", index="191186", region="", city="Санкт-Петербург",
                         street="", house="", apartment="",
                         address="наб. реки Мойки, д. 12, кв. 4")
    response = post(api, "/api/v1/shipments/", body)
    assert response.status_code == 201, response.content
    shipment = response.json()
    assert (shipment["region"], shipment["city"], shipment["street"], shipment["house"],
            shipment["apartment"]) == ("Санкт-Петербург", "Санкт-Петербург",
                                       "наб. реки Мойки", "12", "4")
    assert shipment["address_as_given"] == "наб. реки Мойки, д. 12, кв. 4"
    assert shipment["warnings"] == []


def test_api_answers_with_a_warning_for_an_address_it_could_not_split(api: Client) -> None:
    body = shipment_data(order_number="A-2", street="", house="", apartment="",
                         address=UNSPLIT)
    response = post(api, "/api/v1/shipments/", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["street"] == UNSPLIT
    assert [(w["loc"], w["code"]) for w in created["warnings"]] == [
        (["street"], "address_not_split")]
    again = api.get(f"/api/v1/shipments/{created['id']}").json()
    assert again["warnings"] == created["warnings"]

    bulk = post(api, "/api/v1/shipments/bulk", {"items": [
        shipment_data(order_number="A-3", street="", house="", apartment="",
                      address=UNSPLIT),
        shipment_data(order_number="A-4")]}).json()
    assert [[w["code"] for w in r["warnings"]] for r in bulk["results"]] == [
        ["address_not_split"], []]


def test_api_update_with_a_new_one_line_address_replaces_the_parts_not_sent(
        api: Client) -> None:
    created = post(api, "/api/v1/shipments/", shipment_data(order_number="A-5")).json()
    assert (created["street"], created["house"], created["apartment"]) == (
        "ул. Ленина", "5", "12")
    response = api.patch(f"/api/v1/shipments/{created['id']}", json.dumps({
        "city": "Омск", "address": "644010, ул. Мира, д. 7, корп. 1"}),
        content_type="application/json")
    assert response.status_code == 200, response.content
    updated = response.json()
    assert (updated["index"], updated["city"], updated["street"], updated["house"],
            updated["building"], updated["apartment"]) == (
        "644010", "Омск", "ул. Мира", "7", "корп. 1", "")
    assert updated["address_as_given"] == "644010, ул. Мира, д. 7, корп. 1"


def test_form_live_validation_splits_an_address_typed_into_the_street(web: Client) -> None:
    html = web.post("/shipments/validate/", {
        "recipient_surname": "Иванов", "recipient_phone": "89123456789", "index": "644010",
        "city": "Омск", "street": "ул. Ленина, д. 5, кв. 12", "weight_g": "500"}
    ).content.decode()
    assert "644010, Омская область, Омск, ул. Ленина, 5, 12" in html
    html = web.post("/shipments/validate/", {
        "recipient_surname": "Иванов", "recipient_phone": "89123456789", "index": "644010",
        "city": "Омск", "street": UNSPLIT, "weight_g": "500"}).content.decode()
    assert "Обратите внимание" in html and "не разобран" in html


def test_russian_post_order_carries_street_house_building_and_flat(actor: Actor) -> None:
    shipment = services.shipment_create(actor=actor, data=shipment_data(
        order_number="RP-1", index="620014", region="Свердловская обл.", city="Екатеринбург",
        street="", house="", apartment="", address="ул. Малышева, д. 5, корп. 2, кв. 12"))
    server = start_emulator()
    try:
        adapter = make_adapter(server.url)
        result = adapter.create_parcels([services.parcel_request(shipment, None)])
        assert not result.errors, result.errors
        (order,) = server.state.orders.values()
    finally:
        server.shutdown()
    assert {k: order.get(k) for k in ("region-to", "place-to", "street-to", "house-to",
                                      "corpus-to", "room-to")} == {
        "region-to": "Свердловская обл.", "place-to": "Екатеринбург",
        "street-to": "ул. Малышева", "house-to": "5", "corpus-to": "2", "room-to": "12"}


def test_cdek_location_is_the_whole_street_address_on_one_line() -> None:
    location = CdekAdapter._location(Address(
        index="620014", city="Екатеринбург", street="ул. Малышева", house="5",
        building="корп. 2", apartment="12"))
    assert location["address"] == "Екатеринбург, ул. Малышева, д. 5, корп. 2, кв. 12"
    office = CdekAdapter._location(Address(city="Омск", street="ул. Мира", house="1",
                                           apartment="оф. 3"))
    assert office["address"] == "Омск, ул. Мира, д. 1, оф. 3"
    foreign = CdekAdapter._location(Address(country="DE", city="Berlin",
                                            street="Hauptstraße", house="5"))
    assert foreign["address"] == "Berlin, Hauptstraße, 5"


def test_russian_post_building_and_flat_fields() -> None:
    from shipdesk.carriers.russian_post.adapter import building_fields, room_fields

    assert building_fields("корп. 2 стр. 1 лит. А") == [
        ("corpus-to", "2"), ("building-to", "1"), ("letter-to", "А")]
    assert building_fields("2") == [("corpus-to", "2")]
    assert room_fields("12") == [("room-to", "12")]
    assert room_fields("оф. 3") == [("office-to", "3")]
    assert room_fields("пом. 5Н") == [("room-to", "5Н")]
    assert room_fields("") == []
