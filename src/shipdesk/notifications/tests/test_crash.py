"""A sending worker killed with SIGKILL in the middle of a run: after a restart every due
message has gone out, none twice."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from shipdesk.notifications import services
from shipdesk.notifications.models import Message, MessageStatus, NotificationSettings
from shipdesk.notifications.tests.conftest import sms_channel

SRC = Path(__file__).resolve().parents[3]


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _worker(*extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONPATH": str(SRC),
           "DJANGO_SETTINGS_MODULE": "shipdesk.settings"}
    return subprocess.Popen(
        [sys.executable, "-m", "django", "notifications_send", "--until-empty", "--batch", "25",
         "--no-plan", *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_run_sends_every_message_once_after_restart(
        org: Any, make_shipment: Any, status_change: Any, smtp_server: Any, inbox: Any,
        email_channel: Any, smsc: Any) -> None:
    services.settings_ensure(organization=org)
    NotificationSettings.objects.filter(organization=org).update(
        window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59))
    sms_channel(org, "smsc", smsc)
    smsc.delay = 0.01
    total = 240
    now = dt.datetime.now(dt.UTC)
    for i in range(total):
        # half the buyers have an e-mail, the other half get an SMS (fallback)
        shipment = make_shipment(recipient_email=f"b{i}@example.test" if i % 2 else "",
                                 recipient_phone=f"+7900{i:07d}")
        status_change(shipment, "accepted", at=now)
    services.outbox_plan_from_feed(now=now)
    assert Message.objects.filter(status=MessageStatus.PENDING).count() == total

    async def slow(*_a: Any) -> None:
        await asyncio.sleep(0.01)
    inbox.before_data = slow

    worker = _worker()
    deadline = time.monotonic() + 60
    while len(inbox.messages) + len(smsc.messages) < total // 3:
        assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    received_before_restart = len(inbox.messages) + len(smsc.messages)
    assert 0 < received_before_restart < total
    assert Message.objects.filter(status=MessageStatus.SENDING).exists() or \
        Message.objects.filter(status=MessageStatus.PENDING).exists()

    # restart after the lease ran out
    smsc.delay = 0
    inbox.before_data = None
    restarted = _worker("--clock-offset", str(services.LEASE.total_seconds() + 60))
    out, err = restarted.communicate(timeout=120)
    assert restarted.returncode == 0, err.decode()
    print("restarted worker:", out.decode().strip(), "received before kill:", received_before_restart)

    rows = list(Message.objects.all())
    assert len(rows) == total
    assert not [r for r in rows if r.status in (MessageStatus.PENDING, MessageStatus.SENDING)]
    mail_ids = collections.Counter(str(m["Message-ID"]).strip().strip("<>").split("@")[0]
                                   for m in inbox.messages)
    assert max(mail_ids.values()) == 1, "an e-mail went out twice"
    from shipdesk.notifications.gateways.smsc import smsc_id
    sms_ids = collections.Counter(m["client_id"] for m in smsc.messages)
    assert max(sms_ids.values()) == 1, "an SMS went out twice"
    for r in rows:
        if r.channel == "sms":
            # SMSC is idempotent on our id: an interrupted send was repeated safely
            assert r.status == MessageStatus.SENT, (r.status, r.error)
            assert sms_ids[smsc_id(str(r.attempt_id))] == 1
        elif r.status == MessageStatus.SENT:
            assert mail_ids[str(r.attempt_id)] == 1
        else:
            # SMTP has no idempotency: a message caught mid-send is never repeated, and is
            # flagged "unknown" for a person to look at (at most once)
            assert r.status == MessageStatus.UNKNOWN, (r.status, r.error)
            assert mail_ids[str(r.attempt_id)] <= 1
    unknown = [r for r in rows if r.status == MessageStatus.UNKNOWN]
    assert len(unknown) <= 25  # at most the one batch that was in the worker's hands
    assert len(mail_ids) + len(sms_ids) >= total - len(unknown)


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_never_send_a_message_twice(
        org: Any, make_shipment: Any, status_change: Any, smtp_server: Any, inbox: Any,
        email_channel: Any, smsru: Any) -> None:
    services.settings_ensure(organization=org)
    NotificationSettings.objects.filter(organization=org).update(
        window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59))
    sms_channel(org, "smsru", smsru)
    total = 200
    now = dt.datetime.now(dt.UTC)
    for i in range(total):
        shipment = make_shipment(recipient_email=f"c{i}@example.test" if i % 2 else "",
                                 recipient_phone=f"+7901{i:07d}")
        status_change(shipment, "accepted", at=now)
    services.outbox_plan_from_feed(now=now)
    workers = [_worker(), _worker()]
    for w in workers:
        _out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()
    assert Message.objects.filter(status=MessageStatus.SENT).count() == total
    mail_ids = [str(m["Message-ID"]) for m in inbox.messages]
    phones = [m["phone"] for m in smsru.messages]
    assert len(mail_ids) == len(set(mail_ids)) == total // 2
    assert len(phones) == len(set(phones)) == total // 2
