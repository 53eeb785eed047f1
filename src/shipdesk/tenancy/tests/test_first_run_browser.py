"""In a real (headless) Chromium: the installation operator makes an organization and its
owner; the owner logs in and sees the setup checklist with links."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

pytestmark = [pytest.mark.browser]


def test_new_organization_and_its_checklist(transactional_db: Any, live_server: Any,
                                            chromium: Any) -> None:
    get_user_model().objects.create_user("root@example.test", password="Oper-Pass-2024",
                                         is_staff=True)
    page = chromium.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/login/?next=/organization/installation/")
    page.fill("#id_username", "root@example.test")
    page.fill("#id_password", "Oper-Pass-2024")
    page.click("button[type=submit]")
    page.wait_for_selector("#id_owner_email")
    page.fill("#id_name", "Новый магазин")
    page.fill("#id_owner_email", "owner@example.test")
    page.click("button.primary[type=submit]")
    password = page.locator("[data-testid=owner-password]").inner_text().strip()
    assert "Новый магазин" in page.locator("[data-testid=org-created]").inner_text()

    owner = chromium.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")
    owner.set_default_timeout(20_000)
    owner.goto(live_server.url + "/login/")
    owner.fill("#id_username", "owner@example.test")
    owner.fill("#id_password", password)
    owner.click("button[type=submit]")
    owner.wait_for_selector("[data-testid=checklist]")
    steps = owner.locator("[data-testid=checklist] li")
    assert {steps.nth(i).get_attribute("data-step") for i in range(steps.count())} == {
        "requisites", "sender", "carrier", "numbers", "notifications"}
    assert owner.locator("[data-done=yes]").count() == 0
    owner.click("[data-step=sender] a")
    owner.wait_for_url(live_server.url + "/shipments/senders/")
