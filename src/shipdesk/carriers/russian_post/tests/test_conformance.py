"""Otpravka as its specification describes it: the documented examples (fixtures/
otpravka_conformance.json, each with its section) replayed against the emulator, the
documented answers fed to the adapter, the published client (fs-pochta-api) on the endpoints
it offers, and the carrier's normalisation used when shipments are registered."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipdesk.carriers.base import Address, Party
from shipdesk.carriers.russian_post.adapter import MSK, Adapter
from shipdesk.carriers.russian_post.emulator import EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import basic_headers, parcel
from shipdesk.carriers.russian_post.tests.test_published_client import delivery, order
from shipdesk.core.conformance import mismatches

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "otpravka_conformance.json"
EXAMPLES = json.loads(FIXTURE.read_text(encoding="utf-8"))["examples"]


def batched(adapter: Adapter, reference: str = "C-1") -> tuple[str, str, str]:
    """(carrier id, barcode, batch name) of a parcel put into a batch dated today."""
    [created] = adapter.create_parcels([parcel(reference)]).created
    batch = adapter.create_batch([created.carrier_id], shipping_date=datetime.now(MSK).date())
    return created.carrier_id, batch.tracking_numbers[created.carrier_id], batch.batch_id


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["name"] for e in EXAMPLES])
def test_emulator_answers_the_documented_request_in_the_documented_shape(
        example: dict[str, Any], server: EmulatorServer, adapter: Adapter) -> None:
    oid, barcode, batch = batched(adapter)
    fill = {"{id}": oid, "{barcode}": barcode, "{batch}": batch}
    path = example["path"]
    for key, value in fill.items():
        path = path.replace(key, value)
    query = {k: fill.get(v, v) for k, v in (example.get("query") or {}).items()}
    response = httpx.request(example["method"], f"{server.url}{path}", params=query,
                             json=example.get("body"), headers=basic_headers())
    assert response.status_code == 200, (example["doc"], response.text)
    got = response.json()
    assert mismatches(example["response"], got) == [], (example["doc"], got)
    if example["response"] == []:
        assert got == []  # past the last page: nothing, not the first page again


def replaying(*names: str) -> httpx.Client:
    """A client answering each request with the documented answer of the same path."""
    by_path = {}
    for ex in EXAMPLES:
        if ex["name"] in names:
            by_path[ex["path"].split("{")[0].rstrip("/")] = ex["response"]

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = next((v for k, v in by_path.items() if path == k or path.startswith(k + "/")), None)
        return httpx.Response(200 if body is not None else 404, json=body if body is not None else {})

    return httpx.Client(transport=httpx.MockTransport(handler))


def documented_adapter(*names: str) -> Adapter:
    return Adapter(credentials={"token": "t", "login": "l", "password": "p"},
                   base_url="https://otpravka-api.pochta.ru", settings={}, http=replaying(*names))


def test_adapter_reads_the_documented_phone_and_name_answers() -> None:
    ours = documented_adapter("clean_phone", "clean_physical")
    [phone] = ours.normalize_phones(["9260120935"])
    assert (phone.phone, phone.quality_code, phone.good) == ("+79260120935", "GOOD", True)
    [person] = ours.normalize_names(["Иванов Иван Иванович"])
    assert (person.surname, person.name, person.middle_name, person.good) == (
        "Иванов", "Иван", "Иванович", True)


def test_adapter_finds_a_batched_order_by_the_documented_search_answer() -> None:
    ours = documented_adapter("shipment_search", "backlog_search_batched")
    [found] = ours.find_parcels(["C-1"])
    assert (found.carrier_id, found.tracking_number) == ("400000001", "80084710000011")


def test_a_lost_create_answer_is_recovered_after_the_batch(adapter: Adapter) -> None:
    oid, barcode, _batch = batched(adapter, "LOST-1")
    [found] = adapter.find_parcels(["LOST-1"])  # in a batch: found by /1.0/shipment/search
    assert (found.carrier_id, found.tracking_number) == (oid, barcode)


def test_parcels_are_normalised_through_the_clean_services(adapter: Adapter) -> None:
    given = parcel("N-1", recipient=Party(
        name="петров  пётр", phone="8 (926) 012-09-35",
        address=Address(raw="Москва, Варшавское шоссе, 37", apartment="12")))
    [done] = adapter.normalize_parcels([given])
    assert done.recipient.phone == "+79260120935"
    assert done.options["recipient_name_parts"] == {"surname": "Петров", "given-name": "Пётр",
                                                    "middle-name": ""}
    assert done.recipient.address.index and done.recipient.address.apartment == "12"
    order_body = adapter.build_order(done)
    assert (order_body["surname"], order_body["given-name"]) == ("Петров", "Пётр")
    assert order_body["tel-address"] == 79260120935


def test_an_address_the_service_is_not_sure_of_is_sent_as_given(adapter: Adapter) -> None:
    given = parcel("N-2", recipient=Party(name="ООО Ромашка", company="ООО Ромашка",
                                          address=Address(raw="где-то")))
    [done] = adapter.normalize_parcels([given])
    assert done.recipient == given.recipient


# -- the published client on the endpoints it offers ----------------------------------------
def test_published_client_edits_moves_redates_and_archives(server: EmulatorServer) -> None:
    client = delivery(server.url)
    first, second = client.orders.create_order([order("E-1"), order("E-2")])["result-ids"]
    edited = order("E-1")
    edited.mass = 1500
    assert client.orders.edit_order(first, edited) == {"result-ids": [first]}
    assert client.orders.search_order_by_id(first)["mass"] == 1500
    today = datetime.now(MSK).date()
    [batch] = client.batches.create_batch([first], sending_date=today)["batches"]
    name = batch["batch-name"]
    assert client.batches.move_orders_to_batch(name, [second])["result-ids"] == [second]
    assert client.batches.find_batch(name)["shipment-count"] == 2
    tomorrow = today + timedelta(days=1)
    client.batches.change_sending_date(name, tomorrow.year, tomorrow.month, tomorrow.day)
    assert client.batches.find_batch(name)["list-number-date"] == tomorrow.isoformat()
    barcode = client.batches.find_order_by_id(first)["barcode"]
    assert [o["id"] for o in client.batches.find_orders_with_barcode(barcode)] == [first]
    assert [b["batch-name"] for b in client.batches.search_all_batches()] == [name]
    assert client.orders.shipment_to_backlog([second])["result-ids"] == [second]
    # the client's delete_order_from_batch sends GET (a bug of fs-pochta-api 1.2): the
    # specification's DELETE /1.0/shipment, through the client's own transport
    assert client.request("DELETE", "/1.0/shipment", data=[first]).json()["result-ids"] == [first]
    assert client.batches.find_batch(name)["shipment-count"] == 0
    assert client.archive.batch_to_archive([name]) == [{"batch-name": name, "error-code": "READONLY_STATE"}]


def test_published_client_normalises_and_finds_offices(server: EmulatorServer) -> None:
    from pochta.helpers import Name, Phone

    client = delivery(server.url)
    [fio] = client.nogroup.fio_normalization([Name("иванов иван иванович")])
    assert (fio["surname"], fio["name"], fio["quality-code"]) == ("Иванов", "Иван", "EDITED")
    [phone] = client.nogroup.phone_normalization([Phone("+7 926 012-09-35")])
    assert phone["phone-city-code"] == "926" and phone["quality-code"] == "GOOD"
    assert client.services.get_postoffice(644015)["postal-code"] == "644015"
    assert client.services.get_postoffice_by_address("Омск Лермонтова")["postoffices"] == ["644015"]
    near = client.services.get_nearby_postoffices(54.97, 73.40, top=1)
    assert [o["postal-code"] for o in near] == ["644015"]
    assert client.services.get_settlement_postoffices("Омск", "Омская обл.") == ["644010", "644015"]


def test_shipdesk_emulate_takes_the_ticket_delay_the_readme_documents(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.management import CommandError, call_command

    from shipdesk.carriers.russian_post import emulator

    served: list[tuple[str, int, Any]] = []
    monkeypatch.setattr(emulator, "serve", lambda host, port, config=None: served.append(
        (host, port, config)))
    call_command("emulate", "russian_post", "--port", "18150", "--ticket-delay", "7",
                 "--step-seconds", "20")
    [(host, port, config)] = served
    assert (host, port, config.ticket_delay_seconds, config.step_seconds) == (
        "127.0.0.1", 18150, 7.0, 20.0)
    with pytest.raises(CommandError, match="russian_post only"):
        call_command("emulate", "cdek", "--ticket-delay", "7")
