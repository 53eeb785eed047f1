"""The accountant and the operator in a real browser: open a balance, enter the payee, bill
it, upload the bank's statement (CP866), issue a mark from the page, check it on the public
verification page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipdesk.postage.tests.conftest import ORG_INN, PAYEE_ACCOUNT, statement
from shipdesk.tenancy import services as tenancy

PASSWORD = "Marki-Pochta-2026"


@pytest.mark.browser
def test_balance_topped_up_and_a_mark_issued_and_verified(transactional_db: Any,
                                                          live_server: Any, chromium: Any,
                                                          tmp_path: Path) -> None:
    from playwright.sync_api import expect

    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.shipments.models import Shipment, State

    user = tenancy.user_create(email="buh@example.test", password=PASSWORD)
    org = tenancy.organization_create(owner=user, name="Ромашка", inn=ORG_INN)
    carrier = CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                            name="Почта, договор 1", base_url="http://127.0.0.1:9/")
    letter = Shipment.objects.create(
        organization=org, order_number="L1", tracking_number="80080000000017",
        state=State.NUMBERED, carrier_code="russian_post", service_code="LETTER",
        carrier_account=carrier, weight_g=20, recipient_surname="Петров", index="190000")
    bank = tmp_path / "kl_to_1c.txt"
    bank.write_bytes(statement([{"Номер": "700", "Сумма": "250.00"}], encoding="DOS"))

    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "buh@example.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.click(".mainnav >> text=Деньги")
    page.click(".mainnav >> text=Франкирование")
    page.click("button:text-is('Открыть')")
    page.click("text=Реквизиты получателя (для счетов)")
    page.fill("input[name=payee_name]", "АО Франкинг")
    page.fill("input[name=payee_account]", PAYEE_ACCOUNT)
    page.fill("input[name=payee_bik]", "044525225")
    page.click("button:text-is('Сохранить реквизиты')")
    page.fill("form:has-text('Выставить счёт') input[name=amount]", "250")
    page.click("button:text-is('Выставить счёт')")
    expect(page.locator("#invoice-list")).to_contain_text("ПМ-000001")
    page.set_input_files("input[name=file]", str(bank))
    page.click("button:text-is('Загрузить выписку')")
    expect(page.locator(".balance")).to_have_text("250,00\xa0₽")
    expect(page.locator("#invoice-list")).to_contain_text("Оплачен")

    page.fill("form:has-text('Выпустить и списать') input[name=shipment_ids]", str(letter.pk))
    page.click("button:text-is('Выпустить и списать')")
    expect(page.locator(".balance")).to_have_text("162,50\xa0₽")
    expect(page.locator("#mark-list")).to_contain_text("80080000000017")

    from shipdesk.postage.models import Mark

    payload = Mark.objects.get(shipment=letter).payload
    page.goto(live_server.url + "/postage/verify/")
    page.fill("input[name=code]", payload)
    page.click("button:text-is('Проверить')")
    expect(page.locator("#verdict")).to_contain_text("Знак подлинный")
    page.fill("input[name=code]", payload.replace("|87.50|", "|1.00|"))
    page.click("button:text-is('Проверить')")
    expect(page.locator("#verdict")).to_contain_text("Подпись не сходится")
