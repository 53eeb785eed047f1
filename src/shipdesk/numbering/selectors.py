from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import QuerySet

from shipdesk.numbering.models import NumberPool
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor


def pool_list(*, actor: Actor, carrier_code: str = "") -> QuerySet[NumberPool]:
    actor.require(Perm.VIEW)
    qs = NumberPool.objects.filter(organization=actor.organization)
    if carrier_code:
        qs = qs.filter(carrier_code=carrier_code)
    return qs.order_by("carrier_code", "created_at", "id")


def own_number_checker(*, organization_id: int) -> Callable[[str, str], bool]:
    """Whether a (normalised) number lies in one of the organization's pools of the carrier,
    active or not, issued yet or not: the organization's own range. Its pools are read once;
    the check is then pure (an intake checks every typed number with it). Only the
    organization's own pools count: what others claim is never looked at nor told."""
    ranges: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for carrier, prefix, country, first, last in NumberPool.objects.filter(
            organization_id=organization_id).values_list(
            "carrier_code", "prefix", "country", "serial_first", "serial_last"):
        ranges.setdefault((carrier, prefix, country), []).append((first, last))

    def owned(number: str, carrier_code: str) -> bool:
        if len(number) == 14 and number.isdigit():
            key, serial = (carrier_code, number[:8], ""), number[8:13]
        elif len(number) == 13 and number[2:11].isdigit():
            key, serial = (carrier_code, number[:2], number[11:13]), number[2:10]
        else:
            return False
        value = int(serial)
        return any(first <= value <= last for first, last in ranges.get(key, ()))

    return owned


def pool_get(*, actor: Actor, pool_id: int) -> NumberPool | None:
    actor.require(Perm.VIEW)
    return NumberPool.objects.filter(organization=actor.organization, pk=pool_id).first()


def pools_low(*, actor: Actor) -> QuerySet[NumberPool]:
    """Active pools flagged when their carrier's numbers ran low (until a range is added)."""
    return pool_list(actor=actor).filter(is_active=True, low_since__isnull=False)


def carriers_low(*, actor: Actor) -> list[dict[str, Any]]:
    """Carriers' series of numbers (14-digit; S10 per first letter of the service
    indicator: pools of one series stand in for one another) whose active pools together
    have no more numbers left than the warning threshold of the pool in use (the first
    with numbers left; the last one when all are used up)."""
    by_series: dict[tuple[str, str, str], list[NumberPool]] = {}
    for pool in pool_list(actor=actor).filter(is_active=True):
        by_series.setdefault((pool.carrier_code, pool.kind, pool.series), []).append(pool)
    out = []
    for (carrier, kind, series), pools in by_series.items():
        remaining = sum(max(p.remaining, 0) for p in pools)
        in_use = next((p for p in pools if p.remaining > 0), pools[-1])
        if remaining <= in_use.low_threshold:
            out.append({"carrier_code": carrier, "kind": kind, "series": series,
                        "remaining": remaining, "threshold": in_use.low_threshold})
    return out


def remaining_by_carrier(*, actor: Actor) -> dict[str, int]:
    totals: dict[str, int] = {}
    for pool in pool_list(actor=actor).filter(is_active=True):
        totals[pool.carrier_code] = totals.get(pool.carrier_code, 0) + pool.remaining
    return totals


def carrier_choices() -> list[tuple[str, str]]:
    """(code, name) of every carrier Shipdesk has an adapter for, for the number check."""
    try:
        from shipdesk.carriers import registry
        from shipdesk.carriers.names import carrier_name
    except ImportError:
        return []
    out = []
    for code in registry.all_codes():
        try:
            registry.adapter_class(code)
            out.append((code, carrier_name(code)))
        except LookupError:
            continue
    return out


def accounts_allotting_numbers(*, actor: Actor) -> list[Any]:
    """The organization's active carrier accounts whose adapter hands out number ranges."""
    try:
        from shipdesk.carriers import registry
        from shipdesk.carriers import selectors as carrier_selectors
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
        if allots_numbers(cls):
            found.append(account)
    return found


def allots_numbers(adapter: Any) -> bool:
    """Whether an adapter (class) hands out ranges through the carrier's API: it numbers
    from pools (``Capability.NUMBER_POOL``) and implements ``allot_numbers``. Russian Post
    numbers from pools, but its ranges are allotted by contract, outside the API."""
    from shipdesk.carriers.base import Capability, CarrierAdapter

    if Capability.NUMBER_POOL not in adapter.capabilities:
        return False
    method = getattr(adapter, "allot_numbers", None)
    return method is not None and getattr(method, "__func__", method) is not (
        CarrierAdapter.allot_numbers)
