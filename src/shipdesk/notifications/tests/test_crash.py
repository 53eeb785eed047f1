"""A sending worker killed with SIGKILL in the middle of a run, over every channel at once
(SMTP, SMSC, SMS Aero, sms.ru, webhook): after a restart every due message has gone out,
and what each channel can promise holds — see doc.md "Exactly once".

Two ways to die: at a random moment of a long run, and exactly inside the window between a
gateway's "accepted" and our write (``SHIPDESK_FAULT_INJECT``, a fault point that exists only
when that variable is set)."""

from __future__ import annotations

import collections
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from shipdesk.notifications import services
from shipdesk.notifications.gateways.smsru import SmsRu
from shipdesk.notifications.models import (
    ChannelConfig,
    Message,
    MessageStatus,
    NotificationSettings,
    Rule,
)
from shipdesk.notifications.tests.conftest import sms_channel

SRC = Path(__file__).resolve().parents[3]
BATCH = 25


def _database_url() -> str:
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def _worker(*extra: str, fault: str = "", batch: int = BATCH) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONPATH": str(SRC),
           "DJANGO_SETTINGS_MODULE": "shipdesk.settings"}
    env.pop("SHIPDESK_FAULT_INJECT", None)
    if fault:
        env["SHIPDESK_FAULT_INJECT"] = fault
    return subprocess.Popen(
        [sys.executable, "-m", "django", "notifications_send", "--until-empty", "--batch",
         str(batch), "--no-plan", *extra], env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)


def _restart_after_lease() -> str:
    worker = _worker("--clock-offset", str(services.LEASE.total_seconds() + 60))
    out, err = worker.communicate(timeout=180)
    assert worker.returncode == 0, err.decode()
    return out.decode()


@dataclass
class World:
    inbox: Any
    emus: dict[str, Any]  # gateway → emulator (the webhook receiver under "webhook")
    per_org: int

    def sms_received(self, gateway: str) -> collections.Counter[tuple[str, str]]:
        return collections.Counter((m["phone"], m["text"]) for m in self.emus[gateway].messages)

    def mail_ids(self) -> collections.Counter[str]:
        return collections.Counter(str(m["Message-ID"]).strip() for m in self.inbox.messages)

    def received(self) -> int:
        return len(self.inbox.messages) + sum(len(e.messages) for e in self.emus.values())


@pytest.fixture
def world(make_org: Any, make_shipment: Any, status_change: Any, smtp_server: Any,
          inbox: Any, smsc: Any, smsaero: Any, smsru: Any, webhook_receiver: Any,
          request: Any) -> World:
    """Three shops, one per SMS gateway; each also sends every message by e-mail and to the
    webhook: every shipment gives three messages."""
    per_org = getattr(request, "param", 20)
    emus = {"smsc": smsc, "smsaero": smsaero, "smsru": smsru, "webhook": webhook_receiver}
    now = dt.datetime.now(dt.UTC)
    for k, gateway in enumerate(("smsc", "smsaero", "smsru")):
        org = make_org(f"Магазин {gateway}")
        services.settings_ensure(organization=org)
        NotificationSettings.objects.filter(organization=org).update(
            window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59))
        Rule.objects.filter(organization=org, kind="accepted").update(
            channels=["email", "sms", "webhook"], fallback=False)
        ChannelConfig.objects.create(organization=org, gateway="smtp", config={
            "host": "127.0.0.1", "port": smtp_server[1], "from_email": f"shop{k}@shop.test"})
        ChannelConfig.objects.create(organization=org, gateway="webhook", config={
            "url": webhook_receiver.base_url + "/hook", "secret": "s"})
        sms_channel(org, gateway, emus[gateway])
        for i in range(per_org):
            shipment = make_shipment(organization=org, recipient_email=f"b{k}x{i}@buyer.test",
                                     recipient_phone=f"+7902{k}{i:06d}")
            status_change(shipment, "accepted", at=now)
    services.outbox_plan_from_feed(now=now)
    assert Message.objects.filter(status=MessageStatus.PENDING).count() == 9 * per_org
    return World(inbox, emus, per_org)


