"""In a real (headless) Chromium: an owner writes an automation rule with actions, tries it
on recent orders, connects a shop and sees its signed order arrive on the connection page
as a shipment the rule shaped."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from playwright.sync_api import expect

from shipdesk.carriers.models import CarrierAccount
from shipdesk.integrations.models import ShopConnection
from shipdesk.integrations.shops import generic, intake
from shipdesk.integrations.tests.shop_payloads import GENERIC_WEBHOOK
from shipdesk.shipments.models import SenderProfile, Shipment
from shipdesk.tenancy import services as tenancy

pytestmark = [pytest.mark.browser]

PASSWORD = "Brauzer-Test-2024"


def test_rules_with_actions_dry_run_and_a_shop_connection_in_the_browser(
        transactional_db: Any, live_server: Any, chromium: Any) -> None:
    user = tenancy.user_create(email="shops@example.test", password=PASSWORD)
    org = tenancy.organization_create(owner=user, name="Магазин")
    cdek = CarrierAccount.objects.create(organization=org, carrier_code="cdek", name="СДЭК",
                                         base_url="http://127.0.0.1:9", credentials={})
    SenderProfile.objects.create(organization=org, name="Склад", index="101000",
                                 city="Москва", is_default=True)
    # an order from before, kept as a draft without its weight
    Shipment.objects.create(organization=org, order_number="RECENT-1", state="draft",
                            recipient_surname="Петров", index="644010", city="Омск")
    page = chromium.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "shops@example.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")

    # the rule: CDEK, 700 g when the order has no weight, fragile, no notifications
    page.goto(live_server.url + "/shipments/delivery-rules/new/")
    page.fill("#id_name", "Всё в СДЭК")
    page.select_option("#id_carrier_account_id", str(cdek.pk))
    page.fill("#id_default_weight_g", "700")
    page.check("input[name=options][value=fragile]")
    page.select_option("#id_notify", "none")
    page.click("button.primary[type=submit]")
    expect(page.locator(".rule-text")).to_contain_text(
        "Все отправления → СДЭК; вес по умолчанию 700 г; Хрупкое; без уведомлений получателю")

    # the dry run on the recent order
    page.click("text=Проверить правила на последних заказах")
    row = page.locator("#dry-run tr[data-order=RECENT-1]")
    expect(row).to_contain_text("1. Всё в СДЭК")
    expect(row).to_contain_text("вес, г: 700")
    expect(page.locator("#dry-run-summary")).to_have_text("Правило подошло к 1 из 1 заказа")

    # a shop: the generic signed webhook
    page.goto(live_server.url + "/integrations/shops/")
    page.click("text=Любой магазин (вебхук Shipdesk)")
    page.fill("#id_name", "Мой магазин")
    page.click("button.primary[type=submit]")
    expect(page.locator("#hook-url")).to_contain_text("/integrations/shops/hook/")
    connection = ShopConnection.objects.get(organization=org)
    secret = str(intake.connection_secrets(connection)["secret"])
    expect(page.locator("#hook-secret")).to_have_text(secret)
    body = json.dumps(GENERIC_WEBHOOK).encode()
    stamp = str(int(time.time()))
    answer = page.request.post(page.locator("#hook-url").inner_text(), data=body, headers={
        "Content-Type": "application/json", "X-Shipdesk-Timestamp": stamp,
        "X-Shipdesk-Signature": generic.sign(secret, stamp, body)})
    assert answer.status == 201, answer.text()
    page.reload()
    expect(page.locator("#shop-events tr[data-outcome=created]")).to_contain_text("WEB-77")
    made = Shipment.objects.get(order_number="WEB-77")
    assert (made.carrier_account_id, made.weight_g, made.options) == (
        cdek.pk, 700, {"fragile": True, "notify_channels": []})
