"""An automation rule may narrow a parcel's notification channels (shipment options
``notify_channels``): «не уведомлять» sends nothing to that recipient, others as usual."""

from __future__ import annotations

from typing import Any

import pytest

from shipdesk.notifications.models import Message
from shipdesk.notifications.tests.conftest import plan_and_send

pytestmark = pytest.mark.django_db


def test_a_parcel_whose_rule_says_no_notifications_gets_none(
        org: Any, notif_settings: Any, email_channel: Any, inbox: Any, make_shipment: Any,
        status_change: Any) -> None:
    quiet = make_shipment(recipient_email="quiet@example.test", options={"notify_channels": []})
    usual = make_shipment(recipient_email="usual@example.test")
    by_email = make_shipment(recipient_email="mail@example.test",
                             options={"notify_channels": ["email"]})
    for shipment in (quiet, usual, by_email):
        status_change(shipment, "accepted")
    plan_and_send()
    assert sorted(m["To"] for m in inbox.messages) == ["mail@example.test", "usual@example.test"]
    assert not Message.objects.filter(shipment=quiet).exists()
