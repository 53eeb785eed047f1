"""The recipient's public page: served without the per-user middleware, cached per process
under the rows' versions, never older than the database."""

import zoneinfo
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shipdesk.tracking.models import TrackingState
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import event, shipment

pytestmark = pytest.mark.django_db


def _in_transit(org, **kw):
    s = shipment(org, **kw)
    n = s.tracking_number
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED, "1.1"),
                                   event(n, 1, Status.IN_TRANSIT, "8.3", place="СЦ Новосибирск")],
                           now=timezone.now())
    return s, TrackingState.objects.get(shipment=s).public_token


def test_status_change_is_on_the_page_at_the_next_request(client, org):
    s, token = _in_transit(org)
    first = client.get(f"/tracking/t/{token}/")
    client.get(f"/tracking/t/{token}/")  # now certainly cached in this process
    assert '<div class="status">В пути</div>' in first.content.decode()

    tracking_events_ingest(events=[event(s.tracking_number, 2, Status.DELIVERED, "2.1")],
                           now=timezone.now() + timedelta(seconds=1))
    after = client.get(f"/tracking/t/{token}/")
    html = after.content.decode()
    assert after.status_code == 200
    assert '<div class="status">Вручено</div>' in html
    assert after["ETag"] != first["ETag"]
    # a browser or proxy holding the old page is told to take the new one
    again = client.get(f"/tracking/t/{token}/", headers={"If-None-Match": first["ETag"]})
    assert again.status_code == 200 and '<div class="status">Вручено</div>' in again.content.decode()


def test_shop_edit_of_the_shipment_is_on_the_page_at_the_next_request(client, org):
    s, token = _in_transit(org, cod_amount=Decimal("1499.90"))
    assert "1\u00a0499,90\u00a0₽" in client.get(f"/tracking/t/{token}/").content.decode()
    s.cod_amount = Decimal("2500.00")
    s.save()
    html = client.get(f"/tracking/t/{token}/").content.decode()
    assert "2\u00a0500,00\u00a0₽" in html and "499,90" not in html


def test_unchanged_page_is_served_from_the_cache_with_one_query(client, org):
    _s, token = _in_transit(org)
    first = client.get(f"/tracking/t/{token}/")
    with CaptureQueriesContext(connection) as queries:
        second = client.get(f"/tracking/t/{token}/")
    assert len(queries) == 1, [q["sql"][:80] for q in queries.captured_queries]
    assert second.content == first.content and second["ETag"] == first["ETag"]
    with CaptureQueriesContext(connection) as queries:
        revalidated = client.get(f"/tracking/t/{token}/", headers={"If-None-Match": first["ETag"]})
    assert revalidated.status_code == 304 and len(queries) == 1


def test_caches_must_revalidate_before_showing_it(client, org):
    _s, token = _in_transit(org)
    r = client.get(f"/tracking/t/{token}/")
    assert r["Cache-Control"] == "public, max-age=0, must-revalidate"
    assert "Accept-Language" in r["Vary"]
    assert r["X-Robots-Tag"] == "noindex" and r["Referrer-Policy"] == "no-referrer"


def test_logged_in_visitor_gets_the_shared_page_without_session_work(web, client, org):
    """A shop's operator who opens the link gets what the recipient gets: the session, the
    user and the organization are not loaded, no cookie is set or varied on."""
    _s, token = _in_transit(org)
    anonymous = client.get(f"/tracking/t/{token}/")
    with CaptureQueriesContext(connection) as queries:
        r = web.get(f"/tracking/t/{token}/")
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert r.status_code == 200 and r.content == anonymous.content
    assert "django_session" not in sql and "auth_user" not in sql
    assert "Cookie" not in r.get("Vary", "") and not r.cookies
    assert r["X-Frame-Options"] == "DENY" and r["X-Request-ID"]
    assert r["Content-Language"] == "ru"


def test_english_visitor_gets_the_english_page(client, org):
    _s, token = _in_transit(org)
    ru = client.get(f"/tracking/t/{token}/")
    en = client.get(f"/tracking/t/{token}/", headers={"Accept-Language": "en"})
    assert en["Content-Language"] == "en" and '<html lang="en">' in en.content.decode()
    assert en["ETag"] != ru["ETag"]
    assert '<html lang="ru">' in client.get(f"/tracking/t/{token}/").content.decode()


