from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import httpx
import pytest
from django.test import Client

from shipdesk.notifications import selectors, services
from shipdesk.notifications.models import Message, MessageStatus, Rule, Suppression
from shipdesk.notifications.tests.conftest import NOON, plan_and_send, sms_channel

pytestmark = pytest.mark.django_db


def tracking_state(shipment: Any, status: str, token: str, **fields: Any) -> Any:
    from shipdesk.tracking.models import TrackingState

    return TrackingState.objects.create(shipment=shipment,
                                        organization_id=shipment.organization_id,
                                        public_token=token, status=status, **fields)


def test_accepted_parcel_email_arrives_on_the_smtp_server_with_its_text(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    shipment = make_shipment(recipient_email="anna@example.test")
    tracking_state(shipment, "accepted", token="tok-anna")
    status_change(shipment, "accepted")
    stats = plan_and_send()
    assert stats.sent == 1
    [mail] = inbox.messages
    assert mail["To"] == "anna@example.test"
    assert mail["Subject"] == f"Заказ {shipment.order_number} отправлен"
    text = inbox.text_of(mail)
    assert "Здравствуйте, Анна!" in text
    assert shipment.tracking_number in text
    assert "Следить за посылкой: http://127.0.0.1:8000/tracking/t/tok-anna/" in text
    assert "Ромашка" in text
    link = re.search(r"Отписаться от уведомлений: (\S+)", text)
    assert link is not None and "/notifications/u/" in link.group(1)
    assert str(mail["List-Unsubscribe"]).strip() == f"<{link.group(1)}>"
    row = Message.objects.get()
    assert row.status == MessageStatus.SENT and row.sent_at == NOON


def test_duplicate_events_and_repeated_runs_send_one_message(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    shipment = make_shipment()
    status_change(shipment, "accepted")
    status_change(shipment, "accepted")  # the same event delivered twice
    plan_and_send()
    services.outbox_plan(changes=list(shipment.status_changes.all()), now=NOON)  # replayed
    plan_and_send()
    services.outbox_send_due(now=NOON + dt.timedelta(hours=1))
    assert len(inbox.messages) == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize("email", ["", "anna at example.test"])  # none, or not an address
def test_no_usable_email_falls_back_to_sms_on_sms_ru(
        email: str, org: Any, notif_settings: Any, email_channel: Any, smsru: Any, inbox: Any,
        make_shipment: Any, status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    shipment = make_shipment(recipient_email=email)
    status_change(shipment, "accepted")
    assert plan_and_send().sent == 1
    assert inbox.messages == []
    [sms] = smsru.messages
    assert sms["phone"] == "79001234567"
    assert sms["sender"] == "Romashka"
    assert sms["text"].startswith(f"Ромашка: заказ {shipment.order_number} отправлен, трек "
                                  f"{shipment.tracking_number}")
    assert Message.objects.get().channel == "sms"


@pytest.mark.parametrize("gateway", ["smsru", "smsc", "smsaero"])
def test_arrived_sms_on_each_gateway_then_delivery_report(
        gateway: str, request: Any, org: Any, notif_settings: Any, make_shipment: Any,
        status_change: Any) -> None:
    from shipdesk.tracking.models import PickupOffice

    emu = request.getfixturevalue(gateway)
    sms_channel(org, gateway, emu)
    PickupOffice.objects.create(carrier_code="russian_post", code="125009",
                                address="125009, Москва, ул. Тверская, 9")
    shipment = make_shipment(pickup_point_code="125009", carrier_code="russian_post")
    tracking_state(shipment, "arrived_at_pickup", token=f"tok-{gateway}",
                   carrier_code="russian_post", arrived_at_pickup_at=NOON)
    status_change(shipment, "arrived_at_pickup")
    stats = plan_and_send()
    assert stats.sent == 1, Message.objects.values_list("status", "error")
    [sms] = emu.messages
    assert sms["phone"] == "79001234567"
    assert f"Ромашка: заказ {shipment.order_number} ждёт: 125009, Москва, ул. Тверская, 9." \
        in sms["text"]
    assert "К оплате 2 490 ₽" in sms["text"]
    row = Message.objects.get(rule="arrived")
    assert row.status == MessageStatus.SENT and row.provider_id
    assert row.segments == emu.messages[0]["segments"]
    assert services.outbox_poll_delivery(now=NOON + dt.timedelta(minutes=5)) == 1
    row.refresh_from_db()
    assert row.status == MessageStatus.DELIVERED
    assert row.cost == emu.messages[0]["cost"]


def test_undelivered_report_is_recorded(org: Any, notif_settings: Any, smsru: Any,
                                        make_shipment: Any, status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    smsru.delivery = "failed"
    status_change(make_shipment(recipient_email=""), "accepted")
    plan_and_send()
    services.outbox_poll_delivery(now=NOON)
    row = Message.objects.get()
    assert row.status == MessageStatus.UNDELIVERED and "сбой в телефоне" in row.error


def test_sms_ru_message_not_found_ends_polling(org: Any, notif_settings: Any, smsru: Any,
                                               make_shipment: Any, status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    status_change(make_shipment(recipient_email=""), "accepted")
    plan_and_send()
    row = Message.objects.get()
    with smsru.lock:  # sms.ru no longer knows it: its status answers -1
        del smsru.by_id[row.provider_id]
    services.outbox_poll_delivery(now=NOON + dt.timedelta(minutes=5))
    row.refresh_from_db()
    assert row.status == MessageStatus.SENT  # it was accepted; nothing more will be known
    assert "Сообщение не найдено" in row.error and "больше не запрашиваем" in row.error
    asked = smsru.requests
    for minutes in (10, 60, 600):
        services.outbox_poll_delivery(now=NOON + dt.timedelta(minutes=minutes))
    assert smsru.requests == asked


def test_webhook_channel_posts_signed_json(org: Any, notif_settings: Any,
                                           webhook_receiver: Any, make_shipment: Any,
                                           status_change: Any) -> None:
    import hashlib
    import hmac

    from shipdesk.notifications.models import ChannelConfig

    ChannelConfig.objects.create(organization=org, gateway="webhook",
                                 config={"url": webhook_receiver.base_url + "/hook",
                                         "secret": "s3"})
    Rule.objects.filter(organization=org, kind="accepted").update(channels=["webhook"])
    shipment = make_shipment()
    status_change(shipment, "accepted")
    assert plan_and_send().sent == 1
    [msg] = webhook_receiver.messages
    assert shipment.order_number in msg["text"]
    expected = hmac.new(b"s3", msg["raw"], hashlib.sha256).hexdigest()
    assert msg["signature"] == f"sha256={expected}"


def test_invalid_phone_is_skipped_with_reason_and_never_retried(
        org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    status_change(make_shipment(recipient_email="", recipient_phone="12345"), "accepted")
    plan_and_send()
    row = Message.objects.get()
    assert row.status == MessageStatus.SKIPPED
    assert "неверный телефон «12345»" in row.error
    assert row.due_at is None
    services.outbox_send_due(now=NOON + dt.timedelta(days=1))
    assert smsru.requests == 0


def test_email_refused_by_server_fails_once_with_reason(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    status_change(make_shipment(recipient_email="nobody@rejected.test"), "accepted")
    plan_and_send()
    row = Message.objects.get()
    assert row.status == MessageStatus.FAILED and "отклонён" in row.error
    assert row.due_at is None


def test_gateway_error_is_retried_with_backoff_then_reported(
        actor: Any, org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    smsru.mode = "error"
    status_change(make_shipment(recipient_email=""), "accepted")
    services.outbox_plan_from_feed(now=NOON)
    now = NOON
    delays = []
    for _ in range(services.MAX_ATTEMPTS):
        services.outbox_send_due(now=now)
        row = Message.objects.get()
        if row.status != MessageStatus.PENDING:
            break
        delays.append(row.due_at - now)
        now = row.due_at
    assert delays == [dt.timedelta(minutes=m) for m in (1, 2, 4, 8)]
    row = Message.objects.get()
    assert row.status == MessageStatus.FAILED
    assert row.attempts == services.MAX_ATTEMPTS and "220" in row.error
    assert smsru.messages == []
    # reported: counted as failed in the report, and never tried again
    [line] = selectors.notifications_report(actor=actor)["by_rule"]
    assert (line["rule"], line["channel"], line["failed"], line["sent"]) == ("accepted", "sms",
                                                                            1, 0)
    services.outbox_send_due(now=now + dt.timedelta(days=1))
    assert Message.objects.get().attempts == services.MAX_ATTEMPTS


def test_hanging_sms_ru_times_out_and_is_not_repeated(
        org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    # sms.ru cannot be asked what it accepted, and a repeat would be a second SMS
    sms_channel(org, "smsru", smsru, timeout=0.5)
    smsru.mode, smsru.hang_seconds = "hang", 2
    status_change(make_shipment(recipient_email=""), "accepted")
    plan_and_send()
    row = Message.objects.get()
    assert row.status == MessageStatus.UNKNOWN
    assert "не ответил" in row.error
    services.outbox_send_due(now=NOON + dt.timedelta(hours=1))
    assert Message.objects.get().status == MessageStatus.UNKNOWN


@pytest.mark.parametrize("gateway", ["smsaero", "smsc"])
def test_hanging_gateway_is_asked_later_and_the_message_counts_once(
        gateway: str, org: Any, notif_settings: Any, smsaero: Any, smsc: Any,
        make_shipment: Any, status_change: Any) -> None:
    import time

    emu = {"smsaero": smsaero, "smsc": smsc}[gateway]
    emu.clock = NOON.timestamp
    sms_channel(org, gateway, emu, timeout=0.5)
    emu.mode, emu.hang_seconds = "hang", 1.0
    status_change(make_shipment(recipient_email=""), "accepted")
    plan_and_send()
    row = Message.objects.get()
    # no answer: neither sent nor refused — held for recovery to ask the gateway
    assert row.status == MessageStatus.SENDING and "не ответил" in row.error
    time.sleep(1.2)  # the gateway finished the held request: it has the message
    assert len(emu.messages) == 1
    emu.mode = None
    stats = services.outbox_send_due(now=NOON + dt.timedelta(minutes=2))
    row = Message.objects.get()
    assert stats.recovered == 1 and row.status == MessageStatus.SENT, row.error
    assert row.provider_id and row.sent_at == NOON
    assert len(emu.messages) == 1


@pytest.mark.parametrize("gateway", ["smsaero", "smsc"])
def test_interrupted_attempt_the_gateway_never_got_is_sent_after_asking(
        gateway: str, org: Any, notif_settings: Any, smsaero: Any, smsc: Any,
        make_shipment: Any, status_change: Any) -> None:
    emu = {"smsaero": smsaero, "smsc": smsc}[gateway]
    emu.clock = NOON.timestamp
    sms_channel(org, gateway, emu)
    status_change(make_shipment(recipient_email=""), "accepted")
    services.outbox_plan_from_feed(now=NOON)
    # a worker wrote the attempt and died before the gateway answered (request lost)
    Message.objects.update(status=MessageStatus.SENDING, lease_until=NOON,
                           attempt_at=NOON, body="Заказ отправлен")
    emu.mode = "error"  # cannot ask now: nothing is decided, nothing is sent
    services.outbox_send_due(now=NOON + dt.timedelta(minutes=6))
    row = Message.objects.get()
    assert row.status == MessageStatus.SENDING and emu.messages == []
    emu.mode = None
    services.outbox_send_due(now=NOON + dt.timedelta(minutes=8))
    row = Message.objects.get()
    assert row.status == MessageStatus.SENT
    assert len(emu.messages) == 1 and emu.messages[0]["text"].startswith("Ромашка: заказ A-")


def test_a_gateway_that_cannot_be_asked_for_a_day_leaves_the_message_to_a_person(
        org: Any, notif_settings: Any, smsc: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsc", smsc)
    status_change(make_shipment(recipient_email=""), "accepted")
    services.outbox_plan_from_feed(now=NOON)
    Message.objects.update(status=MessageStatus.SENDING, lease_until=NOON, attempt_at=NOON,
                           body="Заказ отправлен")
    smsc.mode = "error"
    services.outbox_send_due(now=NOON + dt.timedelta(hours=23))
    assert Message.objects.get().status == MessageStatus.SENDING
    services.outbox_send_due(now=NOON + dt.timedelta(hours=25))
    row = Message.objects.get()
    assert row.status == MessageStatus.UNKNOWN and "сутки" in row.error
    assert smsc.messages == []


def test_sms_aero_lookup_ignores_the_same_text_sent_before_this_attempt(
        org: Any, notif_settings: Any, smsaero: Any) -> None:
    from shipdesk.notifications.gateways import Outgoing, get_gateway

    smsaero.clock = lambda: (NOON - dt.timedelta(days=5)).timestamp()
    gw = get_gateway("smsaero", {"base_url": smsaero.base_url, "email": smsaero.email,
                                 "api_key": smsaero.api_key})
    m = Outgoing(key=1, to="79001234567", text="Напоминаем: заказ ждёт вас", attempt_id="a")
    [sent] = gw.send_many([m])  # the first reminder, five days ago
    assert gw.lookup([m], NOON) == {1: None}
    smsaero.clock = NOON.timestamp
    [again] = gw.send_many([m])
    assert gw.lookup([m], NOON) == {1: again.provider_id} != {1: sent.provider_id}


def test_smsc_repeated_id_is_a_second_message_so_recovery_asks_instead(smsc: Any) -> None:
    # SMSC documents the client id as "not necessarily unique": never rely on it to dedupe
    from shipdesk.notifications.gateways import Outgoing, get_gateway

    gw = get_gateway("smsc", {"base_url": smsc.base_url, "login": smsc.login,
                              "password": smsc.password})
    m = Outgoing(key=7, to="79001234567", text="Текст", attempt_id=str(uuid.uuid4()))
    assert gw.lookup([m], NOON) == {7: None}
    gw.send_many([m])
    gw.send_many([m])
    assert len(smsc.messages) == 2
    assert gw.lookup([m], NOON) == {7: m.attempt_id.replace("-", "")}


def test_message_due_at_night_goes_in_the_morning_local_time(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    night = dt.datetime(2026, 11, 23, 18, 0, tzinfo=dt.UTC)  # 21:00 Moscow, 01:00 Novosibirsk
    status_change(make_shipment(index="630001"), "accepted", at=night)
    services.outbox_plan_from_feed(now=night)
    row = Message.objects.get()
    assert row.due_at == dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # 09:00 +07
    services.outbox_send_due(now=night + dt.timedelta(hours=2))
    assert inbox.messages == []
    services.outbox_send_due(now=row.due_at)
    assert len(inbox.messages) == 1


@pytest.mark.parametrize("end", ["delivered", "returning"])
def test_reminders_every_n_days_until_pickup_or_return(
        end: str, org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    Rule.objects.filter(organization=org, kind="reminder").update(interval_days=4,
                                                                  max_reminders=3)
    shipment = make_shipment(recipient_email="")
    status_change(shipment, "arrived_at_pickup")
    services.outbox_plan_from_feed(now=NOON)
    reminders = Message.objects.filter(rule="reminder").order_by("occurrence")
    assert [(m.occurrence, m.due_at) for m in reminders] == [
        (k, NOON + dt.timedelta(days=4 * k)) for k in (1, 2, 3)]
    services.outbox_send_due(now=NOON + dt.timedelta(days=4))
    # the arrival, then the first reminder (the deadline is unknown here: no days left)
    assert [m["text"][:20] for m in smsru.messages] == ["Ромашка: заказ A-000"] * 2
    assert Message.objects.get(rule="reminder", occurrence=1).status == MessageStatus.SENT
    status_change(shipment, end, at=NOON + dt.timedelta(days=5))
    services.outbox_plan_from_feed(now=NOON + dt.timedelta(days=5))
    services.outbox_send_due(now=NOON + dt.timedelta(days=12))
    second = Message.objects.get(rule="reminder", occurrence=2)
    assert second.status == MessageStatus.SKIPPED and "Неактуально" in second.error
    assert Message.objects.filter(rule="reminder", status=MessageStatus.SENT).count() == 1


def test_returning_parcel_notifies_shop_staff(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    notif_settings.staff_email = "staff@romashka.test"
    notif_settings.save()
    shipment = make_shipment()
    status_change(shipment, "returning")
    plan_and_send()
    [mail] = inbox.messages
    assert mail["To"] == "staff@romashka.test"
    assert f"Возврат: заказ {shipment.order_number}" == mail["Subject"]
    assert "Возвращается отправителю" in inbox.text_of(mail)


def test_disabled_rule_sends_nothing(org: Any, notif_settings: Any, email_channel: Any,
                                     inbox: Any, make_shipment: Any,
                                     status_change: Any) -> None:
    Rule.objects.filter(organization=org, kind="accepted").update(enabled=False)
    status_change(make_shipment(), "accepted")
    plan_and_send()
    assert inbox.messages == [] and Message.objects.count() == 0


def test_unsubscribe_link_switches_recipient_off_from_the_next_message(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    shipment = make_shipment(recipient_email="anna@example.test")
    status_change(shipment, "accepted")
    plan_and_send()
    link = re.search(r"Отписаться от уведомлений: (\S+)", inbox.text_of(inbox.messages[0]))
    assert link is not None
    path = httpx.URL(link.group(1)).path
    page = Client().post(path)  # what the link's page posts (test_unsubscribe.py: browser)
    assert page.status_code == 200
    assert "anna@example.test" in page.content.decode() and "Ромашка" in page.content.decode()
    assert Suppression.objects.filter(organization=org, address="anna@example.test").exists()
    status_change(shipment, "arrived_at_pickup")
    Rule.objects.filter(organization=org, kind="arrived").update(channels=["email"])
    plan_and_send()
    assert len(inbox.messages) == 1
    row = Message.objects.get(rule="arrived")
    assert row.status == MessageStatus.SKIPPED and "отписался" in row.error


def test_tampered_unsubscribe_link_shows_a_clear_error(org: Any) -> None:
    from shipdesk.notifications.links import unsubscribe_token

    token = unsubscribe_token(organization_id=org.pk, channel="email", address="a@example.test")
    value, sig = token.rsplit(":", 1)
    forged = value[:-2] + ("AA" if value[-2:] != "AA" else "BB") + ":" + sig
    page = Client().get(f"/notifications/u/{forged}/")
    assert page.status_code == 400
    assert "Ссылка для отписки повреждена" in page.content.decode()
    assert not Suppression.objects.exists()


def test_staff_can_switch_a_recipient_off_through_the_api(
        api: Any, org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    resp = api.post("/api/v1/notifications/suppressions/",
                    data={"channel": "sms", "address": "+7 900 123-45-67"},
                    content_type="application/json")
    assert resp.status_code == 201, resp.content
    listed = api.get("/api/v1/notifications/suppressions/").json()
    assert [(s["address"], s["source"]) for s in listed] == [("79001234567", "staff")]
    status_change(make_shipment(recipient_email=""), "accepted")
    plan_and_send()
    assert smsru.messages == []
    assert Message.objects.get().status == MessageStatus.SKIPPED


def test_template_edit_is_used_for_the_next_message(
        actor: Any, org: Any, notif_settings: Any, smsc: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsc", smsc)
    services.template_save(actor=actor, rule="accepted", channel="sms", subject="",
                           body="{{ shop_name|upper }}: заказ {{ order_number }} в пути")
    shipment = make_shipment(recipient_email="")
    status_change(shipment, "accepted")
    plan_and_send()
    assert smsc.messages[0]["text"] == f"РОМАШКА: заказ {shipment.order_number} в пути"


def test_outbox_api_is_scoped_to_the_organization(
        api: Any, other_api: Any, org: Any, notif_settings: Any, email_channel: Any,
        inbox: Any, make_shipment: Any, status_change: Any) -> None:
    status_change(make_shipment(), "accepted")
    plan_and_send()
    mine = api.get("/api/v1/notifications/outbox/").json()
    assert len(mine["items"]) == 1 and mine["items"][0]["status"] == "sent"
    assert other_api.get("/api/v1/notifications/outbox/").json()["items"] == []
    msg_id = mine["items"][0]["id"]
    assert other_api.get(f"/api/v1/notifications/outbox/{msg_id}/").status_code == 404
    assert api.get(f"/api/v1/notifications/outbox/{msg_id}/").status_code == 200


def test_channel_settings_secrets_are_encrypted_and_test_send_works(
        api: Any, org: Any, smsru: Any) -> None:
    from django.db import connection

    resp = api.post("/api/v1/notifications/channels/",
                    data={"gateway": "smsru", "config": {"api_id": smsru.api_id,
                                                         "base_url": smsru.base_url}},
                    content_type="application/json")
    assert resp.status_code == 201, resp.content
    assert smsru.api_id not in resp.content.decode()
    with connection.cursor() as cur:
        cur.execute("SELECT config FROM notifications_channelconfig")
        raw = cur.fetchone()[0]
    assert smsru.api_id not in raw
    resp = api.post("/api/v1/notifications/channels/smsru/test/",
                    data={"to": "+79001112233"}, content_type="application/json")
    assert resp.status_code == 200, resp.content
    assert smsru.messages[0]["phone"] == "79001112233"
    resp = api.post("/api/v1/notifications/channels/smsru/test/",
                    data={"to": "+7900"}, content_type="application/json")
    assert resp.status_code == 422


def test_pickup_facts_come_from_tracking_and_reminders_stop_after_storage_deadline(
        org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    Rule.objects.filter(organization=org, kind="reminder").update(interval_days=5,
                                                                  max_reminders=3)
    shipment = make_shipment(recipient_email="")
    # 30.11.2026 00:30 in Moscow is still 29.11 in UTC: the date shown is the local one
    tracking_state(shipment, "arrived_at_pickup", token="tok-pick",
                   storage_deadline=dt.datetime(2026, 11, 29, 21, 30, tzinfo=dt.UTC),
                   arrived_at_pickup_at=NOON)
    status_change(shipment, "arrived_at_pickup")
    plan_and_send()
    [sms] = smsru.messages
    assert " до 30.11.2026: " in sms["text"] and " К оплате 2 490 ₽." in sms["text"]
    services.outbox_send_due(now=NOON + dt.timedelta(days=5))
    services.outbox_send_due(now=NOON + dt.timedelta(days=10))
    assert len(smsru.messages) == 2
    late = Message.objects.get(rule="reminder", occurrence=2)
    assert late.status == MessageStatus.SKIPPED and "Срок хранения истёк 30.11.2026" in late.error


def test_email_headers_cannot_be_injected_and_long_lines_survive(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any,
        make_shipment: Any, status_change: Any) -> None:
    from shipdesk.notifications.models import Template

    long_line = "Очень длинная строка без переносов, " * 40  # > 998 bytes: SMTP's line limit
    Template.objects.create(
        organization=org, rule="accepted", channel="email",
        subject="Заказ {{ order_number }} — «{{ shop_name }}» уже в пути к вам, следите за ним"
                "\nBcc: thief@evil.test",
        body="Здравствуйте!\n" + long_line + "\n.\nКонец")
    shipment = make_shipment(recipient_email="anna@example.test")
    status_change(shipment, "accepted")
    plan_and_send()
    [mail] = inbox.messages
    [envelope] = inbox.envelopes
    assert envelope.rcpt_tos == ["anna@example.test"]
    assert mail["Bcc"] is None
    assert mail["Subject"] == (f"Заказ {shipment.order_number} — «Ромашка» уже в пути к вам, "
                               "следите за ним Bcc: thief@evil.test")
    assert all(len(line) <= 998 for line in envelope.original_content.split(b"\r\n"))
    # the long line made the body quoted-printable: 7-bit on the wire
    assert mail["Content-Transfer-Encoding"] == "quoted-printable"
    assert envelope.original_content.isascii()
    sent = Message.objects.get()
    assert inbox.text_of(mail).replace("\r\n", "\n").rstrip("\n") == sent.body
    assert sent.body == "Здравствуйте!\n" + long_line + "\n.\nКонец"
