"""Words and numbers as people read them: the label helper, the carriers' names, money,
numbers and dates in both languages; the menu marks the current page; notification settings
save as one form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone, translation

from shipdesk.carriers import names
from shipdesk.core import labels

NBSP = "\u00a0"


def _render(source: str, **context: Any) -> str:
    return Template("{% load words %}" + source).render(Context(context))


@pytest.mark.parametrize(("language", "expected"), [
    ("ru", f"1{NBSP}234,50{NBSP}₽"), ("en", f"1,234.50{NBSP}₽")])
def test_money_in_the_readers_format(language: str, expected: str) -> None:
    with translation.override(language):
        assert _render("{{ v|money }}", v=Decimal("1234.5")) == expected
        assert _render("{{ v|money }}", v=None) == ""


def test_numbers_grouped_by_thousands() -> None:
    with translation.override("ru"):
        assert _render("{{ v|number }}", v=1234567) == f"1{NBSP}234{NBSP}567"
    with translation.override("en"):
        assert _render("{{ v|number }}", v=1234567) == "1,234,567"


def test_dates_in_the_time_zone_and_order_of_the_reader() -> None:
    moment = dt.datetime(2026, 3, 1, 21, 30, tzinfo=dt.UTC)
    with timezone.override("Asia/Omsk"), translation.override("ru"):  # UTC+6
        assert _render("{{ v|when }}", v=moment) == "02.03.2026 03:30"
        assert _render("{{ v|day }}", v=moment) == "02.03.2026"
    with timezone.override("UTC"), translation.override("en"):
        assert _render('{{ v|when:"seconds" }}', v=moment) == "Mar 1, 2026 21:30:00"


def test_codes_become_words_in_both_languages() -> None:
    with translation.override("ru"):
        assert labels.label("shipment_state", "numbered") == "Номер присвоен"
        assert labels.label("audit_action", "demo.load") == "Загружены демо-данные"
        assert labels.label("audit_action", "sender.archive") == "Отправитель: archive"
        assert labels.label("channel", "email") == "E-mail"
        assert labels.label("carrier", "russian_post") == "Почта России"
        assert labels.label("app", "shipments") == "Отправления"
        assert names.service_name("POSTAL_PARCEL") == "Посылка нестандартная"
        assert names.service_name("136", carrier_code="cdek") == "Посылка склад-склад"
        assert names.service_name("999", carrier_code="cdek") == "Тариф 999"
        assert names.service_name("express", carrier_code="russian_post") == "Экспресс"
        assert names.service_name("NEW_THING") == "New thing"
        assert names.mail_category_name("WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY") == (
            "С объявленной ценностью и наложенным платежом")
        assert labels.audit_details(object_type="", data={"app": "shipments", "ok": True,
                                                          "empty": ""}) == (
            "раздел: Отправления; успешно: да")
    with translation.override("en"):
        assert labels.label("shipment_state", "cancelled") != "cancelled"


def test_a_carrier_is_named_by_its_account(make_org: Any) -> None:
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.shipments.models import Shipment

    org = make_org()
    account = CarrierAccount.objects.create(organization=org, carrier_code="cdek",
                                            name="СДЭК, договор 42", base_url="http://x")
    with_account = Shipment(organization=org, carrier_code="cdek", carrier_account=account)
    without = Shipment(organization=org, carrier_code="russian_post", service_code="BANDEROL")
    with translation.override("ru"):
        assert _render("{{ s|carrier }}", s=with_account) == "СДЭК, договор 42"
        assert _render("{{ s|carrier }} · {{ s|service }}", s=without) == (
            "Почта России · Бандероль")


@pytest.mark.django_db
def test_the_menu_marks_the_current_page_and_folds_the_settings(web: Client) -> None:
    page = web.get("/shipments/senders/").content.decode()
    assert 'href="/shipments/senders/" aria-current="page"' in page
    assert 'href="/shipments/" aria-current' not in page  # the longest match only
    assert 'class="nav-group current"' in page
    assert 'href="/shipments/" aria-current="page"' in web.get("/shipments/").content.decode()


@pytest.mark.django_db
def test_notification_settings_and_rules_save_as_one_form(web: Client, org: Any) -> None:
    from shipdesk.notifications.models import NotificationSettings, Rule

    page = web.get("/notifications/settings/").content.decode()
    assert page.count(">Сохранить</button>") == 1 + 5  # the form, and one per channel card
    assert 'name="rule-reminder-channel" value="sms"' in page
    answer = web.post("/notifications/settings/", {
        "action": "settings", "window_start": "08:00", "window_end": "22:00",
        "sms_segment_warn": "2", "sms_segment_limit": "4", "sms_gateway": "",
        "rule-reminder": "1", "rule-reminder-enabled": "on", "rule-reminder-channel": ["sms"],
        "rule-reminder-interval_days": "4",
        "rule-delivered": "1", "rule-delivered-channel": ["email", "sms"]})
    assert answer.status_code == 302
    reminder = Rule.objects.get(organization=org, kind="reminder")
    delivered = Rule.objects.get(organization=org, kind="delivered")
    assert (reminder.enabled, reminder.channels, reminder.interval_days) == (True, ["sms"], 4)
    assert (delivered.enabled, delivered.channels) == (False, ["email", "sms"])
    assert NotificationSettings.objects.get(organization=org).sms_segment_limit == 4


@pytest.mark.django_db
def test_a_bad_rule_saves_nothing_of_the_form(web: Client, org: Any) -> None:
    from shipdesk.notifications.models import NotificationSettings

    web.get("/notifications/settings/")
    before = NotificationSettings.objects.get(organization=org).sms_segment_limit
    answer = web.post("/notifications/settings/", {
        "action": "settings", "window_start": "08:00", "window_end": "22:00",
        "sms_segment_warn": "2", "sms_segment_limit": str(before + 1), "sms_gateway": "",
        "rule-reminder": "1", "rule-reminder-channel": ["pigeon"]}, follow=True)
    assert "Неизвестный канал" in answer.content.decode()
    assert NotificationSettings.objects.get(organization=org).sms_segment_limit == before
