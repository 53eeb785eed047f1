from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from shipdesk.carriers.base import BatchResult, Capability, ItemError
from shipdesk.carriers.models import CarrierAccount
from shipdesk.core.errors import Conflict, NotFound, ValidationFailed
from shipdesk.documents import services
from shipdesk.documents.models import Batch, BatchState
from shipdesk.documents.tests import factories as f
from shipdesk.shipments.models import Shipment, State
from shipdesk.tenancy.services import Actor

DAY = date(2026, 11, 23)


def _state(s: Shipment) -> str:
    s.refresh_from_db()
    return s.state


@pytest.fixture
def sp(org: Any):
    return f.sender(org)


def test_auto_group_splits_by_carrier_mail_type_and_drop_off(actor: Actor, org: Any, sp: Any) -> None:
    a1 = f.shipment(org, sender_profile=sp)
    a2 = f.shipment(org, sender_profile=sp)
    b = f.shipment(org, sender_profile=sp, service_code="POSTAL_PARCEL")
    c = f.shipment(org, sender_profile=sp, options={"drop_off_point": "101001"})
    d = f.shipment(org, sender_profile=sp, carrier_code="cdek", tracking="1234567890")
    draft = f.shipment(org, sender_profile=sp, state=State.READY, tracking_number=None)
    batches = services.batch_auto_group(actor=actor, shipping_date=DAY)
    groups = sorted(sorted(Batch.objects.get(pk=x.pk).entries.values_list("shipment_id", flat=True))
                    for x in batches)
    assert groups == sorted([sorted([a1.pk, a2.pk]), [b.pk], [c.pk], [d.pk]])
    assert [x.number for x in sorted(batches, key=lambda x: x.number)] == [1, 2, 3, 4]
    assert all(_state(s) == State.IN_BATCH for s in (a1, a2, b, c, d))
    assert _state(draft) == State.READY
    # a second run adds new parcels to the open batch of their group, no new batch
    a3 = f.shipment(org, sender_profile=sp)
    again = services.batch_auto_group(actor=actor, shipping_date=DAY)
    assert len(again) == 1 and again[0].entries.filter(shipment=a3).exists()
    assert again[0].entries.count() == 3


def test_auto_group_splits_at_the_carrier_limit(actor: Actor, org: Any, sp: Any) -> None:
    account = CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                            name="Почта", base_url="http://127.0.0.1:1",
                                            settings={"max_batch_size": 2})
    ships = [f.shipment(org, sender_profile=sp, carrier_account=account) for _ in range(5)]
    batches = services.batch_auto_group(actor=actor, shipping_date=DAY)
    assert sorted(b.entries.count() for b in batches) == [1, 2, 2]
    assert sum(b.entries.count() for b in batches) == len(ships)


def test_batch_create_refuses_mixed_carriers_and_mail_types(actor: Actor, org: Any, sp: Any) -> None:
    a = f.shipment(org, sender_profile=sp)
    b = f.shipment(org, sender_profile=sp, service_code="EMS")
    c = f.shipment(org, sender_profile=sp, carrier_code="cdek", tracking="1234567891")
    with pytest.raises(ValidationFailed) as exc:
        services.batch_create(actor=actor, shipment_ids=[a.pk, b.pk, c.pk])
    messages = [e.message for e in exc.value.errors]
    assert [e.loc for e in exc.value.errors] == [("shipment_ids", 1), ("shipment_ids", 2)]
    assert b.order_number in messages[0] and "вид" in messages[0]
    assert c.order_number in messages[1] and "перевозчик" in messages[1]
    assert not Batch.objects.exists()  # nothing half-made
    assert _state(a) == State.NUMBERED


def test_only_numbered_shipments_go_into_a_batch(actor: Actor, org: Any, sp: Any) -> None:
    ready = f.shipment(org, sender_profile=sp, state=State.READY)
    with pytest.raises(ValidationFailed) as exc:
        services.batch_create(actor=actor, shipment_ids=[ready.pk])
    assert ready.order_number in exc.value.errors[0].message


def test_another_organizations_batch_and_shipments_are_not_found(
        actor: Actor, org: Any, other_org: Any, sp: Any) -> None:
    from shipdesk.tenancy.models import Membership, Role

    owner = Membership.objects.get(organization=other_org, role=Role.OWNER).user
    other = Actor(organization=other_org, role=Role.OWNER, user=owner)
    theirs = f.shipment(other_org, sender_profile=f.sender(other_org))
    their_batch = services.batch_create(actor=other, shipment_ids=[theirs.pk])[0]
    mine = f.shipment(org, sender_profile=sp)
    with pytest.raises(NotFound):
        services.batch_create(actor=actor, shipment_ids=[theirs.pk])
    with pytest.raises(NotFound):
        services.batch_add(actor=actor, batch_id=their_batch.pk, shipment_ids=[mine.pk])
    with pytest.raises(NotFound):
        services.batch_close(actor=actor, batch_id=their_batch.pk)
    with pytest.raises(NotFound):
        services.document_request(actor=actor, batch_id=their_batch.pk, kind="f103_pdf")


