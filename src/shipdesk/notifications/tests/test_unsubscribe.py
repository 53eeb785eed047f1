"""The e-mail unsubscribe link: a person's click unsubscribes (the page posts itself, seen
in a real headless Chromium), a link checker's plain GET does not, a mail client's RFC 8058
one-click POST does, a tampered link changes nothing."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from django.test import Client

from shipdesk.notifications import services
from shipdesk.notifications.links import unsubscribe_token
from shipdesk.notifications.models import Suppression
from shipdesk.notifications.tests.conftest import NOON


def _emailed_link(inbox: Any, make_shipment: Any, status_change: Any) -> tuple[str, Any]:
    """Sends the "accepted" e-mail to anna@example.test; the unsubscribe link in its text
    and the message."""
    shipment = make_shipment(recipient_email="anna@example.test")
    status_change(shipment, "accepted")
    services.outbox_plan_from_feed(now=NOON)
    services.outbox_send_due(now=NOON)
    [mail] = inbox.messages
    found = re.search(r"Отписаться от уведомлений: (\S+)", inbox.text_of(mail))
    assert found is not None
    return found.group(1), mail


def _suppressed(org: Any) -> bool:
    return Suppression.objects.filter(organization=org, channel="email",
                                      address="anna@example.test").exists()


@pytest.fixture
def chromium_page(chromium: Any) -> Any:
    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(15_000)
    return page


@pytest.mark.browser
def test_opening_the_emailed_link_in_a_browser_unsubscribes(
        transactional_db: Any, live_server: Any, settings: Any, chromium_page: Any, org: Any,
        notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    settings.PUBLIC_URL = live_server.url
    link, mail = _emailed_link(inbox, make_shipment, status_change)
    assert mail["List-Unsubscribe"] == f"<{link}>"
    assert link.startswith(live_server.url + "/notifications/u/")
    assert not _suppressed(org)
    chromium_page.goto(link)  # one click in the mail client: nothing else to press
    chromium_page.wait_for_selector("text=Вы отписались от уведомлений")
    assert "anna@example.test" in chromium_page.content()
    assert _suppressed(org)


@pytest.mark.django_db
def test_a_plain_get_of_the_link_changes_nothing(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    link, _mail = _emailed_link(inbox, make_shipment, status_change)
    path = httpx.URL(link).path
    for _ in range(2):  # a link checker, even one that fetches twice
        page = Client().get(path)
        assert page.status_code == 200
        html = page.content.decode()
        # the page that posts itself, with a button for browsers without scripts
        assert '<form id="unsubscribe-form" method="post" data-submit-on-load>' in html
        assert "<noscript><button>Отписаться</button></noscript>" in html
        assert "Ромашка" in html
    assert Client().head(path).status_code == 200
    assert not _suppressed(org)


@pytest.mark.django_db
def test_rfc8058_one_click_post_unsubscribes_without_a_csrf_token(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    _link, mail = _emailed_link(inbox, make_shipment, status_change)
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    path = httpx.URL(mail["List-Unsubscribe"].strip("<>")).path
    # what a mail client sends (RFC 8058 §3.1): a form POST, no cookie, no CSRF token
    answer = Client(enforce_csrf_checks=True).post(
        path, data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 200
    assert _suppressed(org)
    # a repeat (the client retries) is harmless
    again = Client(enforce_csrf_checks=True).post(path, {"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert Suppression.objects.filter(organization=org, address="anna@example.test").count() == 1


@pytest.mark.django_db
def test_a_tampered_link_unsubscribes_nobody_by_get_or_post(org: Any) -> None:
    token = unsubscribe_token(organization_id=org.pk, channel="email", address="a@example.test")
    value, sig = token.rsplit(":", 1)
    forged = value[:-2] + ("AA" if value[-2:] != "AA" else "BB") + ":" + sig
    for answer in (Client().get(f"/notifications/u/{forged}/"),
                   Client().post(f"/notifications/u/{forged}/")):
        assert answer.status_code == 400
        assert "Ссылка для отписки повреждена" in answer.content.decode()
    assert not Suppression.objects.exists()
