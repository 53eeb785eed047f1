"""One parcel's whole journey through each carrier path, the way a shop lives it: created
through the API with no carrier named (an organization's delivery rule chooses it), registered
at the carrier's emulator (checked from the emulator's side: it holds the order with the whole
street address), its label downloaded and the barcode decoded equal to the carrier's number,
put into a batch and handed over, then moved by the carrier's paced scenario and followed by
tracking to its final status, while the recipient's SMS (the sms.ru emulator) and e-mail (a
real SMTP server) go out. Removing any link (registration, the number, the batch, the hand-over,
polling, the status feed, the messages) makes one of these fail.

The journeys run on a clock the test holds (``clock``): the whole process (the product, the
emulators' threads, the live server) is set to a chosen moment of the week in Moscow and the
parcel moves one scripted step each time the test moves the clock one ``STEP`` on. So tracking
sees every step however slow the machine is (with the scenario paced in real seconds, a loaded
machine's hand-over took longer than the steps to "delivered": the first poll saw the parcel
delivered and, rightly, no "accepted" message went out), and the journeys are shown to hold
late at night, on a Sunday, after the drop-off cut-off and across midnight.
"""

from __future__ import annotations

import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from shipdesk.carriers import services as carriers
from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.emulator import SANDBOX_CREDENTIALS as CDEK_CREDENTIALS
from shipdesk.carriers.cdek.emulator import CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.pickpoint.adapter import Adapter as PickpointAdapter
from shipdesk.carriers.pickpoint.emulator import SANDBOX_CREDENTIALS as PICKPOINT_CREDENTIALS
from shipdesk.carriers.pickpoint.emulator import PickpointEmulator
from shipdesk.carriers.russian_post.emulator import SANDBOX_CREDENTIALS as RP_CREDENTIALS
from shipdesk.carriers.russian_post.tests.conftest import start_emulator
from shipdesk.carriers.sandbox.emulator import SANDBOX_CREDENTIALS as SANDBOX_CREDENTIALS
from shipdesk.carriers.sandbox.emulator import SandboxEmulator
from shipdesk.carriers.tests.helpers import pdf_barcodes, pdf_text
from shipdesk.core import duework
from shipdesk.notifications import services as notifications
from shipdesk.notifications.models import ChannelConfig, NotificationSettings, Rule
from shipdesk.notifications.tests.conftest import (  # noqa: F401 (fixtures)
    inbox,
    sms_channel,
    smsru,
    smtp_server,
)
from shipdesk.shipments.delivery_rules import delivery_rule_create
from shipdesk.shipments.models import Registration, SenderProfile, Shipment, State
from shipdesk.tracking.polling import tracking_poll_soon
from shipdesk.tracking.statuses import Status

pytestmark = pytest.mark.django_db(transaction=True)
# seconds of the clock between a paced parcel's scripted steps: the test moves the clock by
# this much at a time; the test's own work (seconds) never gets a parcel a step further
STEP = 3600.0
MOVES = 40  # the most clock steps one journey waits for its parcel's final status
MSK = zoneinfo.ZoneInfo("Europe/Moscow")
# moments of the week (Monday = 0, Moscow time) the journeys start at: the awkward ones
SUNDAY_LATE = (6, dt.time(23, 30))  # no drop-off on Sundays; Monday already in Omsk
MONDAY_AFTER_MIDNIGHT = (0, dt.time(0, 30))  # still Sunday in UTC
FRIDAY_AFTER_CUTOFF = (4, dt.time(17, 30))  # registered after 17:00: handed over on Saturday
SATURDAY_AFTER_CUTOFF = (5, dt.time(17, 30))  # handed over on Monday (no Sundays)
WEEKDAY_NOON = (2, dt.time(12, 0))


def moment(weekday: int, at: dt.time) -> dt.datetime:
    """That weekday and time in Moscow, 7 to 13 days before today: in the past, so that nothing
    a journey leaves behind (cached tokens, rate-limit stamps) lies ahead of the tests after it,
    and recent, so that a browser still takes the session cookie."""
    today = dt.datetime.now(MSK).date()
    day = today - dt.timedelta(days=7 + (today.weekday() - weekday) % 7)
    return dt.datetime.combine(day, at, MSK)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Iterator[time_machine.Coordinates]:
    """The process's clock from the test's moment of the week (``WEEKDAY_NOON`` unless the
    test asks for another by indirect parametrization); it runs on as usual, and the test
    moves it ``STEP`` on to let a parcel take its next step."""
    with time_machine.travel(moment(*getattr(request, "param", WEEKDAY_NOON)), tick=True) as c:
        yield c


