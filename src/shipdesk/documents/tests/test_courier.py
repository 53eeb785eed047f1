"""A courier for a CDEK batch: ordered from the batch page (a real browser), the API and the
service; the request reaches the CDEK emulator with the sender's address and contact and
the batch's weight; CDEK's number and state are shown; CDEK's refusal in its own words."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, MSK, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.models import CarrierAccount
from shipdesk.core.errors import Conflict, ValidationFailed
from shipdesk.documents import courier, services
from shipdesk.documents.models import Batch, CourierPickup
from shipdesk.documents.tests import factories as f
from shipdesk.tenancy.services import Actor


@pytest.fixture
def cdek() -> Iterator[Running]:
    running = start(CdekEmulator())
    yield running
    running.stop()


def _account(org: Any, cdek: Running) -> CarrierAccount:
    CdekAdapter.tokens._local.clear()
    return CarrierAccount.objects.create(
        organization=org, carrier_code="cdek", name="СДЭК", base_url=f"{cdek.url}/v2",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
        settings={"backoff_base": 0.01})


def _batch(actor: Actor, org: Any, account: CarrierAccount, weights: tuple[int, ...] = (1200, 800)
           ) -> Batch:
    sp = f.sender(org, contact_name="Пётр Складской", city="Москва", street="ул. Тверская", house="7")
    ships = [f.shipment(org, sender_profile=sp, carrier_code="cdek", carrier_account=account,
                        service_code="136", mail_category="", tracking=f"11060{n:05d}",
                        weight_g=w) for n, w in enumerate(weights)]
    return services.batch_create(actor=actor, shipment_ids=[s.pk for s in ships],
                                 shipping_date=timezone.localdate())[0]


def _tomorrow(cdek: Running) -> date:
    return cdek.app.clock.now().astimezone(MSK).date() + timedelta(days=1)


def test_a_courier_is_ordered_for_the_batch_with_the_senders_address(
        actor: Actor, org: Any, cdek: Running) -> None:
    batch = _batch(actor, org, _account(org, cdek))
    pickup = courier.courier_order(actor=actor, batch_id=batch.pk, day=_tomorrow(cdek),
                                   time_from="10:00", time_to="16:00")
    assert pickup.number and pickup.state == "READY_FOR_APPOINTMENT" and not pickup.error
    sent = cdek.app.intakes[pickup.carrier_id].body  # type: ignore[attr-defined]
    assert sent["weight"] == 2000 and "отправлений 2" in sent["name"]
    assert sent["from_location"]["address"] == "Москва, ул. Тверская, д. 7"
    assert sent["sender"]["name"] == "Пётр Складской"
    assert sent["sender"]["phones"] == [{"number": "+74951234567"}]
    assert (sent["intake_date"], sent["intake_time_from"], sent["intake_time_to"]) == (
        _tomorrow(cdek).isoformat(), "10:00", "16:00")
    with pytest.raises(Conflict):  # one standing courier per batch
        courier.courier_order(actor=actor, batch_id=batch.pk, day=_tomorrow(cdek),
                              time_from="10:00", time_to="16:00")


def test_cdeks_refusal_is_shown_in_its_words_and_nothing_is_stored(
        actor: Actor, org: Any, cdek: Running) -> None:
    batch = _batch(actor, org, _account(org, cdek))
    with pytest.raises(ValidationFailed) as caught:
        courier.courier_order(actor=actor, batch_id=batch.pk, day=_tomorrow(cdek),
                              time_from="19:00", time_to="21:00")
    assert "не короче 3 часов" in str(caught.value.detail)
    assert not CourierPickup.objects.exists()


@pytest.mark.parametrize(("day_shift", "start", "end", "field"), [
    (-1, "10:00", "16:00", "day"), (1, "10", "16:00", "time_from"), (1, "16:00", "10:00", "time_to")])
def test_bad_dates_and_times_point_at_the_field(actor: Actor, org: Any, cdek: Running, day_shift: int,
                                                start: str, end: str, field: str) -> None:
    batch = _batch(actor, org, _account(org, cdek))
    with pytest.raises(ValidationFailed) as caught:
        courier.courier_order(actor=actor, batch_id=batch.pk,
                              day=timezone.localdate() + timedelta(days=day_shift),
                              time_from=start, time_to=end)
    assert [e.loc for e in caught.value.errors] == [(field,)]
    assert cdek.app.intakes == {}  # type: ignore[attr-defined]


def test_the_state_is_read_again_and_the_courier_cancelled(actor: Actor, org: Any, cdek: Running) -> None:
    batch = _batch(actor, org, _account(org, cdek))
    pickup = courier.courier_order(actor=actor, batch_id=batch.pk, day=_tomorrow(cdek),
                                   time_from="10:00", time_to="16:00")
    cdek.app.clock.set(cdek.app.clock.now() + timedelta(days=3))  # type: ignore[attr-defined]
    assert courier.courier_refresh(actor=actor, pickup_id=pickup.pk).state == "DONE"
    with pytest.raises(Conflict):
        courier.courier_cancel(actor=actor, pickup_id=pickup.pk)
    second = courier.courier_order(actor=actor, batch_id=batch.pk,
                                   day=_tomorrow(cdek) + timedelta(days=4),
                                   time_from="10:00", time_to="16:00")
    assert courier.courier_cancel(actor=actor, pickup_id=second.pk).state == "REMOVED"


def test_a_carrier_without_couriers_is_refused(actor: Actor, org: Any) -> None:
    s = f.shipment(org, sender_profile=f.sender(org), tracking="80080012345678")
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=timezone.localdate())[0]
    assert not courier.courier_supported(batch)
    with pytest.raises(ValidationFailed):
        courier.courier_order(actor=actor, batch_id=batch.pk, day=timezone.localdate(),
                              time_from="10:00", time_to="16:00")


def test_the_api_orders_and_lists_couriers(api: Client, actor: Actor, org: Any, cdek: Running) -> None:
    batch = _batch(actor, org, _account(org, cdek))
    answer = api.post(f"/api/v1/documents/batches/{batch.pk}/courier", content_type="application/json",
                      data=json.dumps({"day": _tomorrow(cdek).isoformat(), "time_from": "11:00",
                                       "time_to": "17:00"}))
    assert answer.status_code == 201, answer.content
    out = answer.json()
    assert out["number"] and out["state"] == "READY_FOR_APPOINTMENT" and out["address"].endswith("7")
    assert [p["id"] for p in api.get(f"/api/v1/documents/batches/{batch.pk}/courier").json()] == [out["id"]]
    bad = api.post(f"/api/v1/documents/batches/{batch.pk}/courier", content_type="application/json",
                   data=json.dumps({"day": _tomorrow(cdek).isoformat(), "time_from": "7", "time_to": "9:00"}))
    assert bad.status_code == 422
    assert {tuple(e["loc"]) for e in bad.json()["errors"]} >= {("time_from",)}
    refreshed = api.post(f"/api/v1/documents/courier-pickups/{out['id']}/refresh")
    assert refreshed.status_code == 200 and refreshed.json()["number"] == out["number"]


def test_the_batch_page_offers_the_courier_only_for_cdek(web: Client, actor: Actor, org: Any,
                                                         cdek: Running) -> None:
    batch = _batch(actor, org, _account(org, cdek))
    assert "Вызвать курьера" in web.get(f"/documents/batches/{batch.pk}/").content.decode()
    rp = f.shipment(org, sender_profile=f.sender(org), tracking="80080012345679")
    other = services.batch_create(actor=actor, shipment_ids=[rp.pk], shipping_date=timezone.localdate())[0]
    assert "Вызвать курьера" not in web.get(f"/documents/batches/{other.pk}/").content.decode()


PASSWORD = "Brauzer-Test-2024"


@pytest.mark.browser
def test_order_a_courier_from_the_batch_page(transactional_db: Any, live_server: Any, chromium: Any,
                                             cdek: Running) -> None:
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.permissions import Role
    from shipdesk.tenancy.services import Actor as ActorClass

    user = tenancy.user_create(email="courier@example.test", password=PASSWORD)
    org = tenancy.organization_create(owner=user, name="Ромашка")
    owner = ActorClass(organization=org, role=Role.OWNER, user=user)
    batch = _batch(owner, org, _account(org, cdek))
    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "courier@example.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".mainnav")
    page.goto(f"{live_server.url}/documents/batches/{batch.pk}/")
    page.fill("#courier input[name=day]", _tomorrow(cdek).isoformat())
    page.fill("#courier input[name=time_from]", "10:00")
    page.fill("#courier input[name=time_to]", "14:00")
    page.click("#courier >> text=Вызвать курьера")
    page.wait_for_selector("#courier .courier-pickup")
    text = page.locator("#courier .courier-pickup").inner_text()
    intake = next(iter(cdek.app.intakes.values()))  # type: ignore[attr-defined]
    assert intake.number in text and "Готова к назначению" in text and "10:00–14:00" in text
