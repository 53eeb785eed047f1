"""A parcel's status reads the same everywhere (issue 13, 7): the shipment page and list,
the tracking page, the recipient's page, the tracking dashboard and its exceptions list.
Each page is rendered and read as a person would read it."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from shipdesk.shipments.models import State
from shipdesk.tracking.models import TrackingState
from shipdesk.tracking.polling import tracking_watch
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status, Substatus
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=20)


def _pages(web, client, s) -> dict[str, str]:
    token = TrackingState.objects.get(shipment=s).public_token
    detail = web.get(f"/shipments/{s.pk}/").content.decode()
    listing = web.get(f"/shipments/?q={s.order_number}").content.decode()
    timeline = web.get(f"/tracking/shipments/{s.pk}/").content.decode()
    public = client.get(f"/tracking/t/{token}/").content.decode()
    row = re.search(rf'href="/shipments/{s.pk}/".*?</tr>', listing, re.S)
    assert row is not None, listing
    return {
        "shipment page": re.search(r'data-testid="parcel-status">[^<]*<strong>(.+?)</strong>',
                                   detail)[1],
        "shipment list": re.search(r"<span class=\"muted\" data-status>(.+?)</span>", row[0])[1],
        "tracking page": re.search(r"Статус: <strong>(.+?)</strong>", timeline)[1],
        "recipient's page": re.search(r'<div class="status">(.+?)</div>', public)[1],
    }


def _delivered(org):
    s = shipment(org)
    n = s.tracking_number
    tracking_events_ingest(events=[event(n, 0, Status.ACCEPTED, "1.1"),
                                   event(n, 3, Status.ARRIVED_AT_PICKUP, "8.2"),
                                   event(n, 5, Status.DELIVERED, "2.1")], now=NOW)
    return s


def _returned(org):
    s = shipment(org)
    n = s.tracking_number
    tracking_events_ingest(events=[
        event(n, 0, Status.ACCEPTED, "1.1"), event(n, 3, Status.ARRIVED_AT_PICKUP, "8.2"),
        event(n, 6, Status.REFUSED, "3.4", sub=Substatus.REFUSED),
        event(n, 12, Status.RETURNED, "2.2", sub="returned_to_sender")], now=NOW)
    return s


def _marked_delivered_without_tracking(org):
    # the demo (and a person) can mark a shipment delivered: tracking has no status for it
    s = shipment(org, state=State.DELIVERED)
    tracking_watch(shipment_ids=[s.pk])
    return s


@pytest.mark.parametrize(("make", "text"), [(_delivered, "Вручено"), (_returned, "Возвращено"),
                                            (_marked_delivered_without_tracking, "Вручено")])
def test_every_page_shows_the_same_status(web, client, org, make, text):
    s = make(org)
    assert _pages(web, client, s) == dict.fromkeys(
        ("shipment page", "shipment list", "tracking page", "recipient's page"), text)
    dashboard = web.get("/tracking/").content.decode()
    assert f"<th>{text}</th>" in dashboard


def test_a_return_after_delivery_reads_returning_on_tracking_pages_and_lists(web, client, org):
    s = _delivered(org)
    tracking_events_ingest(events=[event(s.tracking_number, 6, Status.REFUSED, "3.4",
                                         sub=Substatus.REFUSED)], now=NOW)
    pages = _pages(web, client, s)
    assert pages["tracking page"] == pages["recipient's page"] == "Возвращается отправителю"
    dashboard = web.get("/tracking/").content.decode()
    assert "<th>Возвращается отправителю</th>" in dashboard
    # the exceptions list (a return in progress) names it in the same words, not a raw code
    row = re.search(rf'{s.order_number}</a>.*?</tr>', dashboard, re.S)
    assert row is not None and "Возвращается отправителю" in row[0]
    assert "returning" not in row[0]