def test_remove_and_move_keep_states_right(actor: Actor, org: Any, sp: Any) -> None:
    a, b, c = (f.shipment(org, sender_profile=sp) for _ in range(3))
    first = services.batch_create(actor=actor, shipment_ids=[a.pk, b.pk], shipping_date=DAY)[0]
    second = services.batch_create(actor=actor, shipment_ids=[c.pk], shipping_date=DAY)[0]
    services.batch_remove(actor=actor, batch_id=first.pk, shipment_ids=[a.pk])
    assert _state(a) == State.NUMBERED
    services.batch_move(actor=actor, batch_id=first.pk, to_batch_id=second.pk,
                        shipment_ids=[b.pk])
    assert _state(b) == State.IN_BATCH
    assert list(second.entries.values_list("shipment_id", flat=True)) == [c.pk, b.pk]
    assert first.entries.count() == 0
    with pytest.raises(ValidationFailed):  # not in that batch
        services.batch_remove(actor=actor, batch_id=first.pk, shipment_ids=[c.pk])


def test_close_locally_hands_over_and_freezes_the_batch(actor: Actor, org: Any, sp: Any) -> None:
    a, b = f.shipment(org, sender_profile=sp), f.shipment(org, sender_profile=sp)
    batch = services.batch_create(actor=actor, shipment_ids=[a.pk], shipping_date=DAY)[0]
    closed = services.batch_close(actor=actor, batch_id=batch.pk)
    assert closed.state == BatchState.CLOSED and closed.closed_at is not None
    assert _state(a) == State.HANDED_OVER
    with pytest.raises(Conflict, match="уже передана"):
        services.batch_close(actor=actor, batch_id=batch.pk)
    with pytest.raises(Conflict):
        services.batch_add(actor=actor, batch_id=batch.pk, shipment_ids=[b.pk])
    with pytest.raises(Conflict):
        services.batch_remove(actor=actor, batch_id=batch.pk, shipment_ids=[a.pk])


class FakeAdapter:
    capabilities = frozenset({Capability.BATCHES})

    def __init__(self, errors: tuple[ItemError, ...] = ()) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.errors = errors

    def create_batch(self, carrier_ids: list[str], *, shipping_date: date) -> BatchResult:
        self.calls.append(("create_batch", (tuple(carrier_ids), shipping_date)))
        return BatchResult(batch_id="24", carrier_ids=tuple(carrier_ids), errors=self.errors)

    def close_batch(self, batch_id: str) -> None:
        self.calls.append(("close_batch", batch_id))


def test_close_goes_through_the_carrier_when_it_has_batches(
        actor: Actor, org: Any, sp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    account = CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                            name="Почта", base_url="http://127.0.0.1:1")
    fake = FakeAdapter()
    monkeypatch.setattr(services, "_adapter_for", lambda acc: fake)
    a = f.shipment(org, sender_profile=sp, carrier_account=account, carrier_order_id="777")
    b = f.shipment(org, sender_profile=sp, carrier_account=account, carrier_order_id="778")
    batch = services.batch_create(actor=actor, shipment_ids=[a.pk, b.pk], shipping_date=DAY)[0]
    closed = services.batch_close(actor=actor, batch_id=batch.pk)
    assert fake.calls == [("create_batch", (("777", "778"), DAY)), ("close_batch", "24")]
    assert closed.carrier_batch_id == "24"


def test_carrier_refusal_leaves_the_batch_open(
        actor: Actor, org: Any, sp: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    account = CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                            name="Почта", base_url="http://127.0.0.1:1")
    fake = FakeAdapter(errors=(ItemError(reference="777", message="ILLEGAL_INDEX_TO"),))
    monkeypatch.setattr(services, "_adapter_for", lambda acc: fake)
    a = f.shipment(org, sender_profile=sp, carrier_account=account, carrier_order_id="777")
    batch = services.batch_create(actor=actor, shipment_ids=[a.pk], shipping_date=DAY)[0]
    with pytest.raises(ValidationFailed) as exc:
        services.batch_close(actor=actor, batch_id=batch.pk)
    assert exc.value.errors[0].loc == ("shipments", a.order_number)
    batch.refresh_from_db()
    assert batch.state == BatchState.OPEN and _state(a) == State.IN_BATCH
