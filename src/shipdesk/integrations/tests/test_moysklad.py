"""MoySklad end to end against its emulator (and the sandbox carrier's): an order moved to
the trigger state becomes a registered, numbered, labelled shipment whose number the order
carries; carrier statuses reach the order without overwriting a person's state; a payout
report becomes MoySklad documents with the right kopecks; replayed webhooks create nothing
twice; 429 and 5xx slow us down without losing anything; bad input is refused or written
back as a problem. Checked from MoySklad's side (the emulator's entities) and ours."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from django.test import Client

from shipdesk.carriers import services as carriers
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.sandbox.emulator import SANDBOX_CREDENTIALS, SandboxEmulator
from shipdesk.carriers.tests.helpers import pdf_text
from shipdesk.integrations.models import MoySkladConnection, MoySkladOperation, MoySkladOrder
from shipdesk.integrations.moysklad import services
from shipdesk.integrations.moysklad.client import Credentials, MoySkladClient
from shipdesk.integrations.moysklad.emulator import PREFIX, SANDBOX_TOKEN, MoySkladEmulator
from shipdesk.shipments.delivery_rules import delivery_rule_create
from shipdesk.shipments.models import Registration, SenderProfile, Shipment, State

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def moysklad() -> Iterator[Running]:
    running = start(MoySkladEmulator())
    yield running
    running.stop()


@pytest.fixture
def shop(actor: Any, api: Client, moysklad: Running, settings: Any) -> Iterator[dict[str, Any]]:
    """A shop with the sandbox carrier chosen by its delivery rule, MoySklad connected
    through the API and the rule "«Собран» ships" set from the account's own states."""
    settings.PUBLIC_URL = "http://127.0.0.1:9"  # nobody listens: notifications go nowhere
    sandbox = start(SandboxEmulator())
    SenderProfile.objects.create(
        organization=actor.organization, name="Склад", company="ООО Ромашка",
        phone="+74951234567", index="101000", region="Москва", city="Москва",
        street="ул. Мясницкая", house="1", is_default=True)
    account = carriers.carrier_account_create(
        actor=actor, carrier_code="sandbox", name="Песочница", base_url=sandbox.url,
        credentials=dict(SANDBOX_CREDENTIALS), settings={"backoff_base": 0.01})
    delivery_rule_create(actor=actor, name="Все — песочница", carrier_account_id=account.pk,
                         service_code="standard")
    answer = api.post("/api/v1/integrations/moysklad/", data=json.dumps(
        {"base_url": moysklad.url + PREFIX, "token": SANDBOX_TOKEN}),
        content_type="application/json")
    assert answer.status_code == 200, answer.content
    states = {s["name"]: s["id"] for s in answer.json()["states"]}
    rule = api.put("/api/v1/integrations/moysklad/rule", data=json.dumps({
        "trigger_state_id": states["Собран"], "problem_state_id": states["Проблема доставки"],
        "completed_state_id": states["Выполнен"], "returned_state_id": states["Возврат"],
        "state_map": {"numbered": states["Передан в доставку"], "in_transit": states["В пути"],
                      "delivered": states["Доставлен"]},
        "tracking_attribute_id": answer.json()["tracking_attribute_id"],
        "delivery_attribute_id": answer.json()["delivery_attribute_id"],
        "delivery_map": {"Курьер СДЭК": "cdek:137"}}), content_type="application/json")
    assert rule.status_code == 200, rule.content
    yield {"emulator": moysklad.app, "url": moysklad.url, "states": states,
           "connection": MoySkladConnection.objects.get(organization=actor.organization)}
    sandbox.stop()


def _run(shop: dict[str, Any]) -> services.RunOutcome:
    return services.connection_run(connection_id=shop["connection"].pk)


def _move(shop: dict[str, Any], ids: list[str], state: str = "Собран") -> None:
    """A person moves the orders in MoySklad; its notification reaches us (the emulator
    delivers it to the address we subscribed) — here handed to the service directly."""
    emulator = shop["emulator"]
    emulator.move(ids, state)
    connection = shop["connection"]
    services.orders_mark_due(connection, ids)


