"""The default texts a new shop gets (issue 22, 4): the shop is named, the SMS fit one part
where they can and two at most with long real values, ``{{ days_left }}`` agrees its
numerals, and the editor's counter says «153 символа»."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.notifications import rendering, services
from shipdesk.notifications.context import ParcelFacts, message_context
from shipdesk.notifications.defaults import DEFAULT_TEMPLATES
from shipdesk.notifications.models import Channel, RuleKind

pytestmark = pytest.mark.django_db

# the deadline is counted on the office's calendar (Novosibirsk, UTC+7): 30.11 is 14 days
# ahead of this moment there
NOW = dt.datetime(2026, 11, 16, 5, 0, tzinfo=dt.UTC)
LONG_ADDRESS = "630099, Новосибирск, ул. Советская, д. 33"


@pytest.fixture
def long_context(org: Any, make_shipment: Any, settings: Any) -> dict[str, str]:
    settings.PUBLIC_URL = "https://dostavka.example.ru"
    org.name = "Торговый дом Ромашка"
    org.save()
    shipment = make_shipment(order_number="ORD-2026-104233", index="630099",
                             tracking_number="80082345678901", cod_amount=Decimal("12490.50"))
    facts = ParcelFacts(status="arrived_at_pickup", pickup_address=LONG_ADDRESS,
                        pickup_hours="пн–пт 8:00–20:00, сб 9:00–18:00",
                        storage_deadline=dt.date(2026, 11, 30))
    return message_context(shipment=shipment, organization=org, facts=facts, channel="sms",
                           address="79001234567", now=NOW)


@pytest.mark.parametrize(("rule", "parts"), [
    (RuleKind.ACCEPTED, 2),  # with the short unsubscribe link
    (RuleKind.ARRIVED, 2), (RuleKind.REMINDER, 2),
    (RuleKind.DELIVERED, 1), (RuleKind.RETURNING, 1)])
def test_default_sms_with_long_real_values_fits_its_parts(long_context: dict[str, str],
                                                          rule: str, parts: int) -> None:
    text = rendering.render(DEFAULT_TEMPLATES[(rule, Channel.SMS)][1], long_context)
    length = rendering.sms_length(text)
    assert (length.encoding, length.segments) == ("UCS-2", parts), (length, text)
    if rule != RuleKind.RETURNING:  # that one goes to the shop's own staff
        assert text.startswith("Торговый дом Ромашка: заказ ORD-2026-104233 "), text


def test_default_arrived_and_reminder_sms_read_right(long_context: dict[str, str]) -> None:
    arrived = rendering.render(DEFAULT_TEMPLATES[(RuleKind.ARRIVED, Channel.SMS)][1],
                               long_context)
    assert arrived == ("Торговый дом Ромашка: заказ ORD-2026-104233 ждёт до 30.11.2026: "
                       f"{LONG_ADDRESS}. К оплате 12 490,50 ₽.")
    reminder = rendering.render(DEFAULT_TEMPLATES[(RuleKind.REMINDER, Channel.SMS)][1],
                                long_context)
    assert reminder == ("Торговый дом Ромашка: заказ ORD-2026-104233 ждёт до 30.11.2026, "
                        f"осталось 14 дней: {LONG_ADDRESS}")
    accepted = rendering.render(DEFAULT_TEMPLATES[(RuleKind.ACCEPTED, Channel.SMS)][1],
                                long_context)
    assert re.fullmatch(r"Торговый дом Ромашка: заказ ORD-2026-104233 отправлен, трек "
                        r"80082345678901\. Отписка: https://dostavka\.example\.ru/u/"
                        r"[A-Za-z0-9_-]{12}", accepted), accepted


def test_reminder_email_names_the_hours_and_the_days_left(long_context: dict[str, str]) -> None:
    body = rendering.render(DEFAULT_TEMPLATES[(RuleKind.REMINDER, Channel.EMAIL)][1],
                            long_context)
    assert "Часы работы: пн–пт 8:00–20:00, сб 9:00–18:00" in body
    assert "Заберите его до 30.11.2026 (осталось 14 дней)" in body
    assert "Торговый дом Ромашка" in body


@pytest.mark.parametrize(("days", "text"), [
    (1, "остался 1 день"), (2, "осталось 2 дня"), (4, "осталось 4 дня"), (5, "осталось 5 дней"),
    (11, "осталось 11 дней"), (12, "осталось 12 дней"), (14, "осталось 14 дней"),
    (21, "остался 21 день"), (22, "осталось 22 дня"), (25, "осталось 25 дней"),
    (101, "остался 101 день"), (111, "осталось 111 дней"), (0, "сегодня последний день"),
    (-1, ""), (None, "")])
def test_days_left_agrees_its_numerals(days: int | None, text: str) -> None:
    assert rendering.days_left_text(days) == text


def test_days_left_is_counted_on_the_offices_calendar(org: Any, make_shipment: Any) -> None:
    # 21:30 UTC on 29.11 is already 30.11 in Vladivostok: the deadline's own day there
    shipment = make_shipment(index="690001")
    facts = ParcelFacts(storage_deadline=dt.date(2026, 11, 30))
    ctx = message_context(shipment=shipment, organization=org, facts=facts, channel="email",
                          address="", now=dt.datetime(2026, 11, 29, 21, 30, tzinfo=dt.UTC))
    assert ctx["days_left"] == "сегодня последний день"


@pytest.mark.parametrize(("units", "text"), [
    (1, "1 символ"), (3, "3 символа"), (5, "5 символов"), (11, "11 символов"),
    (21, "21 символ"), (44, "44 символа"), (153, "153 символа"), (160, "160 символов")])
def test_segment_counter_agrees_its_numerals(units: int, text: str) -> None:
    length = rendering.sms_length("я" * units)
    assert rendering.sms_length_text(length).startswith(text + ", ")


def test_days_left_macro_is_accepted_and_previewed_with_its_counter(actor: Any, web: Any) -> None:
    body = "Заказ {{ order_number }} ждёт, {{ days_left }}. {{ shop_name }}"
    services.template_save(actor=actor, rule=RuleKind.REMINDER, channel=Channel.SMS,
                           subject="", body=body)
    preview = services.template_preview(actor=actor, channel=Channel.SMS, subject="", body=body)
    assert preview.body == "Заказ A-10042 ждёт, осталось 5 дней. Ромашка"
    assert preview.sms is not None and preview.sms["text"] == "44 символа, 1 SMS (UCS-2)"
    page = web.post("/notifications/templates/reminder/sms/",
                    {"subject": "", "body": body, "action": "preview"})
    assert "44 символа, 1 SMS (UCS-2)" in page.content.decode()