def _assert_every_message_went_out_as_promised(world: World, *, in_flight: int) -> None:
    """``in_flight``: how many messages at most were in the dead worker's hands after their
    gateway accepted them (the bound on SMTP repeats and on sms.ru "unknown" rows)."""
    rows = list(Message.objects.all())
    assert len(rows) == 9 * world.per_org
    left = [r for r in rows if r.status not in (MessageStatus.SENT, MessageStatus.UNKNOWN)]
    assert not left, [(r.gateway, r.status, r.error) for r in left]
    by_gateway = collections.defaultdict(list)
    for r in rows:
        by_gateway[r.gateway].append(r)

    # SMSC and SMS Aero were asked about every interrupted attempt: each SMS exactly once
    for gateway in ("smsc", "smsaero"):
        got = world.sms_received(gateway)
        assert sorted(got.values()) == [1] * world.per_org, (gateway, got.most_common(3))
        for r in by_gateway[gateway]:
            assert r.status == MessageStatus.SENT, (gateway, r.error)
            assert got[(r.recipient, r.body)] == 1

    # the webhook receiver drops a repeated Idempotency-Key: one delivery per message
    hooks = world.emus["webhook"].messages
    assert len(hooks) == 3 * world.per_org
    assert len({(h["phone"], h["text"]) for h in hooks}) == len(hooks)
    assert all(r.status == MessageStatus.SENT for r in by_gateway["webhook"])

    # SMTP: every e-mail arrived, each under its own Message-ID, the same on every attempt;
    # a message caught in flight may have been handed over twice — as the same message
    ids = world.mail_ids()
    assert len(ids) == 3 * world.per_org
    assert all(r.status == MessageStatus.SENT for r in by_gateway["smtp"])
    assert {f"<{r.provider_id}>" for r in by_gateway["smtp"]} == set(ids)
    assert sum(ids.values()) - len(ids) <= in_flight

    # sms.ru cannot be asked: never a second SMS; what was caught in flight is "unknown"
    # (and did in fact go out) — at most the one small chunk sms.ru is handed at a time —
    # everything else is sent
    got = world.sms_received("smsru")
    assert max(got.values()) == 1
    assert len(got) == world.per_org
    unknown = [r for r in by_gateway["smsru"] if r.status == MessageStatus.UNKNOWN]
    assert len(unknown) <= min(in_flight, SmsRu.chunk_size * SmsRu.parallel)
    assert all(r.error for r in unknown)
    assert all(got[(r.recipient, r.body)] == 1 for r in unknown)
    assert not [r for r in rows if r.status == MessageStatus.UNKNOWN and r.gateway != "smsru"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("world", [60], indirect=True)
def test_worker_killed_at_a_random_moment_then_restarted(world: World) -> None:
    for emu in world.emus.values():
        emu.delay = 0.005  # slow enough that the kill lands in the middle of the run
    worker = _worker()
    deadline = time.monotonic() + 90
    total = 9 * world.per_org
    while world.received() < total // 3:
        assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
        assert time.monotonic() < deadline
        time.sleep(0.005)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=10)
    assert 0 < world.received() < total
    assert Message.objects.filter(status__in=[MessageStatus.PENDING,
                                              MessageStatus.SENDING]).exists()
    for emu in world.emus.values():
        emu.delay = 0
    print("restarted worker:", _restart_after_lease())
    _assert_every_message_went_out_as_promised(world, in_flight=BATCH)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("gateway", ["smtp", "smsc", "smsaero", "smsru", "webhook"])