def test_unknown_or_short_token_is_a_plain_404_for_the_recipient(client, org):
    _in_transit(org)
    for token in ("nope-nope-nope-nope-nope", "short"):
        r = client.get(f"/tracking/t/{token}/")
        assert r.status_code == 404
        assert "Посылка не найдена" in r.content.decode()


def test_other_pages_still_need_a_login(client, org):
    s, _token = _in_transit(org)
    r = client.get(f"/tracking/shipments/{s.pk}/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_shop_logo_and_name_change_are_on_the_page_at_the_next_request(client, org):
    _s, token = _in_transit(org)
    assert "<img" not in client.get(f"/tracking/t/{token}/").content.decode()
    org.name = "Ромашка и Ко"
    org.logo.name = "logos/romashka.png"
    org.save()
    html = client.get(f"/tracking/t/{token}/").content.decode()
    assert "Ромашка и Ко" in html and 'src="' in html and "logos/romashka.png" in html


def test_times_are_in_the_shops_zone(client, org):
    org.timezone = "Asia/Novosibirsk"  # UTC+7; the first event is at 09:00 UTC
    org.save()
    _s, token = _in_transit(org)
    html = client.get(f"/tracking/t/{token}/").content.decode()
    assert "02.11.2026 16:00" in html and "03.11.2026 16:00 · СЦ Новосибирск" in html


def test_head_request_gets_the_headers_without_the_page(client, org):
    _s, token = _in_transit(org)
    r = client.head(f"/tracking/t/{token}/")
    assert r.status_code == 200 and r["ETag"] and r.content == b""
    assert client.post(f"/tracking/t/{token}/").status_code == 405


def test_new_office_hours_reach_a_browsers_copy_within_the_hour(client, org, monkeypatch):
    from shipdesk.tracking import views
    from shipdesk.tracking.models import PickupOffice

    s = shipment(org)
    n = s.tracking_number
    PickupOffice.objects.create(carrier_code="fake", code="630099", address="ул. Ленина, 1",
                                work_hours="пн–пт 8:00–20:00")
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED, "1.1"),
                                   event(n, 1, Status.ARRIVED_AT_PICKUP, "8.2", index="630099")],
                           now=timezone.now())
    token = TrackingState.objects.get(shipment=s).public_token
    first = client.get(f"/tracking/t/{token}/")
    assert "пн–пт 8:00–20:00" in first.content.decode()
    PickupOffice.objects.filter(code="630099").update(work_hours="ежедневно 9:00–21:00")
    monkeypatch.setattr(views, "_etag_period", lambda: 10**9)  # the next hour
    views.page_cache.clear()  # as after the process cache's 60 s
    r = client.get(f"/tracking/t/{token}/", headers={"If-None-Match": first["ETag"]})
    assert r.status_code == 200 and "ежедневно 9:00–21:00" in r.content.decode()


def test_a_far_east_recipient_reads_the_storage_deadline_on_the_offices_calendar(client, org):
    # A Moscow shop, a recipient in Vladivostok (UTC+10): the parcel arrives at 16:00 UTC,
    # 19:00 in Moscow but already 02:00 of the next day at the office, which counts its
    # 15 free days from the day after that.
    s = shipment(org, carrier="russian_post", service_code="EMS", index="690000")
    n = s.tracking_number
    arrived = timezone.now().replace(hour=16, minute=0, second=0, microsecond=0) - timedelta(
        days=2)
    tracking_events_ingest(events=[event(n, -1, Status.ACCEPTED, "1.1", base=arrived),
                                   event(n, 0, Status.ARRIVED_AT_PICKUP, "8.2", base=arrived)],
                           now=timezone.now())
    token = TrackingState.objects.get(shipment=s).public_token
    office_day = arrived.astimezone(zoneinfo.ZoneInfo("Asia/Vladivostok")).date()
    html = client.get(f"/tracking/t/{token}/").content.decode()
    assert f"{office_day + timedelta(days=15):%d.%m.%Y}" in html
    assert f"{office_day + timedelta(days=14):%d.%m.%Y}" not in html