@dataclass
class Path:
    carrier: str
    scenario: str  # the emulator's scripted journey
    final: Status
    shipment: dict[str, Any]  # what the shop sends beside the usual fields
    label: str = "labels_thermal"


PATHS = {
    "russian_post_cod": Path("russian_post", "delivered", Status.DELIVERED, {
        "cod_amount": "2500", "declared_value": "2500", "comment": "scenario=delivered"}),
    "russian_post_refused": Path("russian_post", "not_picked_up", Status.RETURNED, {
        "cod_amount": "2500", "declared_value": "2500", "comment": "scenario=not_picked_up"}),
    "russian_post_abroad": Path("russian_post", "delivered", Status.DELIVERED, {
        "service_code": "PARCEL_INTERNATIONAL", "country": "DE", "index": "10115", "region": "",
        "city": "Berlin", "street": "Invalidenstraße", "house": "117", "apartment": "",
        "recipient_phone": "+4930123456", "cod_amount": "0", "declared_value": "3000",
        "comment": "scenario=delivered", "items": [{
            "name": "Matryoshka", "quantity": 2, "unit_price": "1500", "weight_g": 400,
            "hs_code": "442190", "origin_country": "RU"}]}),
    "cdek_pickup": Path("cdek", "delivered", Status.DELIVERED, {
        "service_code": "136", "pickup_point_code": "OMS3", "comment": "scenario:delivered"}),
    "pickpoint": Path("pickpoint", "delivered", Status.DELIVERED, {
        "service_code": "STD", "pickup_point_code": "5501-003",
        "comment": "scenario:delivered"}),
    "sandbox": Path("sandbox", "delivered", Status.DELIVERED, {
        "service_code": "standard", "options": {"scenario": "delivered"}}),
}


@pytest.fixture
def emulators(clock: time_machine.Coordinates) -> Iterator[dict[str, Any]]:
    CdekAdapter.tokens._local.clear()
    PickpointAdapter._sessions.clear()
    apps: dict[str, Running] = {
        "cdek": start(CdekEmulator(step_seconds=STEP)),
        "pickpoint": start(PickpointEmulator(step_seconds=STEP)),
        "sandbox": start(SandboxEmulator(step_seconds=STEP)),
    }
    rp = start_emulator(step_seconds=STEP)
    yield {**apps, "russian_post": rp}
    for running in apps.values():
        running.stop()
    rp.shutdown()
    rp.server_close()


def _accounts(actor: Any, emulators: dict[str, Any]) -> dict[str, Any]:
    urls = {"russian_post": emulators["russian_post"].url,
            "cdek": f"{emulators['cdek'].url}/v2",
            "pickpoint": f"{emulators['pickpoint'].url}/api",
            "sandbox": emulators["sandbox"].url}
    credentials = {"russian_post": RP_CREDENTIALS, "cdek": CDEK_CREDENTIALS,
                   "pickpoint": PICKPOINT_CREDENTIALS, "sandbox": SANDBOX_CREDENTIALS}
    return {code: carriers.carrier_account_create(
        actor=actor, carrier_code=code, name=f"{code} (эмулятор)", base_url=url,
        credentials=dict(credentials[code]),
        settings={"backoff_base": 0.01, "ticket_first_fetch_after": 0,
                  "ticket_fetch_interval": 0}) for code, url in urls.items()}


