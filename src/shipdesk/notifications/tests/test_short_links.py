"""The short SMS unsubscribe link ``/u/<code>``: unguessable, works from the SMS, a made-up
or mangled code gets a clear error; it keeps the default "accepted" SMS at two parts."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import pytest
from django.test import Client

from shipdesk.notifications import rendering, services
from shipdesk.notifications.context import ParcelFacts, message_context
from shipdesk.notifications.defaults import DEFAULT_TEMPLATES
from shipdesk.notifications.models import Message, MessageStatus, ShortLink, Suppression
from shipdesk.notifications.tests.conftest import NOON, sms_channel

pytestmark = pytest.mark.django_db


def test_default_accepted_sms_with_its_unsubscribe_link_fits_two_parts(
        org: Any, make_shipment: Any, settings: Any) -> None:
    settings.PUBLIC_URL = "https://ship.example.ru"
    shipment = make_shipment(order_number="A-10042", tracking_number="80082345678901")
    facts = ParcelFacts(status="accepted")
    ctx = message_context(shipment=shipment, organization=org, facts=facts, channel="sms",
                          address="79001234567")
    text = rendering.render(DEFAULT_TEMPLATES[("accepted", "sms")][1], ctx)
    assert re.fullmatch(r"Ромашка: заказ A-10042 отправлен, трек 80082345678901\. "
                        r"Отписка: https://ship\.example\.ru/u/[A-Za-z0-9_-]{12}", text), text
    length = rendering.sms_length(text)
    assert (length.encoding, length.segments) == ("UCS-2", 2), length
    # the signed link it replaces would have made it three
    from shipdesk.notifications.links import unsubscribe_link

    signed = text.rsplit(" ", 1)[0] + " " + unsubscribe_link(
        organization_id=org.pk, channel="sms", address="79001234567")
    assert rendering.sms_length(signed).segments > 2


def test_sms_link_switches_the_recipient_off_and_made_up_codes_are_refused(
        org: Any, notif_settings: Any, smsru: Any, make_shipment: Any,
        status_change: Any) -> None:
    sms_channel(org, "smsru", smsru)
    shipment = make_shipment(recipient_email="", recipient_phone="+7 900 765-43-21")
    status_change(shipment, "accepted")
    services.outbox_plan_from_feed(now=NOON)
    services.outbox_send_due(now=NOON)
    [sms] = smsru.messages
    link = re.search(r"Отписка: (\S+)$", sms["text"])
    assert link is not None
    path = urlparse(link.group(1)).path
    code = path.rsplit("/", 1)[-1]
    assert path == f"/u/{code}" and len(code) == 12  # 72 bits
    assert ShortLink.objects.get(code=code).address == "79007654321"
    # a neighbouring or mangled code is not somebody else's link
    for bad in (code[:-1] + ("A" if code[-1] != "A" else "B"), code[:-3], "x" * 40):
        for page in (Client().get(f"/u/{bad}"), Client().post(f"/u/{bad}")):
            assert page.status_code == 404
            assert "Ссылка для отписки повреждена" in page.content.decode()
    assert not Suppression.objects.exists()
    # opening the link (or a messenger's preview of it) only asks
    page = Client().get(path)
    assert page.status_code == 200 and "Ромашка" in page.content.decode()
    assert "+7 900 ***-**-21" in page.content.decode()
    assert not Suppression.objects.exists()
    page = Client().post(path)
    assert page.status_code == 200 and "Вы отписались" in page.content.decode()
    assert Suppression.objects.filter(organization=org, channel="sms",
                                      address="79007654321", source="link").exists()
    # from the next message on
    status_change(shipment, "arrived_at_pickup")
    services.outbox_plan_from_feed(now=NOON)
    services.outbox_send_due(now=NOON)
    assert len(smsru.messages) == 1
    assert Message.objects.get(rule="arrived").status == MessageStatus.SKIPPED


def test_one_recipient_keeps_one_link_and_shops_do_not_share_them(
        org: Any, other_org: Any) -> None:
    from shipdesk.notifications.links import short_code

    a = short_code(organization_id=org.pk, channel="sms", address="79001234567")
    assert a == short_code(organization_id=org.pk, channel="sms", address="79001234567")
    assert a != short_code(organization_id=other_org.pk, channel="sms", address="79001234567")
    assert a != short_code(organization_id=org.pk, channel="sms", address="79001234568")
