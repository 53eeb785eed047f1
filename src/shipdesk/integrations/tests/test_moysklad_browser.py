"""The shop owner's way through the MoySklad connection page in a real browser: connect with
a token, choose the trigger state and the map from the account's own states, then see the
orders that became shipments, with their numbers, and the problems."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from shipdesk.carriers import services as carriers
from shipdesk.carriers.emulation import start
from shipdesk.carriers.sandbox.emulator import SANDBOX_CREDENTIALS, SandboxEmulator
from shipdesk.integrations.models import MoySkladConnection
from shipdesk.integrations.moysklad import services
from shipdesk.integrations.moysklad.emulator import PREFIX, SANDBOX_TOKEN, MoySkladEmulator
from shipdesk.shipments.delivery_rules import delivery_rule_create
from shipdesk.shipments.models import SenderProfile
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Role

PASSWORD = "Moi-Sklad-Podkluchen-1"


@pytest.mark.browser
def test_connect_choose_trigger_and_see_shipments(transactional_db: Any, live_server: Any,
                                                  chromium: Any, settings: Any) -> None:
    settings.PUBLIC_URL = "http://127.0.0.1:9"  # MoySklad's notifications go nowhere here
    moysklad, sandbox = start(MoySkladEmulator()), start(SandboxEmulator())
    try:
        user = tenancy.user_create(email="owner@example.test", password=PASSWORD)
        org = tenancy.organization_create(owner=user, name="Ромашка")
        actor = tenancy.Actor(organization=org, role=Role.OWNER, user=user)
        SenderProfile.objects.create(
            organization=org, name="Склад", company="ООО Ромашка", phone="+74951234567",
            index="101000", region="Москва", city="Москва", street="ул. Мясницкая", house="1",
            is_default=True)
        account = carriers.carrier_account_create(
            actor=actor, carrier_code="sandbox", name="Песочница", base_url=sandbox.url,
            credentials=dict(SANDBOX_CREDENTIALS))
        delivery_rule_create(actor=actor, name="Все", carrier_account_id=account.pk,
                             service_code="standard")
        page = chromium.new_page(locale="ru-RU")
        page.set_default_timeout(15_000)
        page.goto(live_server.url + "/login/")
        page.fill("#id_username", "owner@example.test")
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector(".mainnav")
        page.goto(live_server.url + "/integrations/moysklad/")  # under «Интеграции» in the menu
        page.fill("#connect input[name=base_url]", moysklad.url + PREFIX)
        page.fill("#connect input[name=token]", "wrong-token")
        page.click("#connect button[type=submit]")
        expect(page.locator("body")).to_contain_text("МойСклад не принял токен")
        page.fill("#connect input[name=token]", SANDBOX_TOKEN)
        page.click("#connect button[type=submit]")
        expect(page.locator("body")).to_contain_text("выберите состояние-триггер")
        # the account's own states are offered; the usual ones were guessed
        page.select_option("#trigger", label="Собран")
        expect(page.locator("select[name=map_numbered] option:checked")).to_have_text(
            "Передан в доставку")
        page.click("#rule button[type=submit]")
        expect(page.locator("body")).to_contain_text("Правило сохранено")

        app = moysklad.app
        good = app.seed_orders(1)[0]  # type: ignore[attr-defined]
        bad = app.seed_orders(1, without_address=1)[0]  # type: ignore[attr-defined]
        app.move([good, bad], "Собран")  # type: ignore[attr-defined]
        connection = MoySkladConnection.objects.get(organization=org)
        services.orders_mark_due(connection, [good, bad])
        services.connection_run(connection_id=connection.pk)
        page.reload()
        orders = page.locator("#orders")
        number = app.order_attribute(good, "Трек-номер")  # type: ignore[attr-defined]
        assert number
        expect(orders).to_contain_text(number)
        expect(orders).to_contain_text("В заказе нет адреса доставки")
        expect(page.locator("#counts")).to_contain_text("отправлений создано: 1")
    finally:
        moysklad.stop()
        sandbox.stop()
