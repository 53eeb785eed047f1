import email
import socket
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shipdesk.tracking.models import PickupOffice, TrackingSettings, TrackingState
from shipdesk.tracking.services import tracking_daily_report_send, tracking_events_ingest
from shipdesk.tracking.statuses import Status, Substatus
from shipdesk.tracking.tests.factories import event, shipment

pytestmark = pytest.mark.django_db


def _waiting(org, **kw):
    s = shipment(org, **kw)
    now = timezone.now()
    day = (now - s.created_at).total_seconds() / 86400
    n = s.tracking_number
    PickupOffice.objects.get_or_create(carrier_code="fake", code="630099", defaults={
        "address": "Новосибирск, ул. Ленина, 1", "work_hours": "пн–пт 8:00–20:00"})
    tracking_events_ingest(events=[
        event(n, day - 3, Status.ACCEPTED, "1.1"),
        event(n, day - 2, Status.IN_TRANSIT, "8.3", place="СЦ Новосибирск"),
        event(n, day - 1, Status.ARRIVED_AT_PICKUP, "8.2", place="Новосибирск 630099",
              index="630099")], now=now)
    return s


def test_public_page_shows_plain_russian_office_deadline_and_cod(client, org):
    s = _waiting(org, cod_amount=Decimal("1499.90"))
    token = TrackingState.objects.get(shipment=s).public_token
    with CaptureQueriesContext(connection) as queries:
        r = client.get(f"/tracking/t/{token}/")
    assert r.status_code == 200
    assert len(queries) <= 3, [q['sql'][:80] for q in queries.captured_queries]
    html = r.content.decode()
    assert "Ромашка" in html and '<div class="status">Ожидает в пункте выдачи</div>' in html
    assert "ул. Ленина, 1" in html and "пн–пт 8:00–20:00" in html
    assert "1\u00a0499,90\u00a0₽" in html  # money in the Russian format
    assert "Заберите до" in html
    assert "8.2" not in html  # no carrier jargon
    assert 'name="viewport"' in html
    assert r["Cache-Control"].startswith("public, max-age=")
    again = client.get(f"/tracking/t/{token}/", headers={"If-None-Match": r["ETag"]})
    assert again.status_code == 304


def test_public_page_unknown_token_is_404(client, org):
    _waiting(org)
    assert client.get("/tracking/t/nope-nope-nope-nope-nope/").status_code == 404


def test_dashboard_counts_and_exceptions(web, org):
    _waiting(org)
    stuck = shipment(org, carrier="russian_post")
    tracking_events_ingest(events=[event(stuck.tracking_number, 0, Status.ACCEPTED),
                                   event(stuck.tracking_number, 1, Status.IN_TRANSIT)],
                           now=stuck.created_at + timedelta(days=20))
    html = web.get("/tracking/").content.decode()
    assert "Ожидает в пункте выдачи" in html and "В пути" in html
    assert stuck.order_number in html and "застряло" in html
    # the carriers by name, not by their codes
    table = html.split("Статусы по перевозчикам")[1].split("</table>")[0]
    assert "Почта России" in table and "russian_post" not in table


def test_timeline_explains_the_status(web, org, other_org, make_user):
    s = shipment(org)
    base = timezone.now() - timedelta(days=40)
    s.__class__.objects.filter(pk=s.pk).update(created_at=base)
    n = s.tracking_number
    tracking_events_ingest(events=[
        event(n, 0, Status.ACCEPTED, base=base), event(n, 1, Status.IN_TRANSIT, base=base),
        event(n, 33, Status.RETURNING, "3.1", sub=Substatus.STORAGE_EXPIRED, base=base)])
    html = web.get(f"/tracking/shipments/{s.pk}/").content.decode()
    assert "Почему этот статус" in html and "выведено" in html
    assert "Возвращается отправителю" in html
    foreign = shipment(other_org)
    assert web.get(f"/tracking/shipments/{foreign.pk}/").status_code == 404


def test_api_events_and_why(api, other_api, org):
    s = _waiting(org)
    r = api.get(f"/api/v1/tracking/shipments/{s.pk}/")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == Status.ARRIVED_AT_PICKUP and len(body["events"]) == 3
    assert body["why"][-1].startswith("Итог:") and body["storage_deadline"]
    assert body["public_url"].endswith("/")
    assert other_api.get(f"/api/v1/tracking/shipments/{s.pk}/").status_code == 404


def test_daily_report_mail_reaches_the_smtp_server(org, settings):
    aiosmtpd = pytest.importorskip("aiosmtpd.controller")

    class Handler:
        messages: list = []

        async def handle_DATA(self, server, session, envelope):
            self.messages.append(envelope)
            return "250 OK"

    handler = Handler()
    with socket.socket() as probe:  # a free port: parallel test processes must not collide
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = aiosmtpd.Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
        TrackingSettings.objects.create(organization=org, report_emails="boss@shop.example")
        stuck = shipment(org)
        tracking_events_ingest(events=[event(stuck.tracking_number, 0, Status.ACCEPTED)],
                               now=stuck.created_at + timedelta(days=1))
        TrackingState.objects.filter(shipment=stuck).update(is_stuck=True)
        assert tracking_daily_report_send(organization_id=org.pk) is True
        assert tracking_daily_report_send(organization_id=org.pk) is False  # once a day
        assert len(handler.messages) == 1
        env = handler.messages[0]
        assert env.rcpt_tos == ["boss@shop.example"]
        msg = email.message_from_bytes(env.content)
        text = next(p for p in msg.walk() if p.get_content_type() == "text/plain")
        body = text.get_payload(decode=True).decode()
        assert stuck.tracking_number in body and "+79161234567" in body
        assert "Застрявшие отправления: 1" in body
    finally:
        controller.stop()


def test_report_page(web, org):
    _waiting(org)
    r = web.get("/tracking/report/")
    assert r.status_code == 200 and "Отчёт отслеживания" in r.content.decode()
