import zoneinfo
from datetime import datetime, time, timedelta

import pytest

from shipdesk.tracking.models import TrackingRule, TrackingState
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=5)
NOVOSIBIRSK = zoneinfo.ZoneInfo("Asia/Novosibirsk")  # the factory's recipient: index 630000


def _end_of_free_days(days: int, arrived_after: float = 3) -> datetime:
    """Storage counts from the day after arrival: the end of the last free day, on the
    pickup office's (the recipient's, Novosibirsk) calendar."""
    arrived = (T0 + timedelta(days=arrived_after)).astimezone(NOVOSIBIRSK).date()
    return datetime.combine(arrived + timedelta(days=days), time.max, tzinfo=NOVOSIBIRSK)


def _deadline(org, arrived_after: float = 3, **kw):
    s = shipment(org, carrier="russian_post", mail_category="ORDINARY", **kw)
    n = s.tracking_number
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED, "1.1"),
                                   event(n, arrived_after, Status.ARRIVED_AT_PICKUP, "8.2")],
                           now=NOW)
    return TrackingState.objects.get(shipment=s).storage_deadline


def test_storage_days_run_on_the_pickup_offices_calendar_not_the_shops(org):
    # arrived at 19:00 UTC: 22:00 in Moscow (the shop), already 02:00 of the next day in
    # Novosibirsk, where the office counts from the day after that
    arrived_after = 3 + 10 / 24
    arrived = T0 + timedelta(days=arrived_after)
    assert arrived.astimezone(NOVOSIBIRSK).date() > arrived.astimezone(
        zoneinfo.ZoneInfo("Europe/Moscow")).date()
    deadline = _deadline(org, arrived_after=arrived_after, service_code="EMS")
    assert deadline == _end_of_free_days(15, arrived_after)
    assert deadline.astimezone(NOVOSIBIRSK).date() == arrived.astimezone(
        NOVOSIBIRSK).date() + timedelta(days=15)


def test_russian_post_parcel_waits_fifteen_days(org):
    assert _deadline(org, service_code="ONLINE_PARCEL/ORDINARY") == (
        _end_of_free_days(15))


def test_russian_post_ems_waits_fifteen_days(org):
    assert _deadline(org, service_code="EMS") == _end_of_free_days(15)


def test_russian_post_letter_waits_thirty_days(org):
    assert _deadline(org, service_code="LETTER") == _end_of_free_days(30)


def test_a_shops_own_rule_wins_over_the_carrier_default(org):
    TrackingRule.objects.create(organization=org, carrier_code="russian_post",
                                storage_days=60, note="продлённое хранение")
    assert _deadline(org, service_code="POSTAL_PARCEL") == _end_of_free_days(60)