@pytest.fixture
def shop(actor: Any, emulators: dict[str, Any], smsru: Any, inbox: Any,  # noqa: F811
         smtp_server: Any) -> dict[str, Any]:  # noqa: F811
    SenderProfile.objects.create(
        organization=actor.organization, name="Склад", company="ООО Ромашка",
        phone="+74951234567", index="101000", region="Москва", city="Москва",
        street="ул. Мясницкая", house="1", is_default=True)
    notifications.settings_ensure(organization=actor.organization)
    NotificationSettings.objects.filter(organization=actor.organization).update(
        window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59))
    sms_channel(actor.organization, "smsru", smsru)
    ChannelConfig.objects.create(organization=actor.organization, gateway="smtp", config={
        "host": "127.0.0.1", "port": smtp_server[1], "from_email": "shop@romashka.test"})
    Rule.objects.filter(organization=actor.organization).update(channels=["sms", "email"],
                                                              fallback=False)
    return {"accounts": _accounts(actor, emulators), "emulators": emulators, "sms": smsru,
            "inbox": inbox}


def _choose_by_rule(actor: Any, account: Any, service: str) -> None:
    """The shop's one rule: every parcel goes to this account (the carrier is chosen by it)."""
    delivery_rule_create(actor=actor, name="Все отправления", carrier_account_id=account.pk,
                         service_code=service)


def _shipment_data(order: str, extra: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "order_number": order, "recipient_name": "Иванова Анна Сергеевна",
        "recipient_phone": "+79161234567", "recipient_email": "anna@example.test",
        "index": "644010", "region": "Омская обл.", "city": "Омск",
        "address": "ул. Ленина, д. 5, кв. 12", "weight_g": 1200, "declared_value": "0",
        "cod_amount": "0"}
    data.update(extra)
    if data.get("street"):
        data.pop("address")
    return data


def _held_address(carrier: str, emulators: dict[str, Any], shipment: Shipment) -> str:
    """What the carrier's emulator holds for the parcel's destination, as one line."""
    if carrier == "russian_post":
        order = emulators["russian_post"].state.orders[int(shipment.carrier_order_id)]
        return " ".join(str(order.get(k, "")) for k in (
            "index-to", "str-index-to", "place-to", "street-to", "house-to", "room-to"))
    app = emulators[carrier].app
    if carrier == "cdek":
        order = app.orders[shipment.carrier_order_id]
        return f"{order.body.get('delivery_point')} {order.body['recipient']['name']}"
    if carrier == "pickpoint":
        body = app.sendings[shipment.tracking_number].body
        return f"{body.get('PostamatNumber')} {body.get('RecipientName')}"
    return str(app.by_number[shipment.tracking_number].recipient["address"])


def _label_number(carrier: str, emulators: dict[str, Any], shipment: Shipment) -> str:
    """The number the carrier's label carries as its barcode: the tracking number, but for
    PickPoint, whose label carries its 12-digit barcode (the invoice number is tracked)."""
    if carrier == "pickpoint":
        return str(emulators["pickpoint"].app.sendings[shipment.tracking_number].barcode)
    return str(shipment.tracking_number)


def _follow(clock: time_machine.Coordinates, shipment: Shipment, final: Status) -> Shipment:
    """Polls the carrier as the due-work sweep does until the parcel reaches ``final``,
    moving the clock one step on between polls: every scripted step is seen."""
    for _move in range(MOVES):
        tracking_poll_soon(shipment_ids=[shipment.pk], at=timezone.now())
        duework.sweep()  # polls, ticket fetches: dispatched and run (eager tasks)
        _notify()  # the notifications job and a sending worker, as beat runs them
        shipment.refresh_from_db()
        if shipment.tracking_status == final:
            return shipment
        clock.shift(STEP)
    return shipment


def _notify() -> None:
    now = timezone.now()
    notifications.outbox_plan_from_feed(now=now)
    notifications.outbox_send_due(now=now)


def _messages(shop: dict[str, Any]) -> tuple[list[str], list[str]]:
    _notify()
    sms = [m["text"] for m in shop["sms"].messages]
    mails = [str(m["Subject"]) for m in shop["inbox"].messages]
    return sms, mails


