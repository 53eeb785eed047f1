"""The accountant's way through the pages in a real browser: upload a report nobody
recognises, map its columns, see the rows matched and the money on the overview."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shipdesk.finance.tests.conftest import make_shipment
from shipdesk.tenancy import services as tenancy

PASSWORD = "Dengi-Prishli-2026"


@pytest.mark.browser
def test_unknown_report_mapped_in_the_browser(transactional_db: Any, live_server: Any,
                                              chromium: Any, tmp_path: Path) -> None:
    user = tenancy.user_create(email="buh@example.test", password=PASSWORD)
    org = tenancy.organization_create(owner=user, name="Ромашка")
    make_shipment(org, tracking="BB0001", order="SHOP-77", cod="1500",
                  carrier="boxberry")
    report = tmp_path / "выплаты.csv"
    report.write_bytes("Выплаты Boxberry за неделю\n\nКод;Заказ;Получено;Удержано;Перечислено\n"
                       "BB0001;SHOP-77;1 500,00;45,00;1 455,00\n".encode("cp1251"))
    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "buh@example.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".mainnav")

    page.click(".mainnav >> text=Деньги")  # the group opens
    page.click(".mainnav >> text=Обзор")
    page.click("text=Отчёты о выплатах")
    page.set_input_files("input[type=file]", str(report))
    page.click("text=Загрузить и провести")
    page.wait_for_selector("#mapping")
    assert "Нужно сопоставить колонки" in page.inner_text("#summary")
    page.select_option("select[name=role_tracking_number]", "Код")
    page.select_option("select[name=role_order_number]", "Заказ")
    page.select_option("select[name=role_cod_amount]", "Получено")
    page.select_option("select[name=role_fee]", "Удержано")
    page.select_option("select[name=role_paid_amount]", "Перечислено")
    page.click("text=Сохранить и провести")
    page.wait_for_selector("#rows tbody tr")
    assert "Проведён" in page.inner_text("#summary")
    row = page.inner_text("#rows tbody tr")
    assert "SHOP-77" in row and "Сопоставлено" in row and "1\xa0455,00\xa0₽" in row

    page.click("text=Прибыли и убытки")
    page.wait_for_selector("#pnl")
    lines = dict(line.split("\t") for line in page.inner_text("#pnl").splitlines())
    # revenue is the COD, the carrier's fee an expense, the margin what is left
    assert lines["Выручка (90.1)"] == "1\xa0500,00\xa0₽"
    assert lines["Расходы на доставку (44)"] == "-45,00\xa0₽"
    assert lines["Итого"] == "1\xa0455,00\xa0₽"
