"""Shop platforms: recorded webhook calls of each platform become shipments with the
organization's automation rule applied, once; wrong keys and signatures are refused and
logged; bad payloads are answered pointing at the platform's field; tracking numbers go
back to the shop."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shipdesk.carriers.models import CarrierAccount
from shipdesk.integrations.models import ShopEvent, ShopOrder
from shipdesk.integrations.shops import generic, intake
from shipdesk.integrations.tests import shop_payloads as p
from shipdesk.integrations.tests.shop_emulator import ShopApi, shop_api
from shipdesk.shipments.delivery_rules import delivery_rule_create
from shipdesk.shipments.models import SenderProfile, Shipment
from shipdesk.tenancy.services import Actor

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def api_stub() -> Iterator[ShopApi]:
    with shop_api() as api:
        yield api


@pytest.fixture
def setup(actor: Actor, api_stub: ShopApi) -> dict[str, Any]:
    """A CDEK account, two senders and the rule every shop's orders fall under."""
    org = actor.organization
    cdek = CarrierAccount.objects.create(organization=org, carrier_code="cdek", name="СДЭК",
                                         base_url="http://127.0.0.1:9", credentials={})
    SenderProfile.objects.create(organization=org, name="Главный", index="101000",
                                 city="Москва", is_default=True)
    warehouse = SenderProfile.objects.create(organization=org, name="Склад магазинов",
                                             index="644010", city="Омск")
    delivery_rule_create(
        actor=actor, name="Заказы магазинов", carrier_account_id=cdek.pk, service_code="136",
        sources="insales, bitrix, shopscript, amocrm, shop_webhook", default_weight_g=700,
        default_length_cm=30, default_width_cm=20, default_height_cm=10,
        options=["fragile"], insure=True, sender_id=warehouse.pk, notify_channels=["email"])
    api_stub.answer("GET", "/api/v4/leads/2740213", p.AMO_LEAD)
    api_stub.answer("GET", "/api/v4/contacts/901", p.AMO_CONTACT)
    api_stub.answer("POST", "/rest/sale.order.get.json", p.BITRIX_ORDER)
    connections = {
        "insales": {"trigger_status": "accepted", "api_url": api_stub.url,
                    "api_login": "shipdesk", "api_password": "pw", "order_prefix": "IS-"},
        "amocrm": {"account_id": "29085912", "trigger_status": "142", "api_url": api_stub.url,
                   "api_token": "tok", "tracking_field_id": "777"},
        "bitrix": {"application_token": p.BITRIX_TOKEN, "api_url": api_stub.url + "/rest",
                   "trigger_status": "P", "order_prefix": "BX-"},
        "shopscript": {"trigger_status": "paid", "api_url": api_stub.url, "api_token": "t",
                       "order_prefix": "SS-"},
        "shop_webhook": {},
    }
    made = {platform: intake.shop_connection_create(actor=actor, platform=platform,
                                                    name=platform, **values)
            for platform, values in connections.items()}
    return {"connections": made, "cdek": cdek, "warehouse": warehouse}


def secret(connection: Any) -> str:
    return str(intake.connection_secrets(connection)["secret"])


def call(connection: Any, *, body: bytes | None = None, key: str | None = None,
         headers: dict[str, str] | None = None, when: int | None = None) -> Any:
    """The platform's webhook call as the platform makes it (recorded body)."""
    platform = connection.platform
    url = f"/integrations/shops/hook/{connection.token}/"
    extra: dict[str, str] = dict(headers or {})
    if platform in ("insales", "amocrm", "shopscript"):
        url += f"?key={secret(connection) if key is None else key}"
    if platform == "insales":
        data, kind = body or json.dumps(p.INSALES_ORDER).encode(), "application/json"
    elif platform == "amocrm":
        data, kind = body or p.AMO_WEBHOOK.encode(), FORM
    elif platform == "bitrix":
        data, kind = body or p.BITRIX_WEBHOOK.encode(), FORM
    elif platform == "shopscript":
        data, kind = body or json.dumps(p.SHOPSCRIPT_WEBHOOK).encode(), "application/json"
    else:
        data, kind = body or json.dumps(p.GENERIC_WEBHOOK).encode(), "application/json"
        stamp = str(int(time.time()) if when is None else when)
        extra.setdefault("X-Shipdesk-Timestamp", stamp)
        extra.setdefault("X-Shipdesk-Signature", generic.sign(secret(connection), stamp, data))
    return Client().post(url, data=data, content_type=kind, headers=extra)


EXPECTED = {  # platform -> (order number, recipient surname, declared value)
    "insales": ("IS-1051", "Петрова", Decimal("2490.00")),
    "amocrm": ("amo-2740213", "Сидоров", Decimal("3200.00")),
    "bitrix": ("BX-388", "Кузнецова", Decimal("1500.00")),
    "shopscript": ("SS-100123", "Орлов", Decimal("990.00")),
    "shop_webhook": ("WEB-77", "Лебедева", Decimal("1200.00")),
}