def _journey(api: Client, actor: Any, shop: dict[str, Any], clock: time_machine.Coordinates,
             name: str) -> Shipment:
    path = PATHS[name]
    account = shop["accounts"][path.carrier]
    _choose_by_rule(actor, account, path.shipment.get("service_code", ""))
    order = f"J-{name}"
    data = _shipment_data(order, {k: v for k, v in path.shipment.items() if k != "service_code"})
    created = api.post("/api/v1/shipments/", data=json.dumps(data), content_type="application/json")
    assert created.status_code == 201, created.content

    # registered at the carrier, which holds the whole address, with the carrier's number
    shipment = Shipment.objects.get(order_number=order)
    assert shipment.carrier_account_id == account.pk  # chosen by the rule
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    assert shipment.state == State.NUMBERED and shipment.tracking_number
    held = _held_address(path.carrier, shop["emulators"], shipment)
    if path.carrier == "russian_post":
        street = "Invalidenstraße 117" if shipment.country == "DE" else "ул. Ленина 5 12"
        assert street in held, held
    elif path.carrier == "sandbox":
        assert "Ленина" in held and "5" in held and "12" in held, held
    else:
        assert path.shipment["pickup_point_code"] in held and "Иванова" in held, held

    # the batch, its label (the barcode is the carrier's number), the hand-over
    batches = api.post("/api/v1/documents/batches/auto-group", data="{}",
                       content_type="application/json").json()
    assert len(batches) == 1, batches
    batch_id = batches[0]["id"]
    doc = api.post(f"/api/v1/documents/batches/{batch_id}/documents",
                   data=json.dumps({"kind": path.label}), content_type="application/json")
    assert doc.status_code in (200, 202), doc.content
    pdf = b"".join(api.get(f"/api/v1/documents/documents/{doc.json()['id']}/download")
                   .streaming_content)  # type: ignore[attr-defined]
    assert _label_number(path.carrier, shop["emulators"], shipment) in pdf_barcodes(pdf)
    if shipment.country == "DE":
        assert "GERMANY" in pdf_text(pdf)
    closed = api.post(f"/api/v1/documents/batches/{batch_id}/close", data="{}",
                      content_type="application/json")
    assert closed.status_code == 200, closed.content
    shipment.refresh_from_db()
    assert shipment.state == State.HANDED_OVER

    # the carrier moves it; tracking follows it to its final status
    shipment = _follow(clock, shipment, path.final)
    assert shipment.tracking_status == path.final, shipment.tracking_status
    assert shipment.state == (State.DELIVERED if path.final == Status.DELIVERED
                              else State.RETURNED)
    return shipment


@pytest.mark.parametrize(("name", "clock"), [
    ("russian_post_cod", FRIDAY_AFTER_CUTOFF), ("cdek_pickup", MONDAY_AFTER_MIDNIGHT),
    ("pickpoint", SUNDAY_LATE), ("sandbox", WEEKDAY_NOON)], indirect=["clock"])
def test_a_parcel_travels_to_the_recipient(clock: time_machine.Coordinates, api: Client,
                                           actor: Any, shop: dict[str, Any], name: str) -> None:
    shipment = _journey(api, actor, shop, clock, name)
    sms, mails = _messages(shop)
    mine = [t for t in sms if shipment.order_number in t or shipment.tracking_number in t]
    assert any("отправлен" in t for t in mine), sms  # "accepted", once
    assert len([t for t in mine if "отправлен" in t]) == 1
    assert any("получен" in t.lower() or "вручен" in t.lower() for t in sms), sms
    assert mails, "no e-mail reached the SMTP server"
    arrived = [t for t in mine if "ждёт" in t]
    if name != "sandbox":  # the sandbox's parcels go to the door
        assert arrived, sms
        assert all("Ленина" not in t for t in arrived)  # never the buyer's own address
    if name == "russian_post_cod":  # the office, loaded from the post-office service
        assert "644010, Омск, ул. Маршала Жукова" in arrived[0], arrived
    public = Client().get(f"/tracking/t/{shipment.tracking_state.public_token}/")
    assert "Вручено" in public.content.decode()


@pytest.mark.parametrize("clock", [SATURDAY_AFTER_CUTOFF], indirect=True)
def test_a_refused_parcel_comes_back(clock: time_machine.Coordinates, api: Client, actor: Any,
                                     shop: dict[str, Any]) -> None:
    shipment = _journey(api, actor, shop, clock, "russian_post_refused")
    assert shipment.state == State.RETURNED
    public = Client().get(f"/tracking/t/{shipment.tracking_state.public_token}/")
    assert "Возвращено" in public.content.decode()


