"""The rollups kept current by the intake and tracking's ingest equal an independent count
of the shipments, and a rebuild from scratch gives the same rows."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from shipdesk.analytics import selectors
from shipdesk.analytics.models import ReturnReasonRollup, ShipmentRollup, TransitRollup, UserRollup
from shipdesk.analytics.tests.data import sql, track
from shipdesk.shipments import services
from shipdesk.shipments.models import Shipment
from shipdesk.shipments.tests.factories import number_pool, shipment_data

pytestmark = pytest.mark.django_db


def _rows() -> dict[str, list[Any]]:
    return {m.__name__: sorted(tuple(r) for r in m.objects.values_list(
        *[f.attname for f in m._meta.concrete_fields if f.attname != "id"]))
        for m in (ShipmentRollup, TransitRollup, ReturnReasonRollup, UserRollup)}


def _create(actor: Any, count: int, **over: Any) -> list[Shipment]:
    result = services.shipments_create_many(
        actor=actor, items=[shipment_data(**over) for _ in range(count)],
        dispatch_registration=False)
    assert result.created == count
    ids = [r.shipment_id for r in result.results]
    return list(Shipment.objects.filter(pk__in=ids).order_by("pk"))


def test_intake_and_ingest_keep_the_rollups_equal_to_the_shipments(actor: Any) -> None:
    from shipdesk.tracking.models import TrackingRule

    number_pool(actor)
    TrackingRule.objects.create(control_days=3)  # the carrier's control term, any carrier
    moscow = _create(actor, 4, index="101000", region="Москва", city="Москва")
    omsk = _create(actor, 6)
    base = timezone.now() - timedelta(hours=1)
    track(omsk[:3], "delivered", base=base, transit_days=2, notified=True)
    track(omsk[3:5], "returned", base=base, transit_days=4)
    track(moscow[:1], "delivered", base=base, transit_days=1)
    track(moscow[1:2], "", base=base, transit_days=1)
    f = selectors.filters_parse({})
    t = selectors.totals(actor=actor, f=f)
    assert t["created"] == sql("SELECT COUNT(*) FROM {s}") == 10
    assert t["delivered"] == sql("SELECT COUNT(*) FROM {s} WHERE state = 'delivered'") == 4
    assert t["returned"] == sql("SELECT COUNT(*) FROM {s} WHERE state = 'returned'") == 2
    assert t["handed_over"] == 7
    assert t["cost_sum"] == Decimal(str(sql("SELECT SUM(shipping_cost) FROM {s}") or 0)) \
        .quantize(Decimal("0.01"))
    regions = {r["region"]: r["created"] for r in selectors.by_region(actor=actor, f=f)}
    assert regions == {"Москва": 4, "Омская область": 6}
    assert [(r["reason"], r["n"]) for r in selectors.return_reasons(actor=actor, f=f)] == [
        ("arrived_at_pickup", 2)]  # not collected: the carrier sent it back
    transit = {r["route"]: (r["n"], r["p50"]) for r in selectors.transit_by_route(
        actor=actor, f=f)}
    assert sum(n for n, _p in transit.values()) == 7
    # against the 3 days' term only the returned pair (4 days) came late; most of these
    # parcels are at a final status, which clears our forecast but not the carrier's term
    on_time = selectors.on_time_by_carrier(actor=actor, f=f)
    assert [(r["with_term"], r["late"]) for r in on_time] == [(7, 2)]
    # the same rows when everything is counted again from scratch
    before = _rows()
    call_command("analytics_rebuild", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _rows() == before


def test_notified_recipients_pick_up_more_on_generated_data(actor: Any) -> None:
    """100 parcels: of 50 told recipients 45 collect, of 50 untold only 30 do."""
    number_pool(actor, size=200)
    told, untold = _create(actor, 50), _create(actor, 50)
    base = timezone.now() - timedelta(hours=1)
    track(told[:45], "delivered", base=base, notified=True)
    track(told[45:], "returned", base=base, notified=True)
    track(untold[:30], "delivered", base=base)
    track(untold[30:], "returned", base=base)
    effect = {r["group"]: r for r in selectors.notified_effect(
        actor=actor, f=selectors.filters_parse({}))}
    assert (effect["notified"]["delivered"], effect["notified"]["returned"]) == (45, 5)
    assert effect["notified"]["pickup_rate"] == Decimal("90.0")
    assert (effect["not_notified"]["delivered"], effect["not_notified"]["returned"]) == (30, 20)
    assert effect["not_notified"]["pickup_rate"] == Decimal("60.0")
    assert effect["not_notified"]["return_rate"] == Decimal("40.0")


def test_a_batch_is_one_upsert_per_table_not_one_per_row(actor: Any) -> None:
    number_pool(actor, size=300)
    with CaptureQueriesContext(connection) as writes:
        _create(actor, 200)
    upserts = [q for q in writes.captured_queries
               if "analytics_shipmentrollup" in q["sql"] and "INSERT" in q["sql"]]
    assert len(upserts) == 1


def test_an_edited_shipment_moves_to_its_new_region_and_cost(actor: Any) -> None:
    shipment = services.shipment_create(actor=actor, data=shipment_data())
    services.shipment_update(actor=actor, shipment_id=shipment.pk, data={
        "index": "101000", "region": "Москва", "city": "Москва", "ready": True})
    f = selectors.filters_parse({})
    regions = {r["region"]: r["created"] for r in selectors.by_region(actor=actor, f=f)}
    assert regions == {"Москва": 1, "Омская область": 0}
    shipment.refresh_from_db()
    total = selectors.totals(actor=actor, f=f)
    assert total["cost_sum"] == (shipment.shipping_cost or Decimal("0")).quantize(
        Decimal("0.01"))
    assert total["created"] == 1


def test_a_closed_batch_counts_as_handed_over_once(actor: Any, org: Any) -> None:
    """3 parcels handed over in a batch count when it closes; the carrier's acceptance
    scan later does not count them again; a 4th parcel outside any batch counts at its
    scan; a rebuild gives the same figure."""
    from shipdesk.analytics.services import analytics_rebuild
    from shipdesk.documents import services as documents
    from shipdesk.documents.tests import factories as f

    sp = f.sender(org)
    made = [f.shipment(org, sender_profile=sp) for _ in range(4)]
    analytics_rebuild()
    batch = documents.batch_create(actor=actor, shipment_ids=[s.pk for s in made[:3]])[0]
    documents.batch_close(actor=actor, batch_id=batch.pk)
    f_ = selectors.filters_parse({})
    assert selectors.totals(actor=actor, f=f_)["handed_over"] == 3
    track(made, "", base=timezone.now() - timedelta(hours=2))  # accepted, then arrived
    # independently: every parcel has left "numbered" / "in batch" once
    assert selectors.totals(actor=actor, f=f_)["handed_over"] == 4 == sql(
        "SELECT COUNT(*) FROM {s} WHERE state NOT IN ('numbered', 'in_batch')")
    analytics_rebuild()
    assert selectors.totals(actor=actor, f=f_)["handed_over"] == 4


def test_a_parcel_taken_back_and_handed_over_again_counts_once(actor: Any) -> None:
    """Accepted, cancelled at the counter, accepted again: handed over once; one left
    cancelled is not handed over at all. The live rollups and a rebuild agree."""
    from shipdesk.tracking.services import tracking_events_ingest
    from shipdesk.tracking.statuses import Status
    from shipdesk.tracking.tests.factories import event

    number_pool(actor)
    again, dropped = _create(actor, 2)
    base = timezone.now() + timedelta(minutes=1)  # events after the shipments' creation
    for day, status, code in ((0, Status.ACCEPTED, "1.1"), (0.5, Status.CANCELLED, "26.1")):
        tracking_events_ingest(events=[event(s.tracking_number, day, status, code, base=base)
                                       for s in (again, dropped)], now=base + timedelta(days=1))
    tracking_events_ingest(events=[event(again.tracking_number, 1, Status.ACCEPTED, "1.1",
                                         base=base)], now=base + timedelta(days=2))
    assert list(Shipment.objects.filter(tracking_state__status="cancelled")) == [dropped]
    f = selectors.filters_parse({})
    assert selectors.totals(actor=actor, f=f)["handed_over"] == 1
    before = _rows()
    call_command("analytics_rebuild", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert _rows() == before
