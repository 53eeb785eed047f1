"""Generated histories: a few thousand parcels in bulk, most of them healthy, some lost,
stuck, damaged, partly delivered, unpaid, never returned or overcharged, and some that look
close to a rule without meeting it. ``World.expected`` says which parcel each rule must
find."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.UTC)


@dataclass
class World:
    org: Any
    accounts: dict[str, Any]
    expected: dict[str, set[int]] = field(default_factory=dict)
    healthy: set[int] = field(default_factory=set)
    near_misses: set[int] = field(default_factory=set)


def build_world(org: Any, *, parcels: int = 2000) -> World:
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.finance.models import (
        FinanceTerms,
        PayoutReport,
        PayoutRow,
        Receivable,
        ReceivableState,
    )
    from shipdesk.shipments.models import Shipment, State
    from shipdesk.tracking.models import ShipmentStatusChange, TrackingState

    accounts = {code: CarrierAccount.objects.create(
        organization=org, carrier_code=code, name=code, base_url="http://127.0.0.1:9/")
        for code in ("russian_post", "cdek")}
    FinanceTerms.objects.create(organization=org, carrier_account=accounts["cdek"],
                                payout_lag_days=5)
    world = World(org=org, accounts=accounts,
                  expected={k: set() for k in ("stuck", "lost", "damaged", "partial",
                                               "cod_unpaid", "return_missing", "overcharge")})
    day = dt.timedelta(days=1)
    # (share per 1000, kind found, how to build it)
    plan: list[str] = []
    for kind, per_1000 in (("stuck", 10), ("lost", 8), ("damaged", 5), ("partial", 4),
                           ("cod_unpaid", 10), ("return_missing", 5), ("overcharge", 6),
                           ("near_stuck", 6), ("near_cod", 6), ("near_return", 6),
                           ("moving_late", 6), ("matched_payout", 6)):
        plan += [kind] * max(1, parcels * per_1000 // 1000)
    plan += ["healthy_delivered", "healthy_transit", "healthy_pickup"] * (
        (parcels - len(plan)) // 3 + 1)
    plan = plan[:parcels]
    shipments = Shipment.objects.bulk_create([Shipment(
        organization=org, order_number=f"W-{i}", tracking_number=f"8000000{i:07d}",
        carrier_code="cdek" if i % 2 else "russian_post",
        carrier_account=accounts["cdek" if i % 2 else "russian_post"],
        state=State.DELIVERED if plan[i].startswith("healthy_d") else State.HANDED_OVER,
        declared_value=Decimal("1000.00"), cod_amount=Decimal("1500.00"),
        shipping_cost=Decimal("300.00"), index="630000") for i in range(parcels)],
        batch_size=1000)
    states, changes, receivables = [], [], []
    accepted = NOW - 30 * day
    for s, kind in zip(shipments, plan, strict=True):
        status, final, status_at = "in_transit", False, NOW - 2 * day
        expected, moved = NOW + 3 * day, NOW - 2 * day
        change: list[tuple[str, str, dt.datetime]] = [("accepted", "", accepted)]
        if kind == "stuck":
            expected, moved, status_at = NOW - 12 * day, NOW - 15 * day, NOW - 15 * day
        elif kind == "near_stuck":  # the term passed, within the margin
            expected, moved, status_at = NOW - 2 * day, NOW - 9 * day, NOW - 9 * day
        elif kind == "moving_late":  # late, but moved yesterday
            expected, moved = NOW - 12 * day, NOW - day
        elif kind == "lost":
            status, final, status_at = "lost", True, NOW - 5 * day
        elif kind == "damaged":
            change.append(("damaged", "shortage", NOW - 8 * day))
            status, final, status_at = "delivered", True, NOW - 6 * day
        elif kind == "partial":
            status, final, status_at = "delivered", True, NOW - 6 * day
            change.append(("delivered", "partial", status_at))
        elif kind in ("return_missing", "near_return"):
            status = "returning"
            status_at = NOW - (45 if kind == "return_missing" else 10) * day
        elif kind == "healthy_pickup":
            status, status_at = "arrived_at_pickup", NOW - 20 * day
        elif kind in ("healthy_delivered", "cod_unpaid", "near_cod", "overcharge",
                      "matched_payout"):
            status, final = "delivered", True
            status_at = NOW - (40 if kind == "cod_unpaid" else 4 if kind == "near_cod" else 20) * day
        if status != "accepted":
            change.append((status, "", status_at))
        states.append(TrackingState(
            organization=org, shipment=s, public_token=secrets.token_urlsafe(16),
            carrier_code=s.carrier_code, status=status, status_at=status_at, final=final,
            accepted_at=accepted, last_movement_at=moved, last_event_at=status_at,
            expected_delivery=expected, is_lost=status == "lost"))
        prev = ""
        for st, sub, at in change:
            changes.append(ShipmentStatusChange(organization=org, shipment=s,
                                                previous_status=prev, status=st,
                                                substatus=sub, changed_at=at))
            prev = st
        if status == "delivered":
            paid = kind in ("healthy_delivered", "overcharge", "matched_payout")
            receivables.append(Receivable(
                organization=org, shipment=s, carrier_code=s.carrier_code,
                carrier_account_id=s.carrier_account_id, tracking_number=s.tracking_number,
                order_number=s.order_number, cod_amount=s.cod_amount,
                fee_delivery=Decimal("100.00"),
                state=ReceivableState.PAID if paid else ReceivableState.COLLECTED,
                collected_on=status_at.date(), paid_on=NOW.date() if paid else None,
                paid_amount=s.cod_amount if paid else Decimal(0)))
        if kind in world.expected:
            world.expected[kind].add(s.pk)
        elif kind.startswith("healthy"):
            world.healthy.add(s.pk)
        else:
            world.near_misses.add(s.pk)
    TrackingState.objects.bulk_create(states, batch_size=1000)
    ShipmentStatusChange.objects.bulk_create(changes, batch_size=1000)
    made = {r.shipment_id: r for r in Receivable.objects.bulk_create(receivables,
                                                                      batch_size=1000)}
    report = PayoutReport.objects.create(organization=org, source="upload", filename="r.xlsx",
                                         sha256="0" * 64, content=b"", status="posted")
    rows = []
    for n, (s, kind) in enumerate(zip(shipments, plan, strict=True)):
        if kind == "overcharge":
            r = made[s.pk]
            rows.append(PayoutRow(organization=org, report=report, row_number=n,
                                  tracking_number=s.tracking_number, cod_amount=Decimal("1450"),
                                  fee=Decimal("100.00"), paid_amount=Decimal("1350"),
                                  outcome="amount_differs", receivable=r,
                                  difference=Decimal("-50.00")))
        elif kind == "matched_payout":
            rows.append(PayoutRow(organization=org, report=report, row_number=n,
                                  tracking_number=s.tracking_number, cod_amount=Decimal("1500"),
                                  fee=Decimal("100.00"), paid_amount=Decimal("1400"),
                                  outcome="matched", receivable=made[s.pk]))
    PayoutRow.objects.bulk_create(rows)
    return world


@pytest.fixture
def world(org: Any) -> World:
    return build_world(org, parcels=2000)
