from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet

from shipdesk.numbering.models import NumberPool
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor


def pool_list(*, actor: Actor, carrier_code: str = "") -> QuerySet[NumberPool]:
    actor.require(Perm.VIEW)
    qs = NumberPool.objects.filter(organization=actor.organization)
    if carrier_code:
        qs = qs.filter(carrier_code=carrier_code)
    return qs.order_by("carrier_code", "created_at", "id")


def pool_get(*, actor: Actor, pool_id: int) -> NumberPool | None:
    actor.require(Perm.VIEW)
    return NumberPool.objects.filter(organization=actor.organization, pk=pool_id).first()


def pools_low(*, actor: Actor) -> QuerySet[NumberPool]:
    """Active pools at or below their warning threshold."""
    return pool_list(actor=actor).filter(
        is_active=True, serial_last__lt=F("next_serial") + F("low_threshold"))


def remaining_by_carrier(*, actor: Actor) -> dict[str, int]:
    totals: dict[str, int] = {}
    for pool in pool_list(actor=actor).filter(is_active=True):
        totals[pool.carrier_code] = totals.get(pool.carrier_code, 0) + pool.remaining
    return totals


def accounts_allotting_numbers(*, actor: Actor) -> list[Any]:
    """The organization's active carrier accounts whose adapter hands out number ranges."""
    try:
        from shipdesk.carriers import registry
        from shipdesk.carriers import selectors as carrier_selectors
        from shipdesk.carriers.base import Capability
    except ImportError:
        return []
    found = []
    for account in carrier_selectors.carrier_account_list(actor=actor):
        if not account.is_active:
            continue
        try:
            cls = registry.adapter_class(account.carrier_code)
        except LookupError:
            continue
        if Capability.NUMBER_POOL in cls.capabilities:
            found.append(account)
    return found
