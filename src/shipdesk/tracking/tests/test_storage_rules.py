from datetime import timedelta

import pytest

from shipdesk.tracking.models import TrackingRule, TrackingState
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=5)
ARRIVED_DAY_END = T0.replace(hour=0) + timedelta(days=4)  # storage counts from the next day


def _deadline(org, **kw):
    s = shipment(org, carrier="russian_post", mail_category="ORDINARY", **kw)
    n = s.tracking_number
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED, "1.1"),
                                   event(n, 3, Status.ARRIVED_AT_PICKUP, "8.2")], now=NOW)
    return TrackingState.objects.get(shipment=s).storage_deadline


def test_russian_post_parcel_waits_fifteen_days(org):
    assert _deadline(org, service_code="ONLINE_PARCEL/ORDINARY") == (
        ARRIVED_DAY_END + timedelta(days=15))


def test_russian_post_ems_waits_fifteen_days(org):
    assert _deadline(org, service_code="EMS") == ARRIVED_DAY_END + timedelta(days=15)


def test_russian_post_letter_waits_thirty_days(org):
    assert _deadline(org, service_code="LETTER") == ARRIVED_DAY_END + timedelta(days=30)


def test_a_shops_own_rule_wins_over_the_carrier_default(org):
    TrackingRule.objects.create(organization=org, carrier_code="russian_post",
                                storage_days=60, note="продлённое хранение")
    assert _deadline(org, service_code="POSTAL_PARCEL") == ARRIVED_DAY_END + timedelta(days=60)
