"""A typed tracking number must be the organization's own, and no organization can block
another's numbering (docs/tracking-numbers.md)."""

from __future__ import annotations

from typing import Any

from django.utils import translation

from shipdesk.numbering import services as numbering
from shipdesk.numbering.validation import rp14_compose
from shipdesk.shipments import services
from shipdesk.shipments.models import Shipment, State
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tenancy.models import Role
from shipdesk.tenancy.services import Actor


def _pool(actor: Actor, first: int = 0, last: int = 99) -> Any:
    return numbering.pool_create(actor=actor, carrier_code="russian_post",
                                 first_number=rp14_compose("800996", "11", first),
                                 last_number=rp14_compose("800996", "11", last))


def _other(other_org: Any, make_user: Any) -> Actor:
    from shipdesk.tenancy.models import Membership

    user = make_user()
    Membership.objects.create(user=user, organization=other_org, role=Role.OWNER)
    return Actor(organization=other_org, role=Role.OWNER, user=user)


def test_a_number_outside_the_organizations_ranges_is_refused_without_naming_anyone(
        actor: Actor, other_org: Any, make_user: Any) -> None:
    _pool(actor)
    intruder = _other(other_org, make_user)
    with translation.override("ru"):
        result = services.shipments_create_many(actor=intruder, items=[
            shipment_data(tracking_number=rp14_compose("800996", "11", 0))])
    error = result.results[0].errors[0]
    assert error.loc[-1] == "tracking_number" and error.code == "not_own_number"
    assert "не из ваших диапазонов" in error.message
    for word in ("друг", "чуж", "организац", actor.organization.name):
        assert word not in error.message.lower()


def test_another_organization_typing_our_next_numbers_does_not_block_us(
        actor: Actor, other_org: Any, make_user: Any) -> None:
    _pool(actor)
    intruder = _other(other_org, make_user)
    # the intruder claims the very same range, then types our next numbers
    _pool(intruder)
    typed = services.shipments_create_many(actor=intruder, items=[
        shipment_data(tracking_number=rp14_compose("800996", "11", n)) for n in range(5)])
    assert typed.created == 5
    mine = services.shipments_create_many(actor=actor, items=[shipment_data() for _ in range(5)])
    assert mine.created == 5 and not mine.rejected
    assert [r.tracking_number for r in mine.results] == [
        rp14_compose("800996", "11", n) for n in range(5)]
    one = services.shipment_create(actor=actor, data=shipment_data())
    assert one.state == State.NUMBERED and one.tracking_number == rp14_compose("800996", "11", 5)


def test_a_number_typed_from_our_own_range_ahead_of_the_counter_is_passed_over(
        actor: Actor) -> None:
    pool = _pool(actor)
    ahead = [rp14_compose("800996", "11", n) for n in (1, 2, 4)]
    typed = services.shipments_create_many(actor=actor, items=[
        shipment_data(tracking_number=n) for n in ahead])
    assert typed.created == 3
    issued = services.shipments_create_many(actor=actor, items=[shipment_data() for _ in range(3)])
    assert issued.created == 3
    assert [r.tracking_number for r in issued.results] == [
        rp14_compose("800996", "11", n) for n in (0, 3, 5)]
    pool.refresh_from_db()
    assert pool.next_serial == 6
    manual = numbering.numbers_issue_manual(actor=actor, carrier_code="russian_post", count=2)
    assert manual == [rp14_compose("800996", "11", n) for n in (6, 7)]


def test_passing_over_taken_numbers_that_spends_the_pool_numbers_what_it_can(
        actor: Actor) -> None:
    """The free numbers go to the first shipments (numbering allocates partially, #16); the
    one left over is stored with the reason, never silently without a number."""
    pool = _pool(actor, last=3)
    services.shipments_create_many(actor=actor, items=[
        shipment_data(tracking_number=rp14_compose("800996", "11", n)) for n in (1, 2)])
    result = services.shipments_create_many(actor=actor, items=[shipment_data() for _ in range(3)])
    assert result.created == 3
    numbers = [r.tracking_number for r in result.results]
    assert numbers[:2] == [rp14_compose("800996", "11", n) for n in (0, 3)]
    assert numbers[2] is None
    assert "исчерпан" in Shipment.objects.get(pk=result.results[2].shipment_id).numbering_error
    pool.refresh_from_db()
    assert pool.next_serial == 4  # spent, the typed 1 and 2 passed over


def test_a_range_claimed_first_by_another_organization_does_not_block_ours(
        actor: Actor, other_org: Any, make_user: Any) -> None:
    intruder = _other(other_org, make_user)
    _pool(intruder)
    numbering.numbers_issue_manual(actor=intruder, carrier_code="russian_post", count=50)
    pool = _pool(actor)  # not refused, and nothing says someone else has it
    assert pool.next_serial == 0
    numbers = numbering.numbers_issue(organization=actor.organization,
                                      carrier_code="russian_post", count=3)
    assert numbers == [rp14_compose("800996", "11", n) for n in range(3)]


def test_carriers_numbering_parcels_themselves_take_typed_numbers_per_organization(
        actor: Actor, other_org: Any, make_user: Any) -> None:
    intruder = _other(other_org, make_user)
    for who in (intruder, actor):
        result = services.shipments_create_many(actor=who, items=[shipment_data(
            carrier_code="cdek", service_code="", tracking_number="1234567890")])
        assert result.created == 1, result.results[0].errors
    again = services.shipments_create_many(actor=actor, items=[shipment_data(
        carrier_code="cdek", service_code="", tracking_number="1234567890")])
    assert "уже занят другим вашим отправлением" in again.results[0].errors[0].message
