"""Registration with the carrier: a shipment created through the API is sent to its carrier's
emulator, gets the carrier's number, is tracked, can be refused, fixed and sent again,
survives a carrier that is down without being registered twice, and is cancelled at the
carrier. Checked from the emulator's side as well as ours."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from shipdesk.carriers import registry
from shipdesk.carriers import services as carriers
from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.emulator import SANDBOX_CREDENTIALS as CDEK_CREDENTIALS
from shipdesk.carriers.cdek.emulator import CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.pickpoint.adapter import Adapter as PickpointAdapter
from shipdesk.carriers.pickpoint.emulator import PickpointEmulator
from shipdesk.carriers.russian_post.emulator import SANDBOX_CREDENTIALS as RP_CREDENTIALS
from shipdesk.carriers.russian_post.tests.conftest import start_emulator
from shipdesk.carriers.sandbox.emulator import SANDBOX_CREDENTIALS as SANDBOX_CREDENTIALS
from shipdesk.carriers.sandbox.emulator import SandboxEmulator
from shipdesk.documents import services as documents
from shipdesk.shipments import registration
from shipdesk.shipments.models import Registration, SenderProfile, Shipment, State
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tracking.models import TrackingState

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sender(actor: Any) -> SenderProfile:
    return SenderProfile.objects.create(
        organization=actor.organization, name="Склад", company="ООО Ромашка",
        phone="+74951234567", index="101000", region="Москва", city="Москва",
        street="ул. Мясницкая", house="1", is_default=True)


@pytest.fixture
def app_emulators() -> Iterator[dict[str, Running]]:
    CdekAdapter.tokens._local.clear()
    PickpointAdapter._sessions.clear()
    running = {"cdek": start(CdekEmulator()), "pickpoint": start(PickpointEmulator()),
               "sandbox": start(SandboxEmulator())}
    yield running
    for emulator in running.values():
        emulator.stop()


@pytest.fixture
def rp_server() -> Iterator[Any]:
    server = start_emulator()
    yield server
    server.shutdown()
    server.server_close()


def _account(actor: Any, code: str, url: str, credentials: dict[str, str], **settings: Any) -> Any:
    return carriers.carrier_account_create(
        actor=actor, carrier_code=code, name=f"{code} test", base_url=url,
        credentials=credentials, settings={"backoff_base": 0.01, **settings})


def _create(api: Any, **data: Any) -> dict[str, Any]:
    response = api.post("/api/v1/shipments/", data=json.dumps(shipment_data(**data)),
                        content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def _stored(order_number: str) -> Shipment:
    return Shipment.objects.get(order_number=order_number)


def test_sandbox_shipment_is_registered_numbered_and_tracked(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["sandbox"]
    account = _account(actor, "sandbox", emulator.url, dict(SANDBOX_CREDENTIALS))
    created = _create(api, carrier_code="sandbox", service_code="standard", order_number="SB-1")
    shipment = _stored("SB-1")
    assert shipment.carrier_account_id == account.pk
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    assert shipment.state == State.NUMBERED
    held = emulator.app.by_number[shipment.tracking_number]  # type: ignore[attr-defined]
    assert held.reference == "SB-1"
    assert "Ленина" in held.recipient["address"] and "12" in held.recipient["address"]
    assert TrackingState.objects.filter(shipment=shipment).exists()
    # what the API answers afterwards shows it too
    again = api.get(f"/api/v1/shipments/{created['id']}").json()
    assert again["registration"] == "registered"
    assert again["tracking_number"] == shipment.tracking_number


def test_cdek_pickup_parcel_gets_the_cdek_number_and_the_emulator_holds_the_address(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["cdek"]
    _account(actor, "cdek", f"{emulator.url}/v2", dict(CDEK_CREDENTIALS))
    _create(api, carrier_code="cdek", service_code="136", order_number="CD-1",
            pickup_point_code="OMS3")
    shipment = _stored("CD-1")
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    order = next(o for o in emulator.app.orders.values() if o.number == "CD-1")  # type: ignore[attr-defined]
    assert shipment.tracking_number == order.cdek_number
    assert shipment.carrier_order_id == order.uuid
    assert order.body["delivery_point"] == "OMS3"
    assert order.body["tariff_code"] == 136


def test_a_refused_order_shows_the_carriers_words_and_is_sent_again_after_a_fix(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["cdek"]
    _account(actor, "cdek", f"{emulator.url}/v2", dict(CDEK_CREDENTIALS))
    created = _create(api, carrier_code="cdek", service_code="136", order_number="CD-2",
                      pickup_point_code="NOWHERE")
    shipment = _stored("CD-2")
    assert shipment.registration == Registration.REJECTED
    assert "NOWHERE" in shipment.registration_error  # CDEK's own message names the point
    assert shipment.state == State.READY and not shipment.tracking_number
    # accepted with 202, then found INVALID by CDEK: nothing valid was created there
    assert not any(o.number == "CD-2" and not o.invalid
                   for o in emulator.app.orders.values())  # type: ignore[attr-defined]
    page = api.get(f"/api/v1/shipments/{created['id']}").json()
    assert page["registration"] == "rejected"
    assert "NOWHERE" in page["registration_error"]

    fixed = api.patch(f"/api/v1/shipments/{created['id']}", data=json.dumps(
        {"pickup_point_code": "OMS3", "ready": True}), content_type="application/json")
    assert fixed.status_code == 200, fixed.content
    shipment.refresh_from_db()
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    assert shipment.registration_error == ""
    assert [o.number for o in emulator.app.orders.values()  # type: ignore[attr-defined]
            if not o.invalid].count("CD-2") == 1


def test_an_order_cdek_finds_invalid_after_the_202_shows_its_message_and_no_number(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["cdek"]
    emulator.app.validation_delay = timedelta(minutes=10)  # type: ignore[attr-defined]
    _account(actor, "cdek", f"{emulator.url}/v2", dict(CDEK_CREDENTIALS))
    created = _create(api, carrier_code="cdek", service_code="136", order_number="CD-9",
                      pickup_point_code="GONE7")
    shipment = _stored("CD-9")
    # CDEK said 202 ACCEPTED and has not validated it yet: asked again later, not numbered
    assert shipment.registration == Registration.PENDING and not shipment.tracking_number
    assert shipment.carrier_order_id and shipment.register_due_at is not None
    httpx.post(f"{emulator.url}/__emulator__/clock", json={"advance_hours": 1})
    registration.shipments_register(shipment_ids=[shipment.pk],
                                    now=shipment.register_due_at + timedelta(seconds=1))
    shipment.refresh_from_db()
    assert shipment.registration == Registration.REJECTED
    assert "GONE7" in shipment.registration_error and "delivery_point" in shipment.registration_error
    assert not shipment.tracking_number and not shipment.carrier_order_id
    assert shipment.state == State.READY
    page = api.get(f"/api/v1/shipments/{created['id']}").json()
    assert page["registration"] == "rejected" and "GONE7" in page["registration_error"]


def test_a_lost_answer_is_looked_up_before_sending_again(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["cdek"]
    account = _account(actor, "cdek", f"{emulator.url}/v2", dict(CDEK_CREDENTIALS),
                       timeout=0.5, max_attempts=1)
    registry.adapter_for_account(account)._token()  # so the next request is the create
    # the order is created at CDEK but its answer comes after our timeout
    httpx.post(f"{emulator.url}/__emulator__/fail", json={"mode": "slow", "count": 1,
                                                           "seconds": 1.5})
    _create(api, carrier_code="cdek", service_code="136", order_number="CD-3",
            pickup_point_code="OMS3")
    shipment = _stored("CD-3")
    assert shipment.registration == Registration.PENDING
    assert "повторим" in shipment.registration_error, shipment.registration_error
    deadline = time.monotonic() + 5  # the slow answer's order lands at CDEK meanwhile
    while not any(o.number == "CD-3" for o in emulator.app.orders.values()):  # type: ignore[attr-defined]
        assert time.monotonic() < deadline, "the slow create never reached CDEK"
        time.sleep(0.05)
    assert shipment.register_due_at is not None

    outcome = registration.shipments_register(shipment_ids=[shipment.pk])
    shipment.refresh_from_db()
    assert outcome.registered == 1
    assert shipment.registration == Registration.REGISTERED
    orders = [o for o in emulator.app.orders.values() if o.number == "CD-3"]  # type: ignore[attr-defined]
    assert len(orders) == 1  # found by our order number, not created twice
    assert shipment.tracking_number == orders[0].cdek_number


def test_pickpoint_parcel_gets_its_invoice_number(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["pickpoint"]
    from shipdesk.carriers.pickpoint.emulator import SANDBOX_CREDENTIALS as PP

    _account(actor, "pickpoint", f"{emulator.url}/api", dict(PP))
    _create(api, carrier_code="pickpoint", service_code="STD", order_number="PP-1",
            pickup_point_code="5501-003")
    shipment = _stored("PP-1")
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    assert shipment.tracking_number in emulator.app.sendings  # type: ignore[attr-defined]


def test_russian_post_registration_makes_the_batch_and_the_hand_over_checks_it_in(
        actor: Any, api: Any, sender: SenderProfile, rp_server: Any) -> None:
    _account(actor, "russian_post", rp_server.url, dict(RP_CREDENTIALS))
    _create(api, order_number="RP-1", street="ул. Ленина", house="5", apartment="12")
    shipment = _stored("RP-1")
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    order = rp_server.state.orders[int(shipment.carrier_order_id)]
    assert order["barcode"] == shipment.tracking_number
    assert order["order-num"] == "RP-1"
    assert order.get("street-to") and order.get("house-to") == "5"
    assert shipment.carrier_batch_id
    assert shipment.state == State.NUMBERED

    batch = documents.batch_create(actor=actor, shipment_ids=[shipment.pk])[0]
    closed = documents.batch_close(actor=actor, batch_id=batch.pk)
    assert closed.carrier_batch_id == shipment.carrier_batch_id
    carrier_batch = rp_server.state.batches[shipment.carrier_batch_id]
    assert carrier_batch["batch-status"] == "FROZEN"  # checked in: F103 sent to the office
    shipment.refresh_from_db()
    assert shipment.state == State.HANDED_OVER


def test_russian_post_orders_carry_the_carriers_normalised_name_and_phone(
        actor: Any, api: Any, sender: SenderProfile, rp_server: Any) -> None:
    _account(actor, "russian_post", rp_server.url, dict(RP_CREDENTIALS))
    _create(api, order_number="RP-N", recipient_name="петров пётр петрович",
            recipient_phone="8 (926) 012-09-35")
    shipment = _stored("RP-N")
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    order = rp_server.state.orders[int(shipment.carrier_order_id)]
    # /1.0/clean/physical and /1.0/clean/phone were asked before the order was created
    assert (order["surname"], order["given-name"], order["middle-name"]) == (
        "Петров", "Пётр", "Петрович")
    assert order["tel-address"] == 79260120935


def test_a_failed_normalisation_does_not_stop_the_registration(
        actor: Any, api: Any, sender: SenderProfile, rp_server: Any) -> None:
    import httpx

    _account(actor, "russian_post", rp_server.url, dict(RP_CREDENTIALS))
    # a token without the right to the clean services: 403 ACCESS_VIOLATION on each
    httpx.post(f"{rp_server.url}/_emulator/config",
               json={"forbidden": ["/1.0/clean"]}).raise_for_status()
    _create(api, order_number="RP-F")
    shipment = _stored("RP-F")
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    order = rp_server.state.orders[int(shipment.carrier_order_id)]
    assert "surname" not in order  # sent as given
    assert order["recipient-name"] == "Иванов Иван Иванович"


def test_cancelling_cancels_at_the_carrier(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["cdek"]
    _account(actor, "cdek", f"{emulator.url}/v2", dict(CDEK_CREDENTIALS))
    created = _create(api, carrier_code="cdek", service_code="136", order_number="CD-4",
                      pickup_point_code="OMS3")
    response = api.post(f"/api/v1/shipments/{created['id']}/cancel", data="{}",
                        content_type="application/json")
    assert response.status_code == 200, response.content
    shipment = _stored("CD-4")
    assert shipment.state == State.CANCELLED
    assert shipment.registration == Registration.CANCELLED
    order = next(o for o in emulator.app.orders.values() if o.number == "CD-4")  # type: ignore[attr-defined]
    assert order.removed_at is not None


def test_the_demo_registers_through_the_sandboxes_and_the_autopilot_hands_over(
        actor: Any, app_emulators: dict[str, Running], rp_server: Any) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from shipdesk.carriers.pickpoint.emulator import SANDBOX_CREDENTIALS as PP
    from shipdesk.core import duework
    from shipdesk.shipments.demo import LEFT_FOR_THE_OPERATOR, demo_autopilot, demo_shipments_create

    _account(actor, "russian_post", rp_server.url, dict(RP_CREDENTIALS))
    _account(actor, "cdek", f"{app_emulators['cdek'].url}/v2", dict(CDEK_CREDENTIALS))
    _account(actor, "pickpoint", f"{app_emulators['pickpoint'].url}/api", dict(PP))
    _account(actor, "sandbox", app_emulators["sandbox"].url, dict(SANDBOX_CREDENTIALS))
    demo_shipments_create(organization=actor.organization, count=40)
    demo = Shipment.objects.filter(source="demo", state=State.READY)
    assert demo.count() == 40
    assert demo.filter(registration=Registration.PENDING).count() == 40  # nothing sent yet
    assert {c for c in demo.values_list("carrier_code", flat=True)} >= {"russian_post", "cdek"}

    duework.sweep(names=["shipments.register"])  # as the beat does once the emulators run
    numbered = Shipment.objects.filter(source="demo", state=State.NUMBERED,
                                       registration=Registration.REGISTERED)
    assert numbered.count() == 40, list(Shipment.objects.filter(source="demo").exclude(
        registration=Registration.REGISTERED).values_list("order_number", "registration_error"))

    assert demo_autopilot(now=timezone.now()) == 0  # not before they had a while
    handed = demo_autopilot(now=timezone.now() + timedelta(minutes=3))
    over = Shipment.objects.filter(source="demo", state=State.HANDED_OVER)
    assert handed == over.count() > 0
    left = Shipment.objects.filter(source="demo", state=State.NUMBERED)
    assert all(s.order_number.endswith(LEFT_FOR_THE_OPERATOR) for s in left)
    assert not any(s.order_number.endswith(LEFT_FOR_THE_OPERATOR) for s in over)


def test_a_delivery_rule_chooses_the_carrier_of_a_shipment_that_names_none(
        actor: Any, api: Any, sender: SenderProfile, app_emulators: dict[str, Running],
        rp_server: Any) -> None:
    from shipdesk.shipments.delivery_rules import delivery_rule_create

    _account(actor, "russian_post", rp_server.url, dict(RP_CREDENTIALS))
    cdek = _account(actor, "cdek", f"{app_emulators['cdek'].url}/v2", dict(CDEK_CREDENTIALS))
    delivery_rule_create(actor=actor, name="Омск в пункт выдачи", index_prefixes="644",
                         delivery="pickup", carrier_account_id=cdek.pk, service_code="136")
    _create(api, order_number="R-1", service_code="", pickup_point_code="OMS3")
    _create(api, order_number="R-2", service_code="")  # to the door: no rule, Russian Post
    chosen, default = _stored("R-1"), _stored("R-2")
    assert (chosen.carrier_code, chosen.carrier_account_id, chosen.service_code) == (
        "cdek", cdek.pk, "136")
    assert chosen.registration == Registration.REGISTERED, chosen.registration_error
    assert default.carrier_code == "russian_post" and default.service_code == "POSTAL_PARCEL"
    assert default.registration == Registration.REGISTERED, default.registration_error


def test_an_uploaded_file_names_the_carrier_account_by_its_name(
        actor: Any, sender: SenderProfile, app_emulators: dict[str, Running]) -> None:
    from shipdesk.shipments.tests.test_importing import upload, xlsx

    account = _account(actor, "sandbox", app_emulators["sandbox"].url, dict(SANDBOX_CREDENTIALS))
    headers = ["№ заказа", "Договор", "Вид отправления", "ФИО", "Телефон", "Индекс", "Город",
               "Улица", "Дом", "Вес (г)"]
    rows = [[f"U-{n}", "SANDBOX TEST", "standard", "Петрова Анна", "89120000001", "101000",
             "Москва", "ул. Мясницкая", "1", 500] for n in range(3)]
    rows.append(["U-9", "Нет такого", "standard", "Петрова Анна", "89120000001", "101000",
                 "Москва", "ул. Мясницкая", "1", 500])
    job = upload(actor, xlsx(rows, headers))
    assert job.created_count == 3 and job.rejected_count == 1
    assert "Нет такого" in json.dumps(job.errors, ensure_ascii=False)
    stored = Shipment.objects.filter(order_number__startswith="U-")
    assert {s.carrier_account_id for s in stored} == {account.pk}
    assert {s.registration for s in stored} == {Registration.REGISTERED}
    assert all(s.tracking_number in app_emulators["sandbox"].app.by_number  # type: ignore[attr-defined]
               for s in stored)


def test_our_batches_sharing_a_carrier_batch_are_each_handed_over(
        actor: Any, api: Any, sender: SenderProfile, rp_server: Any) -> None:
    _account(actor, "russian_post", rp_server.url, dict(RP_CREDENTIALS))
    for n, service in enumerate(("POSTAL_PARCEL", "ONLINE_PARCEL")):
        _create(api, order_number=f"RPB-{n}", service_code=service, cod_amount="0")
    registration.shipments_register(shipment_ids=list(Shipment.objects.values_list("pk", flat=True)))
    batches = documents.batch_auto_group(actor=actor)
    assert len(batches) == 2  # one per mail type on our side
    for batch in batches:
        documents.batch_close(actor=actor, batch_id=batch.pk)
    assert set(Shipment.objects.values_list("state", flat=True)) == {State.HANDED_OVER}
    assert {b["batch-status"] for b in rp_server.state.batches.values()} == {"FROZEN"}
    # and the carrier's first events are asked for soon after the hand-over
    polls = TrackingState.objects.values_list("next_poll_at", flat=True)
    assert len(polls) == 2 and all(p is not None for p in polls)


def test_a_pool_of_the_wrong_kind_is_said_on_the_shipment(actor: Any, api: Any, web: Any,
                                                          sender: SenderProfile) -> None:
    from shipdesk.shipments.tests.factories import number_pool

    number_pool(actor)  # 14-digit numbers only: for parcels within Russia
    created = _create(api, order_number="INT-1", service_code="PARCEL_INTERNATIONAL",
                      country="DE", index="10115", region="", city="Berlin",
                      street="Invalidenstraße", house="117", apartment="",
                      recipient_phone="+4930123456", cod_amount="0", declared_value="3000",
                      items=[{"name": "Matryoshka", "quantity": 2, "unit_price": "1500",
                              "weight_g": 400, "hs_code": "442190", "origin_country": "RU"}])
    shipment = _stored("INT-1")
    assert shipment.state == State.READY and not shipment.tracking_number
    assert "S10" in shipment.numbering_error
    assert "S10" in api.get(f"/api/v1/shipments/{created['id']}").json()["numbering_error"]
    page = web.get(f"/shipments/{shipment.pk}/").content.decode()
    assert 'data-testid="numbering-error"' in page and "S10" in page
    domestic = _create(api, order_number="DOM-1")
    assert domestic["tracking_number"] and domestic["numbering_error"] == ""


def test_cancel_at_the_carrier_from_the_page_and_register_again(
        actor: Any, api: Any, web: Any, sender: SenderProfile,
        app_emulators: dict[str, Running]) -> None:
    emulator = app_emulators["sandbox"]
    _account(actor, "sandbox", emulator.url, dict(SANDBOX_CREDENTIALS))
    _create(api, carrier_code="sandbox", service_code="standard", order_number="SB-C")
    shipment = _stored("SB-C")
    first_number = shipment.tracking_number
    assert shipment.registration == Registration.REGISTERED
    page = web.get(f"/shipments/{shipment.pk}/").content.decode()
    assert f"/shipments/{shipment.pk}/cancel-at-carrier/" in page
    web.post(f"/shipments/{shipment.pk}/cancel-at-carrier/")  # only the question
    assert _stored("SB-C").registration == Registration.REGISTERED
    web.post(f"/shipments/{shipment.pk}/cancel-at-carrier/", {"confirmed": "1"})
    shipment = _stored("SB-C")
    assert shipment.registration == Registration.CANCELLED
    assert shipment.state != State.CANCELLED  # kept here, to send again
    held = emulator.app.by_number[first_number]  # type: ignore[attr-defined]
    assert held.cancelled_at is not None
    web.post(f"/shipments/{shipment.pk}/register/")
    shipment = _stored("SB-C")
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    assert shipment.tracking_number and shipment.tracking_number != first_number
    assert shipment.state == State.NUMBERED


def test_editing_a_registered_shipment_registers_it_anew_with_the_new_data(
        actor: Any, api: Any, web: Any, sender: SenderProfile,
        app_emulators: dict[str, Running]) -> None:
    from shipdesk.shipments import services

    emulator = app_emulators["sandbox"]
    _account(actor, "sandbox", emulator.url, dict(SANDBOX_CREDENTIALS))
    _create(api, carrier_code="sandbox", service_code="standard", order_number="SB-E",
            weight_g=700)
    shipment = _stored("SB-E")
    old_number = shipment.tracking_number
    result = services.shipment_amend(actor=actor, shipment_id=shipment.pk,
                                     data={"weight_g": 2300, "house": "77"})
    assert result.reregistered
    shipment = _stored("SB-E")
    assert shipment.registration == Registration.REGISTERED, shipment.registration_error
    assert shipment.weight_g == 2300 and shipment.state == State.NUMBERED
    app = emulator.app  # type: ignore[attr-defined]
    assert app.by_number[old_number].cancelled_at is not None
    fresh = app.by_number[shipment.tracking_number]
    assert fresh.weight_g == 2300 and fresh.cancelled_at is None
    assert shipment.events.filter(reason__contains="передаётся заново").exists()