def test_worker_killed_between_the_gateways_ok_and_our_write(
        gateway: str, world: World) -> None:
    # dies right after this gateway accepted its part of the second batch it got
    worker = _worker(fault=f"after_gateway.{gateway}:2")
    _out, err = worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL, err.decode()
    caught = list(Message.objects.filter(status=MessageStatus.SENDING, gateway=gateway,
                                         attempt_at__isnull=False))
    assert caught, "the kill did not land in the window"
    # the gateway really has them, we have not written it: the window this test is about
    if gateway == "smtp":
        ids = world.mail_ids()
        assert all(ids[_mail_id_of(r, world)] == 1 for r in caught)
    elif gateway == "webhook":
        texts = {(h["phone"], h["text"]) for h in world.emus["webhook"].messages}
        assert all(any(t == r.body for _p, t in texts) for r in caught)
    else:
        got = world.sms_received(gateway)
        assert all(got[(r.recipient, r.body)] == 1 for r in caught)
    _restart_after_lease()
    _assert_every_message_went_out_as_promised(world, in_flight=len(caught))
    after = {r.pk: r for r in Message.objects.filter(pk__in=[r.pk for r in caught])}
    if gateway == "smsru":
        assert all(r.status == MessageStatus.UNKNOWN for r in after.values())
    else:
        assert all(r.status == MessageStatus.SENT for r in after.values())
    if gateway == "smtp":  # handed over twice, as one message: the same Message-ID
        ids = world.mail_ids()
        assert all(ids[f"<{r.provider_id}>"] == 2 for r in after.values())


def _mail_id_of(row: Message, world: World) -> str:
    """The Message-ID the SMTP server saw for this row (found by recipient and subject)."""
    [mid] = {str(m["Message-ID"]).strip() for m in world.inbox.messages
             if m["To"] == row.recipient and m["Subject"] == row.subject}
    return mid


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


@pytest.mark.django_db(transaction=True)
def test_sms_ru_messages_not_yet_handed_over_at_the_crash_are_sent_not_left_unknown(
        org: Any, make_shipment: Any, status_change: Any, smsru: Any) -> None:
    # one batch of 300 sms.ru messages = 15 chunks of 20, one at a time: the worker dies
    # when the first chunk is back; the rest were never handed over and simply go out later
    services.settings_ensure(organization=org)
    NotificationSettings.objects.filter(organization=org).update(
        window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59))
    sms_channel(org, "smsru", smsru)
    now = dt.datetime.now(dt.UTC)
    for i in range(300):
        status_change(make_shipment(recipient_email="", recipient_phone=f"+7903{i:07d}"),
                      "accepted", at=now)
    services.outbox_plan_from_feed(now=now)
    worker = _worker(fault="after_gateway.smsru:1", batch=300)
    _out, err = worker.communicate(timeout=120)
    assert worker.returncode == -signal.SIGKILL, err.decode()
    never_handed = set(Message.objects.filter(status=MessageStatus.SENDING,
                                              attempt_at__isnull=True)
                       .values_list("pk", flat=True))
    assert len(never_handed) >= services.COMMIT_EVERY
    _restart_after_lease()
    got = collections.Counter(m["phone"] for m in smsru.messages)
    assert max(got.values()) == 1  # nothing twice
    rows = {r.pk: r for r in Message.objects.all()}
    assert all(rows[pk].status == MessageStatus.SENT for pk in never_handed)
    unknown = [r for r in rows.values() if r.status == MessageStatus.UNKNOWN]
    # exactly the chunk in flight, which did go out; no message is lost silently: every one
    # is on the gateway, and the ones a person must look at are that one small chunk
    assert SmsRu.parallel == 1 and len(unknown) == SmsRu.chunk_size < services.COMMIT_EVERY

    def phone(row: Message) -> str:
        return row.recipient.lstrip("+")
    assert all(phone(r) in got for r in rows.values() if r.status == MessageStatus.SENT)
    assert all(r.status == MessageStatus.UNKNOWN for r in rows.values() if phone(r) not in got)
    assert len(got) >= 300 - len(unknown)
