"""In a real (headless) Chromium: create a shipment and print its label from its page; form
a batch from a chosen subset after its preview."""

from __future__ import annotations

from typing import Any

import pytest

from shipdesk.documents.models import Batch
from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import page_texts
from shipdesk.shipments.models import Shipment, State
from shipdesk.shipments.tests.factories import number_pool
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Role

pytestmark = [pytest.mark.browser]

PASSWORD = "Brauzer-Test-2024"


def _logged_in(chromium: Any, live_server: Any, email: str) -> Any:
    page = chromium.new_page(viewport={"width": 1366, "height": 900}, locale="ru-RU")
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/")
    return page


def test_create_a_shipment_and_print_its_label_from_its_page(
        transactional_db: Any, live_server: Any, chromium: Any, mail_type_limits: None) -> None:
    user = tenancy.user_create(email="labels@example.test", password=PASSWORD)
    org = tenancy.organization_create(owner=user, name="Ярлыки")
    actor = tenancy.Actor(organization=org, role=Role.OWNER, user=user)
    f.sender(org, is_default=True)
    number_pool(actor)
    page = _logged_in(chromium, live_server, "labels@example.test")
    page.goto(live_server.url + "/shipments/new/")
    page.select_option("#id_service_code", "POSTAL_PARCEL")  # mail types by name
    for name, value in {"order_number": "BR-1",
                        "recipient_surname": "Петров", "recipient_given_name": "Пётр",
                        "recipient_phone": "+79161234567", "index": "644010",
                        "region": "Омская обл", "city": "Омск", "street": "ул. Ленина",
                        "house": "5", "weight_g": "1200"}.items():
        page.fill(f"#id_{name}", value)
    page.click("button.primary[type=submit]")
    page.wait_for_selector("[data-testid=print-label]")
    shipment = Shipment.objects.get(order_number="BR-1")
    assert shipment.state == State.NUMBERED
    shown = page.locator("[data-testid=tracking-number]").inner_text().replace(" ", "")
    assert shown == shipment.tracking_number
    href = page.locator("[data-testid=print-label]").get_attribute("href")
    response = page.request.get(live_server.url + href)  # the same session as the click
    assert response.ok and response.headers["content-type"] == "application/pdf"
    text = " ".join(page_texts(response.body())).replace(" ", "")
    assert shipment.tracking_number in text


def test_form_a_batch_from_a_chosen_subset_with_the_preview(
        transactional_db: Any, live_server: Any, chromium: Any) -> None:
    user = tenancy.user_create(email="batches@example.test", password=PASSWORD)
    org = tenancy.organization_create(owner=user, name="Партии")
    sp = f.sender(org)
    ships = [f.shipment(org, sender_profile=sp, cod_amount=250) for _ in range(4)]
    page = _logged_in(chromium, live_server, "batches@example.test")
    page.goto(live_server.url + "/documents/batches/")
    page.click("[data-testid=form-batches]")
    page.wait_for_selector("[data-testid=batch-candidates]")
    for s in ships[:2]:
        page.check(f"input[name=ids][value='{s.pk}']")
    page.click("[data-testid=preview]")
    page.wait_for_selector("[data-testid=batch-plan]")
    assert page.locator("[data-testid=plan-row]").count() == 1
    assert page.locator("[data-testid=plan-count]").inner_text() == "2"
    assert "500" in page.locator("[data-testid=plan-row]").inner_text()  # COD 2 × 250
    assert not Batch.objects.exists()  # nothing before the confirmation
    page.click("[data-testid=confirm-batches]")
    page.wait_for_url(live_server.url + "/documents/batches/")
    batch = Batch.objects.get()
    assert batch.display_number in page.content()
    assert sorted(batch.entries.values_list("shipment_id", flat=True)) == sorted(
        s.pk for s in ships[:2])
    assert set(Shipment.objects.filter(pk__in=[s.pk for s in ships[2:]])
               .values_list("state", flat=True)) == {State.NUMBERED}