def test_trigger_state_makes_registered_labelled_shipment_and_order_carries_number(
        shop: dict[str, Any], api: Client, web: Client) -> None:
    emulator = shop["emulator"]
    good, no_address = emulator.seed_orders(2, without_address=0)[0], emulator.seed_orders(
        1, without_address=1)[0]
    unknown = emulator.seed_orders(1, delivery="Телепорт")[0]
    heavy = emulator.seed_orders(1)[0]  # 100 × 0.35 kg: more than the carrier takes
    emulator.entities["customerorder"][heavy]["_positions"][0]["quantity"] = 100
    _move(shop, [good, no_address, unknown, heavy])
    outcome = _run(shop)
    assert outcome.shipments + outcome.problems == 4
    refused = MoySkladOrder.objects.get(order_id=heavy)
    assert refused.problem_kind in ("carrier", "invalid") and "вес" in refused.problem.lower()
    assert emulator.order_state_name(heavy) == "Проблема доставки"
    assert refused.problem in emulator.entities["customerorder"][heavy]["description"]

    row = MoySkladOrder.objects.get(order_id=good)
    shipment = Shipment.objects.get(pk=row.shipment_id)
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    assert shipment.state == State.NUMBERED and shipment.carrier_code == "sandbox"
    assert shipment.cod_amount == 2501 and shipment.order_number == row.name
    # MoySklad's order carries the number, and our state for "numbered"
    assert emulator.order_attribute(good, "Трек-номер") == shipment.tracking_number
    assert emulator.order_state_name(good) == "Передан в доставку"
    # the problems are written back: a state and a note, and shown in Shipdesk
    assert emulator.order_state_name(no_address) == "Проблема доставки"
    assert "нет адреса" in emulator.entities["customerorder"][no_address]["description"]
    assert "Позвонить за час" in emulator.entities["customerorder"][no_address]["description"]
    assert "Телепорт" in emulator.entities["customerorder"][unknown]["description"]
    page = web.get("/integrations/moysklad/?problems=1").content.decode()
    assert "В заказе нет адреса доставки" in page and "Телепорт" in page
    # labels of the chosen orders in one PDF, with the number on it
    pdf = api.post("/api/v1/integrations/moysklad/labels", data=json.dumps(
        {"order_ids": [row.pk]}), content_type="application/json")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert shipment.tracking_number in pdf_text(pdf.content).replace(" ", "")

    # carrier statuses reach the order ...
    from shipdesk.shipments.services import TrackingUpdate, shipments_apply_tracking

    shipments_apply_tracking(updates=[TrackingUpdate(shipment.pk, "in_transit", "",
                                                     datetime.now(UTC))])
    assert _run(shop).pushed == 1
    assert emulator.order_state_name(good) == "В пути"
    # ... but a state a person set afterwards is theirs: not overwritten
    _move(shop, [good], "Подтвержден")
    shipments_apply_tracking(updates=[TrackingUpdate(shipment.pk, "delivered", "",
                                                     datetime.now(UTC))])
    _run(shop)
    assert emulator.order_state_name(good) == "Подтвержден"
    assert MoySkladOrder.objects.get(order_id=good).pushed_status == "delivered"
    # moving it again to the trigger state makes no second shipment
    _move(shop, [good], "Собран")
    _run(shop)
    assert Shipment.objects.filter(order_number=row.name).count() == 1