@pytest.mark.parametrize("clock", [SUNDAY_LATE], indirect=True)
def test_an_international_parcel_gets_an_s10_number_and_its_customs_data(
        clock: time_machine.Coordinates, api: Client, actor: Any, shop: dict[str, Any]) -> None:
    shipment = _journey(api, actor, shop, clock, "russian_post_abroad")
    assert shipment.tracking_number is not None
    assert shipment.tracking_number.endswith("RU") and shipment.tracking_number[:2].isalpha()
    order = shop["emulators"]["russian_post"].state.orders[int(shipment.carrier_order_id)]
    assert order["mail-direct"] == 276 and order["str-index-to"] == "10115"
    entries = order["customs-declaration"]["customs-entries"]
    assert entries == [{"amount": 2, "country-code": 643, "description": "Matryoshka",
                        "tnved-code": "442190", "value": 150000, "weight": 400}]


# --- the same journey in Chromium, as an operator clicks it ----------------------------------

PASSWORD = "Put-Posylki-2026"


@pytest.mark.browser
def test_an_operator_walks_a_parcel_through_the_pages(
        clock: time_machine.Coordinates, live_server: Any, chromium: Any, org: Any, owner: Any,
        actor: Any, shop: dict[str, Any]) -> None:
    owner.set_password(PASSWORD)
    owner.save()
    _choose_by_rule(actor, shop["accounts"]["sandbox"], "standard")
    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", owner.email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".mainnav")

    # a new shipment, its carrier left to the organization's rule
    page.goto(live_server.url + "/shipments/new/")
    for field, value in {"order_number": "W-1", "recipient_surname": "Иванова",
                         "recipient_given_name": "Анна", "recipient_phone": "+79161234567",
                         "recipient_email": "anna@example.test", "index": "644010",
                         "region": "Омская обл.", "city": "Омск",
                         "street": "ул. Ленина, д. 5, кв. 12", "weight_g": "1200"}.items():
        page.fill(f"#id_{field}", value)
    page.click("button.primary[type=submit]")
    page.wait_for_selector("[data-testid=registration]")
    card = page.inner_text("[data-testid=registration]")
    assert "Зарегистрировано у перевозчика" in card and "sandbox (эмулятор)" in card
    number = page.inner_text("[data-testid=tracking-number]").strip()
    shipment = Shipment.objects.get(order_number="W-1")
    assert number == shipment.tracking_number
    held = shop["emulators"]["sandbox"].app.by_number[number].recipient["address"]
    assert "Ленина" in held and "12" in held

    # batches: group, print the labels, hand over
    page.click(".mainnav >> text=Партии")
    page.click("text=Сформировать партии")  # choose the shipments, see the plan, confirm
    page.check(f"input[name=ids][value='{shipment.pk}']")
    page.click("[data-testid=preview]")
    page.click("[data-testid=confirm-batches]")
    page.wait_for_url(live_server.url + "/documents/batches/")
    page.click("table >> a >> nth=0")
    page.locator("#cell-labels_thermal").locator("xpath=..").locator("button").click()
    link = page.wait_for_selector("#cell-labels_thermal a")
    label = page.request.get(live_server.url + str(link.get_attribute("href")))
    assert number in pdf_barcodes(label.body())
    page.click("text=Передать партию (закрыть)")
    page.click("[data-testid=confirm]")  # closing a batch asks first
    page.wait_for_selector("text=Закрыта")
    shipment.refresh_from_db()
    assert shipment.state == State.HANDED_OVER

    # the parcel moves (a step each time the clock moves on); the operator refreshes its
    # tracking page until it is delivered
    page.goto(f"{live_server.url}/tracking/shipments/{shipment.pk}/")
    for _move in range(MOVES):
        if "Статус: Вручено" in page.inner_text("body"):
            break
        clock.shift(STEP)
        page.click("text=Обновить сейчас")
        page.wait_for_load_state()
    assert "Статус: Вручено" in page.inner_text("body")
    public = page.get_attribute("a[href*='/tracking/t/']", "href")
    page.goto(live_server.url + str(public))
    assert "Вручено" in page.inner_text(".status")
    page.goto(f"{live_server.url}/shipments/{shipment.pk}/")
    assert "Вручено" in page.inner_text("[data-testid=parcel-status]")
