"""The pages «Отправители» and «Правила выбора перевозчика» as an owner uses them."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from playwright.sync_api import expect

from shipdesk.carriers.models import CarrierAccount
from shipdesk.shipments import delivery_rules, senders, services
from shipdesk.shipments.models import DeliveryRule, SenderProfile
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Membership, Role
from shipdesk.tenancy.services import Actor, system_actor

pytestmark = pytest.mark.django_db

SENDER = {"name": "Склад на Мясницкой", "phone": "8 495 123-45-67", "index": "101000",
          "city": "Москва", "street": "ул. Мясницкая", "house": "1"}


def account(org: Any, carrier_code: str = "cdek", name: str = "СДЭК (песочница)") -> CarrierAccount:
    return CarrierAccount.objects.create(organization=org, carrier_code=carrier_code, name=name,
                                         base_url="http://127.0.0.1:9", credentials={})


def text_of(html: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.decode()).split())


def test_navigation_links_both_pages(web: Client) -> None:
    html = web.get("/shipments/senders/").content.decode()
    assert 'href="/shipments/senders/"' in html and 'href="/shipments/delivery-rules/"' in html


def test_add_a_sender_and_see_it_listed_as_default(web: Client, actor: Actor) -> None:
    answer = web.post("/shipments/senders/new/", SENDER)
    assert answer.status_code == 302 and answer["Location"] == "/shipments/senders/"
    page = text_of(web.get("/shipments/senders/").content)
    assert "Склад на Мясницкой по умолчанию" in page
    assert "101000, Москва, Москва, ул. Мясницкая, 1" in page
    assert "+74951234567" in page


def test_sender_form_shows_errors_beside_fields(web: Client) -> None:
    answer = web.post("/shipments/senders/new/", {**SENDER, "index": "1010", "phone": "12"})
    assert answer.status_code == 422
    html = answer.content.decode()
    assert 'id="id_index_errors"' in html and "Индекс «1010»: нужно ровно 6 цифр" in html
    assert 'id="id_phone_errors"' in html
    assert not SenderProfile.objects.exists()


def test_edit_make_default_and_delete_a_sender(web: Client, actor: Actor) -> None:
    first = senders.sender_create(actor=actor, **SENDER)
    second = senders.sender_create(actor=actor, **{**SENDER, "name": "Второй"})
    answer = web.post(f"/shipments/senders/{second.pk}/", {**SENDER, "name": "Второй",
                                                           "drop_off_point": "101700"})
    assert answer.status_code == 302
    web.post(f"/shipments/senders/{second.pk}/default/")
    page = text_of(web.get("/shipments/senders/").content)
    assert "Второй по умолчанию" in page and "101700" in page
    asked = web.post(f"/shipments/senders/{first.pk}/delete/")  # the question first
    assert "confirmed" in asked.content.decode() and SenderProfile.objects.count() == 2
    web.post(f"/shipments/senders/{first.pk}/delete/", {"confirmed": "1"})
    assert list(SenderProfile.objects.values_list("name", flat=True)) == ["Второй"]


def test_deleting_a_used_sender_explains_why_not(web: Client, actor: Actor) -> None:
    sender = senders.sender_create(actor=actor, **SENDER)
    services.shipment_create(actor=actor, data=shipment_data(sender_id=sender.pk), draft=True)
    page = web.post(f"/shipments/senders/{sender.pk}/delete/", {"confirmed": "1"}, follow=True)
    assert "удалить его нельзя" in page.content.decode()
    assert SenderProfile.objects.filter(pk=sender.pk).exists()


def test_add_a_rule_and_see_it_in_plain_words(web: Client, org: Any) -> None:
    cdek = account(org)
    form = web.get("/shipments/delivery-rules/new/").content.decode()
    assert "СДЭК (песочница)" in form
    answer = web.post("/shipments/delivery-rules/new/", {
        "name": "Столицы", "index_prefixes": "101, 190", "max_weight_g": "2000", "cod": "with",
        "delivery": "", "destination": "", "carrier_account_id": str(cdek.pk),
        "service_code": "136", "is_active": "on"})
    assert answer.status_code == 302, answer.content.decode()
    page = text_of(web.get("/shipments/delivery-rules/").content)
    assert "Индексы 101, 190; вес до 2 кг; с НП → СДЭК (песочница), Посылка склад-склад" in page


def test_rule_form_shows_errors_beside_fields(web: Client, org: Any) -> None:
    post_ = account(org, "russian_post", "Почта России")
    answer = web.post("/shipments/delivery-rules/new/", {
        "name": "x", "index_prefixes": "10a", "min_weight_g": "5", "max_weight_g": "1",
        "carrier_account_id": str(post_.pk), "service_code": "136"})
    assert answer.status_code == 422
    html = answer.content.decode()
    assert 'id="id_index_prefixes_errors"' in html
    assert "«10a» — не начало индекса: от 1 до 6 цифр" in html
    assert 'id="id_max_weight_g_errors"' in html and 'id="id_service_code_errors"' in html
    assert not DeliveryRule.objects.exists()


def test_move_rules_up_and_down_with_htmx(web: Client, actor: Actor, org: Any) -> None:
    cdek = account(org)
    made = [delivery_rules.delivery_rule_create(actor=actor, name=name,
                                                carrier_account_id=cdek.pk) for name in "ABC"]
    answer = web.post(f"/shipments/delivery-rules/{made[2].pk}/move/", {"direction": "up"},
                      headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert "<html" not in answer.content.decode()  # the table only
    assert re.findall(r'data-rule="(\d+)"', answer.content.decode()) == [
        str(made[0].pk), str(made[2].pk), str(made[1].pk)]
    web.post(f"/shipments/delivery-rules/{made[0].pk}/move/", {"direction": "down"})
    web.post(f"/shipments/delivery-rules/{made[1].pk}/delete/", {"confirmed": "1"})
    assert [(r.position, r.name) for r in delivery_rules.delivery_rule_list(actor=actor)] == [
        (1, "C"), (2, "A")]


def test_another_organizations_objects_are_404(web: Client, org: Any, other_org: Any) -> None:
    alien_sender = senders.sender_create(actor=system_actor(other_org), **SENDER)
    alien_account = account(other_org)
    alien_rule = delivery_rules.delivery_rule_create(
        actor=system_actor(other_org), name="Чужое", carrier_account_id=alien_account.pk)
    assert web.get(f"/shipments/senders/{alien_sender.pk}/").status_code == 404
    assert web.post(f"/shipments/senders/{alien_sender.pk}/default/").status_code == 404
    assert web.post(f"/shipments/senders/{alien_sender.pk}/delete/").status_code == 404
    assert web.get(f"/shipments/delivery-rules/{alien_rule.pk}/").status_code == 404
    assert web.post(f"/shipments/delivery-rules/{alien_rule.pk}/move/").status_code == 404
    assert web.post(f"/shipments/delivery-rules/{alien_rule.pk}/delete/").status_code == 404
    # another organization's account offered by id in a form is refused, not used
    answer = web.post("/shipments/delivery-rules/new/", {
        "name": "x", "carrier_account_id": str(alien_account.pk)})
    assert answer.status_code == 422 and not DeliveryRule.objects.filter(organization=org).exists()
    assert "СДЭК (песочница)" not in web.get("/shipments/delivery-rules/new/").content.decode()
    assert SenderProfile.objects.filter(pk=alien_sender.pk).exists()
    assert DeliveryRule.objects.filter(pk=alien_rule.pk).exists()


def test_an_operator_sees_the_lists_without_edit_controls(org: Any, actor: Actor,
                                                          make_user: Any) -> None:
    senders.sender_create(actor=actor, **SENDER)
    user = make_user()
    Membership.objects.create(user=user, organization=org, role=Role.OPERATOR)
    client = Client()
    client.force_login(user)
    html = client.get("/shipments/senders/").content.decode()
    assert "Склад на Мясницкой" in html and "Добавить отправителя" not in html
    refused = client.post("/shipments/senders/new/", {**SENDER, "name": "Ещё"})
    assert refused.status_code == 403
    assert SenderProfile.objects.count() == 1


# --- in Chromium -----------------------------------------------------------------------------

PASSWORD = "Brauzer-Test-2024"


@pytest.mark.browser
def test_add_sender_and_rule_through_the_pages(transactional_db: Any, live_server: Any,
                                               chromium: Any) -> None:
    user = tenancy.user_create(email="senders@example.test", password=PASSWORD)
    org = tenancy.organization_create(owner=user, name="Ромашка")
    cdek = account(org)
    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(15_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "senders@example.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".mainnav")

    page.hover(".mainnav [data-group=settings] > button")  # the settings fold into «Настройки»
    page.click(".mainnav >> text=Отправители")
    page.click("text=Добавить отправителя")
    for field, value in SENDER.items():
        page.fill(f"#id_{field}", value)
    page.click("button[type=submit].primary")
    page.wait_for_selector("#senders")
    row = page.locator("#senders tbody tr").first
    assert "Склад на Мясницкой" in row.inner_text() and "по умолчанию" in row.inner_text()

    page.hover(".mainnav [data-group=settings] > button")
    page.click(".mainnav >> text=Правила выбора перевозчика")
    page.click("text=Добавить правило")
    page.fill("#id_name", "Столицы")
    page.fill("#id_index_prefixes", "101, 190")
    page.fill("#id_max_weight_g", "2000")
    page.select_option("#id_cod", "with")
    page.select_option("#id_carrier_account_id", str(cdek.pk))
    page.select_option("#id_service_code", "136")  # «Посылка склад-склад»
    page.click("button[type=submit].primary")
    page.wait_for_selector(".rule-text")
    assert page.locator(".rule-text").all_inner_texts() == [
        "Индексы 101, 190; вес до 2 кг; с НП → СДЭК (песочница), Посылка склад-склад"]

    # a second rule, moved above the first with the «↑» button (htmx swaps the table)
    page.click("text=Добавить правило")
    page.fill("#id_name", "Остальное")
    page.select_option("#id_carrier_account_id", str(cdek.pk))
    page.click("button[type=submit].primary")
    page.wait_for_selector("tr[data-rule] >> nth=1")
    page.locator("tr[data-rule]").nth(1).locator("button[aria-label='Выше']").click()
    # a locator assertion, not wait_for_function: the page's CSP allows no eval
    expect(page.locator("tr[data-rule] td:nth-child(2)").first).to_contain_text("Остальное")
    assert page.locator(".rule-text").all_inner_texts() == [
        "Все отправления → СДЭК (песочница)",
        "Индексы 101, 190; вес до 2 кг; с НП → СДЭК (песочница), Посылка склад-склад"]
    assert list(DeliveryRule.objects.order_by("position").values_list("name", flat=True)) == [
        "Остальное", "Столицы"]
