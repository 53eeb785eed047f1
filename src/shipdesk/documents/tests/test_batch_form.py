"""«Сформировать партии» from a chosen subset, with a preview; closing asks first."""

from __future__ import annotations

from typing import Any

from django.test import Client

from shipdesk.documents import services
from shipdesk.documents.models import Batch, BatchState
from shipdesk.documents.tests import factories as f
from shipdesk.shipments.models import State
from shipdesk.tenancy.services import Actor


def test_preview_then_form_batches_of_the_chosen_shipments_only(web: Client, org: Any) -> None:
    sp = f.sender(org)
    chosen = [f.shipment(org, sender_profile=sp, cod_amount=100) for _ in range(3)]
    other = f.shipment(org, sender_profile=sp, service_code="PARCEL_CLASS_1")
    left = f.shipment(org, sender_profile=sp)
    page = web.get("/documents/batches/form/").content.decode()
    assert all(s.order_number in page for s in (*chosen, other, left))
    ids = [s.pk for s in (*chosen, other)]
    preview = web.post("/documents/batches/form/", {"step": "preview", "ids": ids})
    html = preview.content.decode()
    assert preview.status_code == 200 and not Batch.objects.exists()
    plan = preview.context["plan"]
    assert sorted(p.count for p in plan) == [1, 3]
    three = next(p for p in plan if p.count == 3)
    assert three.weight_g == sum(s.weight_g for s in chosen) and three.cod_total == 300
    assert "PARCEL_CLASS_1" not in html  # words, not codes
    web.post("/documents/batches/form/", {"step": "confirm", "ids": ids})
    assert Batch.objects.count() == 2
    left.refresh_from_db()
    assert left.state == State.NUMBERED
    assert all(s.state == State.IN_BATCH for s in
               type(left).objects.filter(pk__in=ids))


def test_preview_refuses_a_shipment_without_a_number(web: Client, org: Any) -> None:
    s = f.shipment(org, state=State.READY, tracking=None)
    s.tracking_number = None
    s.save(update_fields=["tracking_number"])
    r = web.post("/documents/batches/form/", {"step": "preview", "ids": [s.pk]})
    assert r.status_code == 422 and s.order_number in r.content.decode()


def test_preview_of_another_organizations_shipment_is_404(web: Client, other_org: Any) -> None:
    s = f.shipment(other_org)
    assert web.post("/documents/batches/form/", {"step": "preview",
                                                 "ids": [s.pk]}).status_code == 404
    assert web.post("/documents/batches/form/", {"step": "confirm",
                                                 "ids": [s.pk]}).status_code == 404
    assert not Batch.objects.exists()


def test_closing_a_batch_asks_first(web: Client, actor: Actor, org: Any) -> None:
    s = f.shipment(org, sender_profile=f.sender(org))
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk])[0]
    ask = web.post(f"/documents/batches/{batch.pk}/close/")
    assert ask.status_code == 200 and "confirmed" in ask.content.decode()
    batch.refresh_from_db()
    assert batch.state == BatchState.OPEN
    web.post(f"/documents/batches/{batch.pk}/close/", {"confirmed": "1"})
    batch.refresh_from_db()
    assert batch.state == BatchState.CLOSED
