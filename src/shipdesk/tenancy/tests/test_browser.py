"""In a real (headless) Chromium: log in, see the dashboard counts, switch organization."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from shipdesk.shipments import selectors as shipment_selectors
from shipdesk.shipments.models import Shipment, State
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Role

pytestmark = [pytest.mark.browser]

PASSWORD = "Brauzer-Test-2024"


@pytest.fixture
def browser_page(chromium: Any) -> Any:
    page = chromium.new_page(viewport={"width": 390, "height": 844}, locale="ru-RU")  # a phone
    page.set_default_timeout(15_000)
    return page


def _counts_on_page(page: Any) -> dict[str, str]:
    return {card.get_attribute("data-state"): card.locator(".card-value").inner_text()
            for card in page.locator(".card[data-state]").all()}


def test_login_dashboard_and_switch_organization(transactional_db: Any, live_server: Any,
                                                 browser_page: Any) -> None:
    user = tenancy.user_create(email="browser@example.test", password=PASSWORD)
    first = tenancy.organization_create(owner=user, name="Альфа")
    second = tenancy.organization_create(owner=user, name="Бета")
    # Test data straight into the table: different counts per state in each organization.
    states = list(State)
    Shipment.objects.bulk_create(
        [Shipment(organization=first, order_number=f"A-{i}", state=states[0]) for i in range(3)]
        + [Shipment(organization=first, order_number=f"B-{i}", state=states[-1]) for i in range(2)]
        + [Shipment(organization=second, order_number="C-1", state=states[1])])
    expected = {
        org.name: {row["state"]: str(row["count"]) for row in shipment_selectors.shipment_counts_by_state(
            actor=tenancy.Actor(organization=org, role=Role.OWNER, user=user))}
        for org in (first, second)
    }
    assert expected["Альфа"] != expected["Бета"]
    assert expected["Альфа"][State(states[0]).value] == "3"
    page = browser_page
    page.goto(live_server.url + "/")
    assert "/login/" in page.url
    page.fill("#id_username", "browser@example.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".cards")
    assert page.locator("h1").inner_text() == "Альфа"
    assert _counts_on_page(page) == expected["Альфа"]

    page.select_option("#org-select", label="Бета")  # submits the switcher form
    expect(page.locator("h1")).to_have_text("Бета")  # not wait_for_function: no eval under CSP
    assert _counts_on_page(page) == expected["Бета"]
    # The phone layout: the menu opens from the burger.
    assert page.locator(".mainnav").is_hidden()
    page.click(".nav-toggle-label")
    assert page.locator(".mainnav").is_visible()
