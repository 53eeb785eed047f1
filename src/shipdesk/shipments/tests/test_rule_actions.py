"""Automation rules: conditions on the order → actions beyond the carrier (package, extra
services, insurance, sender, notification channels), applied by the API and bulk intake,
editable through the API and the page, and tried on recent orders by a dry run."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shipdesk.carriers.models import CarrierAccount
from shipdesk.shipments import delivery_rules as rules
from shipdesk.shipments.delivery_rules import RuleFacts, rule_apply
from shipdesk.shipments.models import SenderProfile, Shipment
from shipdesk.shipments.services import shipments_create_many
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tenancy.services import Actor

ACTIONS = RuleFacts(id=1, position=1, name="r", carrier_account_id=7, carrier_code="cdek",
                    default_weight_g=700, default_dims_cm=(30, 20, 10),
                    options=(("fragile", True),), insure=True, sender_id=5,
                    notify_channels=("sms",))


def test_rule_apply_fills_only_what_the_order_left_empty() -> None:
    empty = {"items": [{"unit_price": "100", "quantity": 2}]}
    assert rule_apply(ACTIONS, empty) == {
        **empty, "weight_g": 700, "length_cm": 30, "width_cm": 20, "height_cm": 10,
        "declared_value": Decimal("200"), "sender_id": 5,
        "options": {"fragile": True, "notify_channels": ["sms"]}}
    full = {"weight_g": 1500, "length_cm": 10, "declared_value": "50", "sender_id": 9,
            "cod_amount": "300", "options": {"fragile": False, "notify_channels": []}}
    assert rule_apply(ACTIONS, full) == full  # the order's own values win


@pytest.fixture
def world(actor: Actor) -> dict[str, Any]:
    org = actor.organization
    cdek = CarrierAccount.objects.create(organization=org, carrier_code="cdek", name="СДЭК",
                                         base_url="http://127.0.0.1:9", credentials={})
    SenderProfile.objects.create(organization=org, name="Главный", index="101000",
                                 city="Москва", is_default=True)
    second = SenderProfile.objects.create(organization=org, name="Омск", index="644010",
                                          city="Омск")
    small = rules.delivery_rule_create(
        actor=actor, name="Мелочь из файлов", carrier_account_id=cdek.pk, sources="upload",
        default_weight_g=100)
    big = rules.delivery_rule_create(
        actor=actor, name="Дорогие", carrier_account_id=cdek.pk, service_code="136",
        min_value="5000", default_length_cm=40, default_width_cm=30, default_height_cm=20,
        options=["fragile", "sms_notice"], insure=True, sender_id=second.pk,
        notify_channels=[])
    return {"cdek": cdek, "second": second, "small": small, "big": big}


@pytest.mark.django_db
def test_the_api_and_bulk_intake_apply_the_first_matching_rules_actions(
        api: Client, actor: Actor, world: dict[str, Any]) -> None:
    data = shipment_data(order_number="EXP-1", service_code="", declared_value="",
                         cod_amount="", items=[{"name": "Часы", "quantity": 1,
                                                "unit_price": "7000"}])
    answer = api.post("/api/v1/shipments/", data=json.dumps(data),
                      content_type="application/json")
    assert answer.status_code == 201, answer.content
    made = Shipment.objects.get(order_number="EXP-1")
    assert (made.carrier_account_id, made.service_code) == (world["cdek"].pk, "136")
    assert (made.length_cm, made.width_cm, made.height_cm) == (40, 30, 20)
    assert made.weight_g == 1200  # the order's own weight stays
    assert made.options == {"fragile": True, "sms_notice": True, "notify_channels": []}
    assert made.declared_value == Decimal("7000.00") and made.sender_id == world["second"].pk
    # a person who takes the extra services off keeps them off (no rule on edits)
    edited = api.patch(f"/api/v1/shipments/{made.pk}", data=json.dumps({"options": {}}),
                       content_type="application/json")
    assert edited.status_code == 200, edited.content
    made.refresh_from_db()
    assert made.options == {} and made.length_cm == 40
    # bulk: a cheap order matches no rule (the «upload» one is for files only)
    result = shipments_create_many(actor=actor, items=[
        shipment_data(order_number="CHEAP-1", weight_g=None, service_code="POSTAL_PARCEL"),
        shipment_data(order_number="EXP-2", declared_value="9000", cod_amount="")])
    cheap, dear = result.results
    assert [e.loc[-1] for e in cheap.errors] == ["weight_g"] and dear.ok
    assert Shipment.objects.get(order_number="EXP-2").options["fragile"] is True


@pytest.mark.django_db
def test_an_uploaded_file_gets_the_rule_for_files(actor: Actor, world: dict[str, Any]) -> None:
    from shipdesk.shipments.tests.test_importing import row, upload, xlsx

    job = upload(actor, xlsx([row(1, weight=None), row(2, weight=900)]))
    assert job.created_count == 2, job.errors
    stored = dict(Shipment.objects.values_list("order_number", "weight_g"))
    assert stored == {"F-1": 100, "F-2": 900}  # the rule's weight only where none was given
    assert set(Shipment.objects.values_list("carrier_account_id", flat=True)) == {
        world["cdek"].pk}


@pytest.mark.django_db
def test_rules_with_actions_through_the_api_and_errors_at_their_fields(
        api: Client, world: dict[str, Any]) -> None:
    rule = api.get(f"/api/v1/shipments/delivery-rules/{world['big'].pk}").json()
    assert (rule["min_value"], rule["options"], rule["insure"], rule["notify_channels"]) == (
        "5000.00", ["fragile", "sms_notice"], True, [])
    assert "Хрупкое" in rule["description"] and "без уведомлений" in rule["description"]
    bad = api.post("/api/v1/shipments/delivery-rules/", data=json.dumps({
        "name": "x", "carrier_account_id": world["cdek"].pk, "options": ["teleport"],
        "default_length_cm": 10, "sources": ["fax"], "notify_channels": ["pigeon"]}),
        content_type="application/json")
    assert bad.status_code == 422
    where = {tuple(e["loc"])[-1] for e in bad.json()["errors"]}
    assert where == {"options", "default_width_cm", "sources", "notify_channels"}
    patched = api.patch(f"/api/v1/shipments/delivery-rules/{world['big'].pk}",
                        data=json.dumps({"notify_channels": None, "sender_id": None}),
                        content_type="application/json")
    assert patched.json()["notify_channels"] is None and patched.json()["sender_id"] is None


@pytest.mark.django_db
def test_the_dry_run_shows_each_recent_orders_rule_and_changes_nothing(
        actor: Actor, api: Client, web: Client) -> None:
    shipments_create_many(actor=actor, items=[
        shipment_data(order_number="OLD-CHEAP"),
        shipment_data(order_number="OLD-DEAR", declared_value="8000", cod_amount="")])
    cdek = CarrierAccount.objects.create(organization=actor.organization, carrier_code="cdek",
                                         name="СДЭК", base_url="http://127.0.0.1:9",
                                         credentials={})
    rules.delivery_rule_create(  # made after the orders: what would it have done?
        actor=actor, name="Дорогие", carrier_account_id=cdek.pk, min_value="5000",
        default_length_cm=40, default_width_cm=30, default_height_cm=20,
        options=["fragile", "sms_notice"], notify_channels=[])
    before = list(Shipment.objects.values_list("id", "length_cm", "options", "sender_id"))
    rows = api.get("/api/v1/shipments/delivery-rules/dry-run?limit=10").json()
    by_order = {r["order_number"]: r for r in rows}
    assert (by_order["OLD-DEAR"]["rule_name"], by_order["OLD-DEAR"]["carrier"]) == (
        "Дорогие", "СДЭК")
    assert by_order["OLD-DEAR"]["fills"] == {
        "length_cm": 40, "width_cm": 30, "height_cm": 20,
        "options": {"fragile": True, "sms_notice": True, "notify_channels": []}}
    assert (by_order["OLD-CHEAP"]["rule_id"], by_order["OLD-CHEAP"]["note"]) == (
        None, "Ни одно правило не подходит")
    page = web.get("/shipments/delivery-rules/dry-run/?limit=10").content.decode()
    assert "Правило подошло к 1 из 2 заказов" in page and "OLD-DEAR" in page
    assert "доп. услуги: Хрупкое, SMS-уведомление, уведомления: не отправлять" in page
    assert list(Shipment.objects.values_list("id", "length_cm", "options", "sender_id")) == before