def test_webhooks_are_deduplicated_and_refused_for_strangers(shop: dict[str, Any],
                                                             live_server: Any,
                                                             settings: Any) -> None:
    settings.PUBLIC_URL = live_server.url
    emulator = shop["emulator"]
    connection = shop["connection"]
    # subscribed at connect: re-subscribe to the live address of this test's server
    client = services.client_for(connection)
    for hook in client.webhooks():
        client.webhook_delete(hook["id"])
    client.webhook_subscribe(url=services.webhook_url(connection))
    client.close()
    order = emulator.seed_orders(1)[0]
    emulator.move([order], "Собран")  # MoySklad notifies us
    deadline = time.monotonic() + 20
    while not emulator.deliveries or emulator.pending_deliveries():
        assert time.monotonic() < deadline, "the webhook never reached us"
        time.sleep(0.05)
    delivery = emulator.deliveries[0]
    assert delivery["answers"][0] == 200
    row = MoySkladOrder.objects.get(order_id=order)
    assert row.shipment_id is not None
    assert emulator.order_attribute(order, "Трек-номер")
    # our own write did not come back as a notification
    assert emulator.suppressed >= 1 and len(emulator.deliveries) == 1
    # MoySklad repeating the same notification (same requestId): nothing twice
    body = {"events": [{"meta": {"type": "customerorder",
                                 "href": f"{shop['url']}{PREFIX}/entity/customerorder/{order}"},
                        "action": "UPDATE", "accountId": connection.account_id}]}
    url = services.webhook_url(connection)
    again = httpx.post(f"{url}?requestId={delivery['request_id']}", json=body)
    assert again.status_code == 200 and again.json() == {"accepted": 0, "duplicate": True}
    fresh = httpx.post(f"{url}?requestId=another-one", json=body)
    assert fresh.json()["accepted"] == 1
    assert Shipment.objects.filter(order_number=row.name).count() == 1
    # an unknown address and another account's events are refused
    assert httpx.post(f"{live_server.url}/api/v1/integrations/moysklad/webhook/nope?requestId=1",
                      json=body).status_code == 404
    body["events"][0]["accountId"] = "someone-else"
    assert httpx.post(f"{url}?requestId=x2", json=body).status_code == 403


def test_payout_report_posts_documents_in_kopecks_once(shop: dict[str, Any], actor: Any) -> None:
    from shipdesk.finance import services as finance
    from shipdesk.finance.models import FeesMode, FinanceTerms, Receivable
    from shipdesk.finance.tests.conftest import at, feed

    emulator = shop["emulator"]
    paid, refused = emulator.seed_orders(2)
    _move(shop, [paid, refused])
    _run(shop)
    rows = {r.order_id: r for r in MoySkladOrder.objects.all()}
    s_paid = Shipment.objects.get(pk=rows[paid].shipment_id)
    s_refused = Shipment.objects.get(pk=rows[refused].shipment_id)
    FinanceTerms.objects.create(organization=actor.organization,
                                carrier_account=s_paid.carrier_account,
                                fees_mode=FeesMode.DEDUCTED, return_fee=120)
    feed(s_paid, "delivered", at("2026-12-01"))
    feed(s_refused, "returned", at("2026-12-02"))
    report = (f"# SHIPDESK SANDBOX PAYOUT REPORT\ntracking_number;order_reference;cod_amount;fee;"
              f"paid_amount;paid_on\n{s_paid.tracking_number};{s_paid.order_number};2501.00;"
              f"50.02;2450.98;2026-12-04\n").encode()
    finance.report_import(actor=actor, filename="payouts.csv", content=report)
    outcome = _run(shop)
    assert outcome.operations >= 5
    docs = emulator.entities
    payment = next(iter(docs["paymentin"].values()))
    assert payment["sum"] == 250100  # 2,501.00 ₽ in kopecks: the buyer paid the whole order
    linked = {op["meta"]["type"]: op["linkedSum"] for op in payment["operations"]}
    assert linked == {"customerorder": 250100, "demand": 250100}
    # the carrier's services as finance holds them for this order, in kopecks
    held = Receivable.objects.get(shipment=s_paid)
    fees = held.fee_commission + held.fee_delivery + held.fee_insurance + held.fee_return
    assert fees > 0
    assert next(iter(docs["supply"].values()))["sum"] == int(fees * 100)
    assert next(iter(docs["paymentout"].values()))["sum"] == int(fees * 100)
    assert emulator.order_state_name(paid) == "Выполнен"
    back = next(iter(docs["salesreturn"].values()))
    assert back["demand"]["meta"]["href"].endswith(rows[refused].__class__.objects.get(
        order_id=refused).demand_id)
    assert emulator.order_state_name(refused) == "Возврат"
    counts = {kind: len(docs.get(kind, {})) for kind in (
        "demand", "paymentin", "supply", "paymentout", "salesreturn")}
    assert counts == {"demand": 2, "paymentin": 1, "supply": 1, "paymentout": 1,
                      "salesreturn": 1}
    # again, and with our record of the documents lost: MoySklad's syncId answers the same
    _run(shop)
    MoySkladOperation.objects.update(entity_id="")
    MoySkladOrder.objects.update(demand_id="")
    _run(shop)
    assert {kind: len(docs.get(kind, {})) for kind in counts} == counts


