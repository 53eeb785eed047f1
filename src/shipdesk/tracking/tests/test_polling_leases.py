"""The poll's claim lease per kind of carrier: a worker that crashed after the sweep claimed
its shipments leaves them out of polling only until the lease runs out — minutes for a
carrier that answers within the call, long enough for a ticket's first fetch otherwise."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import TestCase

from shipdesk.core import duework
from shipdesk.tracking import polling
from shipdesk.tracking.models import TrackingState
from shipdesk.tracking.polling import tracking_watch
from shipdesk.tracking.tests.factories import T0, shipment

pytestmark = pytest.mark.django_db
NOW = T0 + timedelta(days=3)
POLLS = ["tracking.poll.ticket", "tracking.poll.sync"]


def sweep(now):
    """What a sweep at ``now`` hands out: {due work name: ids}. The tasks never run: the
    worker that got them crashed."""
    with TestCase.captureOnCommitCallbacks(execute=False) as callbacks:
        duework.sweep(now=now, names=POLLS)
    return sorted(id_ for callback in callbacks for id_ in callback.args[0])


def test_the_adapters_declare_which_carriers_answer_by_ticket():
    codes = polling.ticket_carrier_codes()
    assert "russian_post" in codes  # getTicket now, the answer 15 minutes later
    assert "cdek" not in codes and "pickpoint" not in codes  # answer within the call
    assert timedelta(minutes=15) + polling.HOLD_MARGIN <= polling.TICKET_POLL_LEASE
    assert polling.SYNC_POLL_LEASE < polling.TICKET_POLL_LEASE


def test_a_crashed_workers_polls_are_retaken_after_their_carriers_lease(org):
    post = shipment(org, carrier="russian_post")
    cdek = shipment(org, carrier="cdek")
    other = shipment(org, carrier="unknown")  # no adapter: treated as answering at once
    tracking_watch(shipment_ids=[post.pk, cdek.pk, other.pk], now=T0)

    assert sweep(NOW) == sorted([post.pk, cdek.pk, other.pk])  # claimed, then the crash
    leases = dict(TrackingState.objects.values_list("shipment_id", "next_poll_at"))
    assert leases[post.pk] == NOW + polling.TICKET_POLL_LEASE
    assert leases[cdek.pk] == leases[other.pk] == NOW + polling.SYNC_POLL_LEASE

    assert sweep(NOW + polling.SYNC_POLL_LEASE - timedelta(seconds=1)) == []
    retaken = NOW + polling.SYNC_POLL_LEASE
    assert sweep(retaken) == sorted([cdek.pk, other.pk])  # soon, for the fast carriers
    # ... while Russian Post's may still have a ticket pending: not asked twice (the fast
    # ones, crashed again, keep coming back each lease)
    assert sweep(NOW + polling.TICKET_POLL_LEASE - timedelta(seconds=1)) == sorted(
        [cdek.pk, other.pk])
    assert sweep(NOW + polling.TICKET_POLL_LEASE) == [post.pk]


def test_final_shipments_are_claimed_by_neither(org):
    post, cdek = shipment(org, carrier="russian_post"), shipment(org, carrier="cdek")
    tracking_watch(shipment_ids=[post.pk, cdek.pk], now=T0)
    TrackingState.objects.update(final=True)
    assert sweep(NOW) == []