def test_each_platforms_order_becomes_one_shipment_with_the_rules_actions(
        setup: dict[str, Any]) -> None:
    for platform, connection in setup["connections"].items():
        answer = call(connection)
        assert answer.status_code == 201, (platform, answer.content)
        number, surname, declared = EXPECTED[platform]
        shipment = Shipment.objects.get(pk=answer.json()["shipment_id"])
        assert (shipment.order_number, shipment.recipient_surname, shipment.source) == (
            number, surname, platform)
        # the rule's actions: carrier and service, package, extra service, insurance,
        # sender, notification channels
        assert (shipment.carrier_account_id, shipment.service_code) == (setup["cdek"].pk, "136")
        assert (shipment.weight_g, shipment.length_cm, shipment.width_cm,
                shipment.height_cm) == (700, 30, 20, 10), platform
        assert shipment.options == {"fragile": True, "notify_channels": ["email"]}
        assert shipment.declared_value == declared, platform
        assert shipment.sender_id == setup["warehouse"].pk
        assert shipment.index == "644010"
        # replayed: nothing twice
        again = call(connection)
        assert again.status_code == 200 and again.json() == {
            "status": "duplicate", "shipment_id": shipment.pk}
        assert Shipment.objects.filter(order_number=number).count() == 1
    assert ShopOrder.objects.count() == 5
    assert set(ShopEvent.objects.values_list("outcome", flat=True)) == {"created", "duplicate"}


def test_wrong_keys_and_signatures_are_refused_and_logged(setup: dict[str, Any]) -> None:
    c = setup["connections"]
    forged = p.BITRIX_WEBHOOK.replace(p.BITRIX_TOKEN, "0" * 32).encode()
    stale = int(time.time()) - generic.REPLAY_WINDOW - 5
    answers = [
        call(c["insales"], key="guess"),
        call(c["amocrm"], body=p.AMO_WEBHOOK.replace("29085912", "1").encode()),
        call(c["bitrix"], body=forged),
        call(c["shopscript"], key=""),
        call(c["shop_webhook"], headers={"X-Shipdesk-Signature": "sha256=" + "0" * 64}),
        call(c["shop_webhook"], when=stale),  # a captured call replayed later
    ]
    assert [a.status_code for a in answers] == [401] * 6
    assert answers[5].json()["title"].startswith("Метка времени")
    assert answers[0]["Content-Type"] == "application/problem+json"
    unknown = Client().post("/integrations/shops/hook/no-such-token/", data=b"{}",
                            content_type="application/json")
    assert unknown.status_code == 404
    assert Shipment.objects.count() == 0
    assert ShopEvent.objects.filter(outcome="refused").count() == 6
    assert set(ShopEvent.objects.values_list("connection__platform", flat=True)) == set(c)