def test_429_and_5xx_slow_us_down_without_losing_anything(moysklad: Running) -> None:
    emulator = moysklad.app
    # a tighter account than usual (6 per second), to meet the limit quickly
    emulator.rate_requests, emulator.rate_window = 6, 1.0
    client = MoySkladClient(base_url=moysklad.url + PREFIX, key="t429",
                            credentials=Credentials(token=SANDBOX_TOKEN),
                            options={"backoff_base": 0.01})
    try:
        answers = [client.order_metadata() for _n in range(12)]
        assert len(answers) == 12 and all(a["states"] for a in answers)
        assert emulator.refused >= 1  # it did refuse some ...
        httpx.post(f"{moysklad.url}/__emulator__/limits", json={"server_errors": 2})
        assert client.order_metadata()["states"]  # ... and a 503 twice is retried
    finally:
        client.close()
    # without gzip MoySklad answers 415; a wrong token 401 in MoySklad's error shape
    plain = httpx.get(f"{moysklad.url}{PREFIX}/entity/customerorder",
                      headers={"Authorization": f"Bearer {SANDBOX_TOKEN}",
                               "Accept-Encoding": "identity"})
    assert plain.status_code == 415
    wrong = httpx.get(f"{moysklad.url}{PREFIX}/entity/customerorder",
                      headers={"Authorization": "Bearer nope", "Accept-Encoding": "gzip"})
    assert wrong.status_code == 401 and wrong.json()["errors"][0]["code"] == 1056


def test_revoked_token_pauses_and_an_edited_order_asks_the_operator(
        shop: dict[str, Any], web: Client, actor: Any) -> None:
    emulator = shop["emulator"]
    order = emulator.seed_orders(1)[0]
    _move(shop, [order])
    _run(shop)
    # edited in MoySklad while its shipment is on its way: noticed, the operator asked
    emulator.move([order], "Собран", changes={"shipmentAddressFull": {
        "postalCode": "101000", "city": "Москва", "street": "Тверская", "house": "1"}})
    services.orders_mark_due(shop["connection"], [order])
    assert _run(shop).edited == 1
    row = MoySkladOrder.objects.get(order_id=order)
    assert row.edited_in_flight
    page = web.get("/integrations/moysklad/").content.decode()
    assert "изменён в МоёмСкладе после создания отправления" in page
    accepted = web.post(f"/integrations/moysklad/orders/{row.pk}/accept/")
    assert accepted.status_code == 302
    assert not MoySkladOrder.objects.get(pk=row.pk).edited_in_flight
    # the token revoked in MoySklad: the connection pauses and says why
    httpx.post(f"{shop['url']}/__emulator__/revoke")
    other = emulator.seed_orders(1)[0]
    _move(shop, [other])
    assert _run(shop).paused
    connection = MoySkladConnection.objects.get(pk=shop["connection"].pk)
    assert connection.paused_at is not None and connection.due_at is None
    assert "токен" in web.get("/integrations/moysklad/").content.decode()
    assert MoySkladOrder.objects.get(order_id=other).fetch_due  # kept for later, not lost
    # a new token saved: the exchange resumes and takes what came meanwhile
    emulator.tokens.add("new-token")
    services.connection_connect(actor=actor, token="new-token")
    connection.refresh_from_db()
    assert connection.paused_at is None and connection.due_at is not None
    assert _run(shop).shipments == 1
    assert emulator.order_attribute(other, "Трек-номер")
