"""Closing a batch through the real Russian Post adapter against its emulator on loopback
(ports 18500–18599 belong to the documents domain)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from django.utils import timezone

from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.registry import adapter_for_account
from shipdesk.carriers.russian_post import emulator
from shipdesk.carriers.russian_post.tests.conftest import parcel
from shipdesk.documents import services
from shipdesk.documents.models import BatchState
from shipdesk.documents.tests import factories as f
from shipdesk.shipments.models import State
from shipdesk.tenancy.services import Actor


@pytest.fixture
def otpravka() -> Iterator[emulator.EmulatorServer]:
    for port in range(18550, 18600):
        try:
            server = emulator.serve("127.0.0.1", port, config=emulator.Config(), speed=1.0)
        except OSError:
            continue
        yield server
        server.shutdown()
        return
    raise RuntimeError("no free port in 18550-18599")


def test_close_creates_and_checks_in_the_batch_at_russian_post(
        actor: Actor, org: Any, otpravka: emulator.EmulatorServer) -> None:
    account = CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Отправка", base_url=otpravka.url,
        credentials={"token": "test-token", "login": "test", "password": "test"},
        settings={"tracking_url": otpravka.url, "index_from": "101000"})
    created = adapter_for_account(account).create_parcels(
        [parcel("P-1", cod_amount=0, declared_value=0), parcel("P-2", cod_amount=0, declared_value=0)])
    assert not created.errors, created.errors
    sp = f.sender(org)
    ships = [f.shipment(org, sender_profile=sp, carrier_account=account,
                        service_code="POSTAL_PARCEL", carrier_order_id=c.carrier_id)
             for c in created.created]
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk for s in ships],
                                  shipping_date=timezone.localdate())[0]
    closed = services.batch_close(actor=actor, batch_id=batch.pk)
    assert closed.state == BatchState.CLOSED and closed.carrier_batch_id
    for s in ships:
        s.refresh_from_db()
        assert s.state == State.HANDED_OVER
    # at the carrier the batch is checked in: no longer CREATED (open for edits)
    name = closed.carrier_batch_id.split(",")[0]
    info = httpx.get(f"{otpravka.url}/1.0/batch/{name}", headers={
        "Authorization": "AccessToken test-token",
        "X-User-Authorization": "Basic dGVzdDp0ZXN0"})
    assert info.status_code == 200
    assert info.json()["batch-status"] != "CREATED"
    # Russian Post assigned its own barcodes when the parcels entered the batch; ours
    # differ (test numbers), and that is on record for the operator
    from shipdesk.tenancy.models import AuditEntry

    entry = AuditEntry.objects.get(organization=org, action="batch.carrier_numbers_differ")
    assert sorted(entry.data["numbers"]) == sorted(s.order_number for s in ships)
