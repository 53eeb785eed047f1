"""What the issue asks of the rules and bad input that the other files did not show: the
"delivered" thanks with the review link, an invalid e-mail (skipped with its reason, or
the SMS fallback), an SMS over the shop's part limit at sending time, unsubscribing from one
shop only, and an SMTP server that hangs."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
from django.test import Client

from shipdesk.notifications import services
from shipdesk.notifications.links import unsubscribe_link
from shipdesk.notifications.models import (
    ChannelConfig,
    Message,
    MessageStatus,
    NotificationSettings,
    Rule,
    Suppression,
    Template,
)
from shipdesk.notifications.tests.conftest import NOON, plan_and_send, sms_channel

pytestmark = pytest.mark.django_db


def test_delivered_parcel_gets_thanks_with_the_review_link(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    NotificationSettings.objects.filter(organization=org).update(
        review_url="https://romashka.test/otzyv")
    shipment = make_shipment(recipient_email="anna@example.test")
    status_change(shipment, "delivered")
    assert plan_and_send().sent == 1
    [mail] = inbox.messages
    assert mail["Subject"] == "Спасибо за покупку!"
    text = inbox.text_of(mail)
    assert f"Заказ {shipment.order_number} получен. Спасибо, что выбрали Ромашка!" in text
    assert "Оставьте, пожалуйста, отзыв: https://romashka.test/otzyv" in text


def test_invalid_email_is_skipped_with_its_reason_and_never_retried(
        web: Any, org: Any, notif_settings: Any, email_channel: Any, inbox: Any,
        make_shipment: Any, status_change: Any) -> None:
    Rule.objects.filter(organization=org, kind="accepted").update(channels=["email"],
                                                                 fallback=False)
    status_change(make_shipment(recipient_email="anna@@example"), "accepted")
    plan_and_send()
    row = Message.objects.get()
    assert row.status == MessageStatus.SKIPPED and row.due_at is None
    assert row.error == "неверный e-mail «anna@@example»"
    services.outbox_send_due(now=NOON + dt.timedelta(days=1))
    assert inbox.messages == []
    assert Message.objects.get().attempts == 0
    # the reason is on the outbox page
    assert "неверный e-mail «anna@@example»" in web.get("/notifications/?status=skipped") \
        .content.decode()


def test_sms_over_the_shops_part_limit_is_not_sent(
        org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    # saved when the limit was higher; the shop lowered it since
    Template.objects.create(organization=org, rule="accepted", channel="sms", subject="",
                            body="Заказ {{ order_number }} отправлен. " + "Очень важно. " * 30)
    NotificationSettings.objects.filter(organization=org).update(sms_segment_warn=2,
                                                                 sms_segment_limit=3)
    status_change(make_shipment(recipient_email=""), "accepted")
    plan_and_send()
    row = Message.objects.get()
    assert row.status == MessageStatus.FAILED and row.due_at is None
    assert row.segments == 7
    assert row.error == "SMS из 7 частей больше лимита магазина (3)"
    services.outbox_send_due(now=NOON + dt.timedelta(days=1))
    assert smsru.requests == 0


def test_unsubscribing_from_one_shop_leaves_the_other_shops_messages(
        org: Any, other_org: Any, notif_settings: Any, email_channel: Any, inbox: Any,
        make_shipment: Any, status_change: Any) -> None:
    services.settings_ensure(organization=other_org)
    ChannelConfig.objects.create(organization=other_org, gateway="smtp",
                                 config=dict(email_channel.config))
    link = unsubscribe_link(organization_id=org.pk, channel="email", address="anna@example.test")
    page = Client().post(httpx.URL(link).path)
    assert page.status_code == 200
    ours = make_shipment(recipient_email="Anna@Example.test")
    theirs = make_shipment(organization=other_org, recipient_email="anna@example.test")
    status_change(ours, "accepted")
    status_change(theirs, "accepted")
    plan_and_send()
    [mail] = inbox.messages
    assert f"Заказ {theirs.order_number} отправлен" == mail["Subject"]
    skipped = Message.objects.get(shipment=ours)
    assert skipped.status == MessageStatus.SKIPPED and "отписался" in skipped.error
    assert list(Suppression.objects.values_list("organization_id", "address")) == [
        (org.pk, "anna@example.test")]


def test_hanging_smtp_server_is_retried_later_as_the_same_message(
        org: Any, notif_settings: Any, inbox: Any, smtp_server: Any, make_shipment: Any,
        status_change: Any) -> None:
    ChannelConfig.objects.create(organization=org, gateway="smtp", config={
        "host": "127.0.0.1", "port": smtp_server[1], "from_email": "shop@romashka.test",
        "timeout": 1})

    async def hang() -> None:
        await asyncio.sleep(2)

    inbox.before_data = hang
    status_change(make_shipment(recipient_email="anna@example.test"), "accepted")
    stats = plan_and_send()
    assert (stats.sent, stats.retry) == (0, 1)
    row = Message.objects.get()
    # no answer: it may have arrived, so it is neither sent nor failed; tried again later
    assert row.status == MessageStatus.PENDING and row.due_at == NOON + dt.timedelta(minutes=1)
    assert "SMTP" in row.error
    inbox.before_data = None
    assert services.outbox_send_due(now=row.due_at).sent == 1
    row.refresh_from_db()
    assert row.status == MessageStatus.SENT
    # the hung session may still deliver its late copy: give it the time to
    asyncio.run(_wait_for(lambda: len(inbox.messages) == 2))
    # however many copies arrived, they are one message to the mailbox: one Message-ID
    assert inbox.messages
    assert {m["Message-ID"] for m in inbox.messages} == {f"<{row.provider_id}>"}


async def _wait_for(condition: Any, seconds: float = 4) -> None:
    for _ in range(int(seconds * 20)):
        if condition():
            return
        await asyncio.sleep(0.05)


def test_arrived_email_shows_the_office_address_hours_deadline_and_amount(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    from shipdesk.tracking.models import PickupOffice, TrackingState

    Rule.objects.filter(organization=org, kind="arrived").update(channels=["email", "sms"])
    PickupOffice.objects.create(carrier_code="russian_post", code="125009",
                                address="125009, Москва, ул. Тверская, 9",
                                work_hours="пн–пт 8:00–20:00, сб 9:00–18:00")
    shipment = make_shipment(recipient_email="anna@example.test", pickup_point_code="125009")
    TrackingState.objects.create(
        shipment=shipment, organization_id=org.pk, public_token="tok-arrived",
        status="arrived_at_pickup", carrier_code="russian_post", arrived_at_pickup_at=NOON,
        storage_deadline=dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC))
    status_change(shipment, "arrived_at_pickup")
    plan_and_send()
    [mail] = inbox.messages
    assert mail["Subject"] == f"Заказ {shipment.order_number} ждёт вас в пункте выдачи"
    text = inbox.text_of(mail)
    for line in ("Адрес: 125009, Москва, ул. Тверская, 9",
                 "Часы работы: пн–пт 8:00–20:00, сб 9:00–18:00",
                 "Срок хранения: до 30.11.2026", "К оплате при получении: 2 490 ₽",
                 f"Трек-номер: {shipment.tracking_number}, "
                 "http://127.0.0.1:8000/tracking/t/tok-arrived/"):
        assert line in text, line
    # reminders by default every 5 days while the deadline (30.11) is ahead, the last on its
    # eve (noon in Moscow): none after the date they name
    reminders = Message.objects.filter(rule="reminder").order_by("occurrence")
    assert [m.due_at for m in reminders] == [NOON + dt.timedelta(days=5),
                                             dt.datetime(2026, 11, 29, 9, 0, tzinfo=dt.UTC)]
