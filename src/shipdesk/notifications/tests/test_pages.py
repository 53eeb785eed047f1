from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.core import duework
from shipdesk.notifications.models import FeedCursor, Message, MessageStatus
from shipdesk.notifications.tests.conftest import NOON, sms_channel

pytestmark = pytest.mark.django_db


def test_due_work_sweep_plans_from_the_feed_and_sends(
        org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any, django_capture_on_commit_callbacks: Any) -> None:
    # The sweep runs at the real "now", so the send window must cover every hour of the day.
    notif_settings.window_start, notif_settings.window_end = dt.time(0, 0), dt.time(23, 59, 59)
    notif_settings.save()
    sms_channel(org, "smsru", smsru)
    status_change(make_shipment(recipient_email=""), "accepted",
                  at=dt.datetime.now(dt.UTC))
    FeedCursor.objects.update(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        duework.sweep(names=["notifications.jobs"])
    msg = Message.objects.get()
    assert msg.status == MessageStatus.PENDING
    Message.objects.update(due_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        duework.sweep(names=["notifications.send"])
    msg.refresh_from_db()
    assert msg.status == MessageStatus.SENT, msg.error
    assert len(smsru.messages) == 1


def test_outbox_page_shows_messages_with_their_reasons(
        web: Any, org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    from shipdesk.notifications import services

    sms_channel(org, "smsru", smsru)
    shipment = make_shipment(recipient_email="", recipient_phone="12345")
    status_change(shipment, "accepted")
    services.outbox_plan_from_feed(now=NOON)
    page = web.get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert shipment.order_number in html and "неверный телефон «12345»" in html
    assert web.get("/notifications/?status=skipped").status_code == 200


def test_settings_page_saves_rule_and_runs_test_send(web: Any, org: Any, smsru: Any) -> None:
    assert web.get("/notifications/settings/").status_code == 200
    resp = web.post("/notifications/settings/", {
        "action": "channel", "gateway": "smsru", "enabled": "on",
        "cfg_api_id": smsru.api_id, "cfg_base_url": smsru.base_url})
    assert resp.status_code == 302
    resp = web.post("/notifications/settings/", {"action": "test", "gateway": "smsru",
                                                 "to": "+79005554433"}, follow=True)
    assert "Отправлено" in resp.content.decode()
    assert smsru.messages[0]["phone"] == "79005554433"
    resp = web.post("/notifications/settings/", {"action": "rule", "kind": "reminder",
                                                 "enabled": "on", "channels": "sms,email",
                                                 "interval_days": "3"})
    from shipdesk.notifications.models import Rule
    assert Rule.objects.get(organization=org, kind="reminder").interval_days == 3
    resp = web.post("/notifications/settings/", {"action": "suppress", "channel": "sms",
                                                 "address": "8 (900) 111-22-33"}, follow=True)
    assert "79001112233" in resp.content.decode()
    resp = web.post("/notifications/settings/", {"action": "suppress", "channel": "sms",
                                                 "address": "нет"}, follow=True)
    assert "неверный телефон «нет»" in resp.content.decode()


def test_template_page_previews_and_refuses_hostile_template(web: Any) -> None:
    page = web.get("/notifications/templates/arrived/sms/")
    assert page.status_code == 200 and "pickup_address" in page.content.decode()
    resp = web.post("/notifications/templates/arrived/sms/",
                    {"action": "preview", "body": "Заказ {{ order_number }}, {{ buyer_name }}"})
    assert "Заказ A-10042, Анна Сергеевна" in resp.content.decode()
    assert "1 SMS" in resp.content.decode()
    resp = web.post("/notifications/templates/arrived/sms/",
                    {"action": "save", "body": "{{ order_number.__class__.__mro__ }}"})
    html = resp.content.decode()
    assert resp.status_code == 200 and "запрещено" in html


def test_reports_page_counts_per_rule_and_outcomes(
        web: Any, api: Any, org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    from shipdesk.notifications import services

    sms_channel(org, "smsru", smsru)
    notified = make_shipment(recipient_email="")
    status_change(notified, "arrived_at_pickup")
    services.outbox_plan_from_feed(now=NOON)
    services.outbox_send_due(now=NOON)
    services.outbox_poll_delivery(now=NOON)
    status_change(notified, "delivered")
    status_change(make_shipment(recipient_email="", recipient_phone=""), "returned")
    data = api.get("/api/v1/notifications/reports/").json()
    arrived = next(r for r in data["by_rule"] if r["rule"] == "arrived")
    assert arrived["sent"] == 1 and arrived["delivered"] == 1
    assert Decimal(data["sms_cost"]) == smsru.messages[0]["cost"]
    outcome = {o["group"]: o for o in data["outcome"]}
    assert (outcome["with"]["picked"], outcome["with"]["returned"]) == (1, 0)
    assert (outcome["without"]["picked"], outcome["without"]["returned"]) == (0, 1)
    page = web.get("/notifications/reports/")
    assert page.status_code == 200 and "1 (100,0%)" in page.content.decode()
