"""Messages driven by the real tracking feed (the ingest writes the status changes, the
notifications job reads them) on a moving clock: the "accepted" message when the first
answer already shows movement (issue 13, 7), storage deadlines on the office's calendar and
reminders derived from the item's real deadline (issue 22, 2 and 3)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from shipdesk.notifications import services
from shipdesk.notifications.models import Message, MessageStatus, NotificationSettings, Rule
from shipdesk.notifications.tests.conftest import sms_channel
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status, Substatus
from shipdesk.tracking.tests.factories import event, shipment

pytestmark = pytest.mark.django_db
VLADIVOSTOK = ZoneInfo("Asia/Vladivostok")  # UTC+10, postal indexes 690…


def _local(day: int, hour: int, minute: int = 0, month: int = 3) -> dt.datetime:
    return dt.datetime(2027, month, day, hour, minute, tzinfo=VLADIVOSTOK)


@pytest.fixture
def sms(org: Any, smsru: Any) -> Any:
    services.settings_ensure(organization=org)
    sms_channel(org, "smsru", smsru)
    Rule.objects.filter(organization=org).update(channels=["sms"])
    return smsru


def _run(now: dt.datetime) -> None:
    """The notifications job and a sending worker at ``now``."""
    services.outbox_plan_from_feed(now=now)
    services.outbox_send_due(now=now)


def _texts(emu: Any, phone: str = "79161234567") -> list[str]:
    return [m["text"] for m in emu.messages if m["phone"] == phone]


def _is_reminder(text: str) -> bool:
    """The default reminder tells the days left after the date («…ждёт до 31.03.2027,
    осталось 5 дней: …»); the arrival message does not."""
    return re.search(r"ждёт до [\d.]+, (осталось|остался|сегодня)", text) is not None


def test_first_answer_already_moving_sends_the_accepted_message_once_per_parcel(
        org: Any, sms: Any) -> None:
    NotificationSettings.objects.filter(organization=org).update(
        window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59))
    base = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    parcels = [shipment(org, recipient_phone=f"+7916{i:07d}") for i in range(40)]
    # the first poll: 23 parcels already in transit (acceptance never told: inferred),
    # 17 with their acceptance
    first = [event(p.tracking_number, 0.5, Status.IN_TRANSIT, "8.3", base=base) if i < 23
             else event(p.tracking_number, 0.2, Status.ACCEPTED, "1.1", base=base)
             for i, p in enumerate(parcels)]
    tracking_events_ingest(events=first, now=base + dt.timedelta(days=1))
    _run(base + dt.timedelta(days=1))
    # later polls: more movement, a step the carrier tells late, customs
    tracking_events_ingest(events=[e for p in parcels for e in (
        event(p.tracking_number, 0.1, Status.ACCEPTED, "1.1", base=base),
        event(p.tracking_number, 1.5, Status.IN_TRANSIT, "8.3", base=base),
        event(p.tracking_number, 2, Status.CUSTOMS, "9.1", base=base))],
        now=base + dt.timedelta(days=3))
    _run(base + dt.timedelta(days=3))
    for i, p in enumerate(parcels):
        texts = _texts(sms, p.recipient_phone.lstrip("+"))
        assert len(texts) == 1, (i, texts)
        assert p.order_number in texts[0] and "отправлен" in texts[0]
    assert Message.objects.filter(rule="accepted").count() == 40


def test_reminders_of_a_30_day_item_go_until_the_eve_of_its_deadline(
        org: Any, sms: Any) -> None:
    p = shipment(org, index="690001")
    n = p.tracking_number
    arrived = _local(1, 18)
    tracking_events_ingest(events=[
        event(n, 0, Status.ACCEPTED, "1.1", base=arrived - dt.timedelta(days=4)),
        event(n, 0, Status.ARRIVED_AT_PICKUP, "8.2", base=arrived, index="690001")
        .__class__(**{**event(n, 0, Status.ARRIVED_AT_PICKUP, "8.2", base=arrived,
                              index="690001").__dict__, "storage_until": dt.date(2027, 3, 31)})],
        now=arrived + dt.timedelta(hours=1))
    clock = arrived + dt.timedelta(hours=1)
    sent_at: list[dt.datetime] = []
    while clock < _local(10, 12, month=4):
        before = len(sms.messages)
        _run(clock)
        sent_at += [clock] * (len(sms.messages) - before)
        clock += dt.timedelta(hours=3)
    texts = _texts(sms)
    assert texts[0].startswith(f"Ромашка: заказ {p.order_number} ждёт до 31.03.2027: ")
    reminders = [(t, at.astimezone(VLADIVOSTOK)) for t, at in zip(texts, sent_at, strict=True)
                 if _is_reminder(t)]
    # every 5 days while the deadline is ahead, and the last on its eve: six, not three
    assert [at.date() for _t, at in reminders] == [
        dt.date(2027, 3, d) for d in (6, 11, 16, 21, 26)] + [dt.date(2027, 3, 30)]
    assert all("31.03" in t for t, _at in reminders)
    assert [t.split(", ")[1].split(":")[0] for t, _at in reminders] == [
        "осталось 25 дней", "осталось 20 дней", "осталось 15 дней", "осталось 10 дней",
        "осталось 5 дней", "остался 1 день"]
    assert all(at.date() <= dt.date(2027, 3, 31) for at in sent_at)


def test_an_extended_storage_gets_reminders_up_to_its_new_deadline(org: Any, sms: Any) -> None:
    p = shipment(org, index="690001")
    n = p.tracking_number
    arrived = _local(1, 10)

    def arrival(day: float, until: dt.date, sub: str = "") -> Any:
        e = event(n, day, Status.ARRIVED_AT_PICKUP, "8.2", sub=sub, base=arrived,
                  index="690001")
        return e.__class__(**{**e.__dict__, "storage_until": until})

    tracking_events_ingest(events=[arrival(0, dt.date(2027, 3, 8))], now=arrived)
    _run(arrived + dt.timedelta(hours=1))
    assert Message.objects.filter(rule="reminder").count() == 2  # 6.03 and the eve, 7.03
    # the buyer asked for more time: the carrier's new date, 22.03
    tracking_events_ingest(events=[arrival(3, dt.date(2027, 3, 22), Substatus.STORAGE_EXTENDED)],
                           now=arrived + dt.timedelta(days=3, hours=1))
    clock = arrived + dt.timedelta(days=3, hours=1)
    while clock < _local(25, 12):
        _run(clock)
        clock += dt.timedelta(hours=6)
    reminders = [t for t in _texts(sms) if _is_reminder(t)]
    assert len(reminders) >= 4
    assert reminders[-1].count("22.03") == 1
    last = Message.objects.filter(rule="reminder", status=MessageStatus.SENT).latest("sent_at")
    assert last.sent_at.astimezone(VLADIVOSTOK).date() == dt.date(2027, 3, 21)


def test_a_reminder_never_goes_out_after_the_deadline_it_names_in_utc_plus_10(
        org: Any, sms: Any) -> None:
    p = shipment(org, index="690001")
    n = p.tracking_number
    arrived = _local(10, 22, 30)  # late in the evening: still 10.03 in UTC (12:30)
    e = event(n, 0, Status.ARRIVED_AT_PICKUP, "8.2", base=arrived, index="690001")
    tracking_events_ingest(events=[e.__class__(**{**e.__dict__,
                                                 "storage_until": dt.date(2027, 3, 20)})],
                           now=arrived + dt.timedelta(minutes=5))
    services.outbox_plan_from_feed(now=arrived + dt.timedelta(minutes=5))
    assert Message.objects.filter(rule="reminder").exists()
    # the sender was down until 21.03 09:00 local time — 20.03 23:00 in UTC
    late = _local(21, 9)
    assert late.astimezone(dt.UTC).date() == dt.date(2027, 3, 20)
    services.outbox_send_due(now=late)
    assert not [t for t in _texts(sms) if "20.03" in t]
    rows = Message.objects.filter(rule__in=["arrived", "reminder"])
    assert {r.status for r in rows} == {MessageStatus.SKIPPED}
    assert all("Срок хранения истёк 20.03.2027" in r.error for r in rows)
