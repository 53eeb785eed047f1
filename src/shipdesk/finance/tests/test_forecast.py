"""The forecast of incoming money and its backtest on a generated year of the organization's
own history; the debt's ageing now and over time (rollups, SVG chart)."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.finance import charts, selectors, services
from shipdesk.finance.models import ReportStatus
from shipdesk.shipments.models import Shipment, State
from shipdesk.tracking.models import ShipmentStatusChange

pytestmark = pytest.mark.django_db
START, TODAY = dt.date(2025, 12, 1), dt.date(2026, 12, 1)


def _year(org: Any, account: Any, *, per_day: int, rng: random.Random) -> dict[dt.date, list[str]]:
    """A year of COD parcels delivered every day, each paid 5–8 days later (its row's date),
    reported four weeks at a time (in the sandbox carrier's CSV): 14 reports, not 52, for
    the suite's time — the forecast reads the rows' payment days, not the report's."""
    shipments, changes, payouts = [], [], {}
    n = 0
    day = START
    while day < TODAY:
        for _ in range(per_day):
            n += 1
            shipments.append(Shipment(organization=org, order_number=f"Y-{n}",
                                      tracking_number=f"YR{n:08d}", cod_amount=Decimal(
                                          rng.randrange(500, 5000)), carrier_code="sandbox",
                                      carrier_account=account, state=State.DELIVERED))
        day += dt.timedelta(days=1)
    Shipment.objects.bulk_create(shipments, batch_size=1000)
    for i, s in enumerate(Shipment.objects.filter(organization=org).order_by("pk")):
        delivered = START + dt.timedelta(days=i // per_day)
        changes.append(ShipmentStatusChange(
            organization=org, shipment=s, status="delivered",
            changed_at=dt.datetime.combine(delivered, dt.time(12), tzinfo=dt.UTC)))
        paid = delivered + dt.timedelta(days=rng.choice((5, 6, 7, 7, 8)))
        if paid < TODAY:
            fee = (s.cod_amount * Decimal("0.02")).quantize(Decimal("0.01"))
            payouts.setdefault(START + dt.timedelta(days=(paid - START).days // 28 * 28), []).append(
                f"{s.tracking_number};{s.order_number};{s.cod_amount};{fee};"
                f"{s.cod_amount - fee};{paid.isoformat()}")
    ShipmentStatusChange.objects.bulk_create(changes, batch_size=1000)
    return payouts


def test_forecast_backtest_on_a_generated_year(actor: Any, org: Any, carrier_account: Any
                                               ) -> None:
    account = carrier_account("sandbox", payout_lag_days=10)
    payouts = _year(org, account, per_day=3, rng=random.Random(17))
    while services.receivables_from_feed():
        pass
    for week, rows in sorted(payouts.items()):
        content = ("tracking_number;order_reference;cod_amount;fee;paid_amount;paid_on\n"
                   + "\n".join(rows) + "\n").encode()
        report = services.report_import(actor=actor, filename=f"{week}.csv", content=content
                                        ).report
        assert report.status == ReportStatus.POSTED and report.totals["matched"] == len(rows)

    line = next(f for f in selectors.forecast(organization_id=org.pk, today=TODAY)
                if f.carrier_code == "sandbox")
    # the observed lag (~6.6 days) wins over the contract's 10
    assert line.lag_days == 7
    assert line.backtest_days > 300
    assert line.error_2 is not None and line.error_7 is not None
    # lags spread over 5–8 days: a 7-day window averages it out, a 2-day one cannot
    assert Decimal(0) < line.error_7 < line.error_2 < Decimal(100)
    print(f"backtest WAPE: 2 days {line.error_2}%, 7 days {line.error_7}% "
          f"over {line.backtest_days} days")
    # what is still owed arrives in the next week: parcels of the last days
    assert line.next_7 > 0 and line.next_2 <= line.next_7

    debt = {d.carrier_code: d for d in selectors.debt_ageing_now(organization_id=org.pk,
                                                                 today=TODAY)}["sandbox"]
    unpaid = sum(r.cod_amount for r in org_receivables(org) if r.paid_on is None)
    assert debt.total == unpaid and debt.buckets[3] == 0

    services.debt_snapshot_take(day=TODAY)
    svg = charts.ageing_svg(selectors.debt_history(organization_id=org.pk, today=TODAY))
    assert svg.startswith("<svg") and "<rect" in svg and "0–7" in svg


def org_receivables(org: Any) -> list[Any]:
    from shipdesk.finance.models import Receivable

    return list(Receivable.objects.filter(organization=org))


def test_backtest_of_a_perfect_schedule_is_exact() -> None:
    days = {START + dt.timedelta(days=i): (Decimal(100), Decimal(100) if i >= 3 else Decimal(0))
            for i in range(60)}
    e2, e7, tested = selectors.backtest(days, lag=3)
    assert (e2, e7) == (Decimal("0.0"), Decimal("0.0")) and tested > 30
