from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from shipdesk.core import duework
from shipdesk.tracking.models import TrackingSettings
from shipdesk.tracking.services import tracking_reports_schedule, tracking_settings_update

pytestmark = pytest.mark.django_db
NOON_NOVOSIBIRSK = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 12:00 at UTC+7


def test_new_organization_gets_its_first_report_at_eight_in_its_own_zone(make_org):
    org = make_org("Восток", timezone="Asia/Novosibirsk")
    assert not TrackingSettings.objects.filter(organization=org).exists()
    assert tracking_reports_schedule(now=NOON_NOVOSIBIRSK) >= 1
    row = TrackingSettings.objects.get(organization=org)
    assert row.next_report_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 08:00 +07
    # the next run leaves a scheduled report where it is
    assert tracking_reports_schedule(now=NOON_NOVOSIBIRSK + timedelta(days=3)) == 0
    row.refresh_from_db()
    assert row.next_report_at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def test_before_eight_the_first_report_is_the_same_morning(make_org):
    org = make_org("Запад", timezone="Europe/Kaliningrad")  # UTC+2
    tracking_reports_schedule(now=datetime(2026, 11, 23, 3, 30, tzinfo=UTC))  # 05:30 local
    row = TrackingSettings.objects.get(organization=org)
    assert row.next_report_at == datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def test_settings_saved_by_the_shop_come_with_a_report_time(actor):
    row = tracking_settings_update(actor=actor, report_emails="boss@shop.example")
    assert row.next_report_at is not None and row.next_report_at > datetime.now(UTC)


def test_first_report_goes_out_by_itself(make_org, django_capture_on_commit_callbacks):
    org = make_org("Ромашка", email="shop@romashka.example")
    for n in range(3):  # other shops' settings rows, without a report time yet
        TrackingSettings.objects.create(organization=make_org(f"Другой магазин {n}"))
    # The shop's own row (as the settings page leaves it: no report time) with an id that is
    # not its organization's, by construction: the due work hands out settings ids, and the
    # task must not take them for organizations. (Left to the sequences, the two ids met now
    # and then on PostgreSQL, whose sequences tests do not roll back.)
    TrackingSettings.objects.create(pk=org.pk + 1000, organization=org)
    tracking_reports_schedule()
    row = TrackingSettings.objects.get(organization=org)
    assert row.pk != org.pk and row.next_report_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        dispatched = duework.sweep(now=row.next_report_at + timedelta(minutes=1),
                                   names=["tracking.daily_report"])
    assert dispatched["tracking.daily_report"] == 4
    # the others have no address to send to; the shop gets exactly its own report
    assert [m.to for m in mail.outbox] == [["shop@romashka.example"]]
    row.refresh_from_db()
    assert row.last_report_on is not None and row.next_report_at is not None