def test_a_flood_of_forged_calls_is_not_all_stored(setup: dict[str, Any],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(intake, "REFUSED_KEPT_PER_HOUR", 2)
    connection = setup["connections"]["insales"]
    assert [call(connection, key="x").status_code for _n in range(4)] == [401] * 4
    assert ShopEvent.objects.filter(connection=connection, outcome="refused").count() == 2


def test_a_bad_payload_is_answered_pointing_at_the_platforms_field(
        setup: dict[str, Any]) -> None:
    c = setup["connections"]
    order = {**p.INSALES_ORDER, "shipping_address": {**p.INSALES_ORDER["shipping_address"],
                                                     "zip": "64401"}}
    answer = call(c["insales"], body=json.dumps(order).encode())
    assert answer.status_code == 422
    assert {"loc": "shipping_address.zip", "field": "index",
            "message": "Индекс «64401»: нужно ровно 6 цифр"} in answer.json()["errors"]
    not_json = call(c["shop_webhook"], body=b"{order")
    assert not_json.status_code == 422
    no_id = call(c["shop_webhook"], body=json.dumps({"order": {}}).encode())
    assert no_id.json()["errors"] == [
        {"loc": "order_id", "message": "Укажите order_id — номер заказа в магазине"}]
    assert Shipment.objects.count() == 0
    event = ShopEvent.objects.filter(connection=c["insales"]).get()
    assert (event.outcome, event.external_id) == ("invalid", "41234567")
    assert "shipping_address.zip" in event.message


def test_an_order_not_in_the_trigger_stage_is_ignored(setup: dict[str, Any],
                                                      api_stub: ShopApi) -> None:
    c = setup["connections"]
    moved = p.AMO_WEBHOOK.replace("status_id%5D=142", "status_id%5D=143")
    assert call(c["amocrm"], body=moved.encode()).json()["status"] == "ignored"
    draft = {**p.INSALES_ORDER, "fulfillment_status": "new"}
    assert call(c["insales"], body=json.dumps(draft).encode()).json()["status"] == "ignored"
    assert Shipment.objects.count() == 0 and api_stub.requests == []  # nothing fetched
    # the deal reaches the stage later: now it ships
    assert call(c["amocrm"]).status_code == 201


def test_the_tracking_number_goes_back_to_the_shop(setup: dict[str, Any],
                                                   api_stub: ShopApi) -> None:
    c = setup["connections"]
    api_stub.answer("PUT", "/admin/orders/41234567.json", {"id": 41234567})
    api_stub.answer("PATCH", "/api/v4/leads/2740213", {"id": 2740213})
    api_stub.answer("POST", "/api/v4/leads/2740213/notes", {"_embedded": {}})
    for platform in ("insales", "amocrm"):
        assert call(c[platform]).status_code == 201
    for n, shipment in enumerate(Shipment.objects.order_by("id")):  # numbered meanwhile
        Shipment.objects.filter(pk=shipment.pk).update(tracking_number=f"123456789{n}",
                                                       tracking_status="in_transit")
    api_stub.requests.clear()
    ids = list(ShopOrder.objects.values_list("pk", flat=True))
    assert intake.shop_orders_push(ids=ids) == 2
    sent = {(method, path.split("?")[0]): json.loads(body) for method, path, body in
            api_stub.requests}
    assert sent[("PUT", "/admin/orders/41234567.json")] == {"order": {
        "fulfillment_status": "dispatched", "fields_values_attributes": [
            {"handle": "tracking_number", "value": "1234567890"}]}}
    assert sent[("PATCH", "/api/v4/leads/2740213")]["custom_fields_values"][0] == {
        "field_id": 777, "values": [{"value": "1234567891"}]}
    assert "1234567891" in sent[("POST", "/api/v4/leads/2740213/notes")][0]["params"]["text"]
    api_stub.requests.clear()
    assert intake.shop_orders_push(ids=ids) == 0 and api_stub.requests == []  # unchanged


def test_the_connection_page_shows_the_address_key_and_last_events(
        setup: dict[str, Any], web: Client) -> None:
    connection = setup["connections"]["shop_webhook"]
    call(connection)
    call(connection, headers={"X-Shipdesk-Signature": "sha256=bad"})
    page = web.get(f"/integrations/shops/{connection.pk}/").content.decode()
    assert f"/integrations/shops/hook/{connection.token}/" in page
    assert secret(connection) in page
    assert "Создано отправление" in page and "Отклонено: подпись или ключ" in page
    listing = web.get("/integrations/shops/").content.decode()
    assert all(name in listing for name in ("insales", "amocrm", "bitrix"))


def test_a_connection_is_made_on_its_page(web: Client, actor: Actor) -> None:
    answer = web.post("/integrations/shops/new/?platform=bitrix",
                      {"platform": "bitrix", "name": "Битрикс", "api_url": "ftp://x"})
    assert answer.status_code == 422
    body = answer.content.decode()
    assert "Нужен адрес вида https://host/…" in body and "application_token" in body
    answer = web.post("/integrations/shops/new/?platform=bitrix", {
        "platform": "bitrix", "name": "Битрикс", "application_token": p.BITRIX_TOKEN})
    assert answer.status_code == 302
    connection = intake.shop_connection_list(actor=actor).get()
    assert intake.connection_secrets(connection)["application_token"] == p.BITRIX_TOKEN
    # edited without typing the token again: the stored one stays
    answer = web.post(f"/integrations/shops/{connection.pk}/edit/", {
        "name": "Битрикс", "is_active": "on", "trigger_status": "P", "application_token": ""})
    assert answer.status_code == 302, answer.content.decode()[-2000:]
    connection.refresh_from_db()
    assert connection.config["trigger_status"] == "P"
    assert intake.connection_secrets(connection)["application_token"] == p.BITRIX_TOKEN


def test_connections_through_the_api(api: Client, setup: dict[str, Any]) -> None:
    made = api.post("/api/v1/integrations/shops/", data=json.dumps(
        {"platform": "insales", "name": "Второй", "trigger_status": "accepted"}),
        content_type="application/json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["webhook_path"].startswith("/integrations/shops/hook/")
    assert body["webhook_path"].endswith(f"?key={body['secret']}")
    bad = api.post("/api/v1/integrations/shops/", data=json.dumps(
        {"platform": "bitrix", "name": "Б"}), content_type="application/json")
    assert [e["loc"][-1] for e in bad.json()["errors"]] == ["application_token"]
    connection = setup["connections"]["shop_webhook"]
    call(connection)
    events = api.get(f"/api/v1/integrations/shops/{connection.pk}/events").json()
    assert [(e["outcome"], e["external_id"]) for e in events] == [("created", "WEB-77")]
    assert len(api.get("/api/v1/integrations/shops/").json()) == 6
