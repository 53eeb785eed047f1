"""Finance's read side: debt and its ageing, the forecast with its backtest, per-order
economics, P&L, funnel, returns, the ledger for 1C. Heavy history comes from the daily
rollups (``CashDaily``, ``DebtSnapshot``), never from scanning every receivable."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce

from shipdesk.finance.ledger import ZERO
from shipdesk.finance.models import (
    Account,
    CashDaily,
    DebtSnapshot,
    EntryKind,
    FeesMode,
    FinanceTerms,
    Mailbox,
    OrderState,
    PayoutReport,
    PayoutRow,
    Posting,
    Receivable,
    ReceivableState,
)
from shipdesk.tenancy.services import Actor

OPEN = (ReceivableState.COLLECTED, ReceivableState.OVERDUE)
BUCKETS = ((0, 7), (8, 14), (15, 30), (31, None))
BUCKET_LABELS = ("0–7", "8–14", "15–30", ">30")
_MONEY = DecimalField(max_digits=16, decimal_places=2)


@dataclass
class DebtLine:
    carrier_code: str
    buckets: list[Decimal]
    count: int
    net: Decimal = ZERO  # the total less the fees the carrier will withhold from it

    @property
    def total(self) -> Decimal:
        return sum(self.buckets, ZERO)


def _kop(value: Any) -> Decimal:
    """Back to kopecks (SQLite sums decimals as floats)."""
    return Decimal(value or 0).quantize(ZERO)


def debt_ageing_now(*, organization_id: int, today: dt.date) -> list[DebtLine]:
    """What each carrier owes now (COD collected, not paid), by days since collection."""
    aggregates = {}
    for i, (low, high) in enumerate(BUCKETS):
        cond = Q(collected_on__lte=today - dt.timedelta(days=low))
        if high is not None:
            cond &= Q(collected_on__gte=today - dt.timedelta(days=high))
        aggregates[f"b{i}"] = Coalesce(Sum("cod_amount", filter=cond), Value(ZERO),
                                       output_field=_MONEY)
    withheld = Case(When(fees_mode=FeesMode.DEDUCTED,
                         then=F("fee_commission") + F("fee_delivery") + F("fee_insurance")),
                    default=Value(ZERO), output_field=_MONEY)
    aggregates["net"] = Coalesce(Sum(F("cod_amount") - withheld, output_field=_MONEY),
                                 Value(ZERO), output_field=_MONEY)
    rows = (Receivable.objects.filter(organization_id=organization_id, state__in=OPEN)
            .values("carrier_code").annotate(n=Count("pk"), **aggregates).order_by("carrier_code"))
    out = []
    for r in rows:
        row: dict[str, Any] = dict(r)
        out.append(DebtLine(row["carrier_code"], [_kop(row[f"b{i}"]) for i in range(4)],
                            row["n"], _kop(row["net"])))
    return out


def debt_history(*, organization_id: int, days: int = 90, today: dt.date
                 ) -> list[DebtSnapshot]:
    return list(DebtSnapshot.objects.filter(
        organization_id=organization_id, day__gt=today - dt.timedelta(days=days))
        .order_by("day", "carrier_code"))


# --- forecast -------------------------------------------------------------------------------
@dataclass
class ForecastLine:
    carrier_code: str
    lag_days: int
    next_2: Decimal
    next_7: Decimal
    late: Decimal  # past its expected day already
    error_2: Decimal | None = None  # backtest WAPE, %
    error_7: Decimal | None = None
    backtest_days: int = 0


def _lags(organization_id: int, today: dt.date) -> dict[str, int]:
    """Observed average days from collection to payout over the last 90 days, per carrier."""
    rows = (CashDaily.objects.filter(organization_id=organization_id,
                                     day__gt=today - dt.timedelta(days=90), paid_count__gt=0)
            .values("carrier_code").annotate(n=Sum("paid_count"), lag=Sum("lag_days")))
    return {r["carrier_code"]: round(r["lag"] / r["n"]) for r in rows if r["n"]}


def forecast(*, organization_id: int, today: dt.date) -> list[ForecastLine]:
    """Money expected in the next 2 and 7 days by carrier: each open receivable arrives its
    carrier's observed lag after collection (the contract's lag while nothing was paid)."""
    lags = _lags(organization_id, today)
    contract = {t.carrier_account.carrier_code: t.payout_lag_days for t in
                FinanceTerms.objects.filter(organization_id=organization_id)
                .select_related("carrier_account")}
    carriers = list(Receivable.objects.filter(organization_id=organization_id, state__in=OPEN)
                    .values_list("carrier_code", flat=True).distinct())
    history = _daily(organization_id, today)
    out = []
    for carrier in sorted(set(carriers) | set(history)):
        lag = lags.get(carrier, contract.get(carrier, 7))

        def window(first: int, last: int | None, _lag: int = lag) -> Q:
            cond = Q(collected_on__gte=today + dt.timedelta(days=first - _lag)) if first else Q()
            if last is not None:
                cond &= Q(collected_on__lte=today + dt.timedelta(days=last - _lag))
            return cond

        agg = Receivable.objects.filter(
            organization_id=organization_id, state__in=OPEN, carrier_code=carrier).aggregate(
            n2=Coalesce(Sum("cod_amount", filter=window(1, 2)), Value(ZERO), output_field=_MONEY),
            n7=Coalesce(Sum("cod_amount", filter=window(1, 7)), Value(ZERO), output_field=_MONEY),
            late=Coalesce(Sum("cod_amount", filter=window(0, 0)), Value(ZERO),
                          output_field=_MONEY))
        line = ForecastLine(carrier, lag, _kop(agg["n2"]), _kop(agg["n7"]), _kop(agg["late"]))
        if carrier in history:
            line.error_2, line.error_7, line.backtest_days = backtest(history[carrier], lag=lag)
        out.append(line)
    return out


def _daily(organization_id: int, today: dt.date) -> dict[str, dict[dt.date, tuple[Decimal,
                                                                                    Decimal]]]:
    out: dict[str, dict[dt.date, tuple[Decimal, Decimal]]] = defaultdict(dict)
    for carrier, day, collected, paid in CashDaily.objects.filter(
            organization_id=organization_id, day__gt=today - dt.timedelta(days=366),
            day__lte=today).values_list("carrier_code", "day", "collected", "paid"):
        out[carrier][day] = (collected, paid)
    return out


def backtest(days: dict[dt.date, tuple[Decimal, Decimal]], *, lag: int
             ) -> tuple[Decimal | None, Decimal | None, int]:
    """Replays the forecast over the history: standing at each past day, money collected
    ``lag`` days before each of the next N days is predicted to arrive then; the error is the
    weighted absolute percentage error (Σ|predicted − paid| / Σ paid) for N = 2 and 7."""
    if not days:
        return None, None, 0
    first, last = min(days), max(days)
    errors = []
    tested = 0
    for horizon in (2, 7):
        abs_err, actual_total = ZERO, ZERO
        tested = 0
        d = first + dt.timedelta(days=max(lag, 14))
        while d + dt.timedelta(days=horizon) <= last:
            predicted = sum((days.get(d + dt.timedelta(days=k - lag), (ZERO, ZERO))[0]
                             for k in range(1, horizon + 1)), ZERO)
            actual = sum((days.get(d + dt.timedelta(days=k), (ZERO, ZERO))[1]
                          for k in range(1, horizon + 1)), ZERO)
            abs_err += abs(predicted - actual)
            actual_total += actual
            tested += 1
            d += dt.timedelta(days=1)
        errors.append((abs_err * 100 / actual_total).quantize(Decimal("0.1"))
                      if actual_total else None)
    return errors[0], errors[1], tested


# --- economics, P&L, funnel, returns --------------------------------------------------------
def orders(*, actor: Actor, state: str = "", limit: int = 200, offset: int = 0
           ) -> QuerySet[Receivable]:
    qs = Receivable.objects.filter(organization=actor.organization).select_related("shipment")
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-pk")[offset:offset + limit]


@dataclass
class Pnl:
    revenue: Decimal = ZERO
    returns: Decimal = ZERO
    delivery: Decimal = ZERO
    rows: list[tuple[str, Decimal]] = field(default_factory=list)

    @property
    def margin(self) -> Decimal:
        return self.revenue - self.returns - self.delivery


def pnl(*, actor: Actor, start: dt.date, end: dt.date) -> Pnl:
    # SQLite sums decimals as floats: back to kopecks
    sums = {r["account"]: Decimal(r["t"] or 0).quantize(ZERO) for r in Posting.objects.filter(
        organization=actor.organization, posted_on__gte=start, posted_on__lte=end,
        account__in=(Account.REVENUE, Account.RETURNS, Account.DELIVERY))
        .values("account").annotate(t=Sum("amount"))}
    out = Pnl(revenue=-(sums.get(Account.REVENUE) or ZERO),
              returns=sums.get(Account.RETURNS) or ZERO,
              delivery=sums.get(Account.DELIVERY) or ZERO)
    out.rows = [(str(Account.REVENUE.label), out.revenue), (str(Account.RETURNS.label), -out.returns),
                (str(Account.DELIVERY.label), -out.delivery)]
    return out


def funnel(*, actor: Actor) -> list[tuple[str, int]]:
    counts = dict(Receivable.objects.filter(organization=actor.organization)
                  .values_list("state").annotate(n=Count("pk")))
    done = dict(Receivable.objects.filter(organization=actor.organization)
                .exclude(order_state="").values_list("order_state").annotate(n=Count("pk")))
    total = sum(counts.values())
    return [(str(_label(ReceivableState, s)), counts.get(s, 0)) for s in ReceivableState.values] + [
        (str(OrderState.COMPLETED.label), done.get(OrderState.COMPLETED, 0)),
        (str(OrderState.RETURNED.label), done.get(OrderState.RETURNED, 0)),
        ("total", total)]


def _label(choices: Any, value: str) -> str:
    return str(dict(choices.choices).get(value, value))


def returns(*, actor: Actor, limit: int = 200) -> QuerySet[Receivable]:
    return (Receivable.objects.filter(organization=actor.organization,
                                      order_state=OrderState.RETURNED)
            .order_by("-pk")[:limit])


def reports(*, actor: Actor, limit: int = 100) -> QuerySet[PayoutReport]:
    return PayoutReport.objects.filter(organization=actor.organization).defer(
        "content").order_by("-pk")[:limit]


def report_get(*, actor: Actor, report_id: int) -> PayoutReport | None:
    return PayoutReport.objects.filter(organization=actor.organization, pk=report_id).defer(
        "content").first()


def report_rows(*, actor: Actor, report_id: int, limit: int = 1000, outcome: str = ""
                ) -> QuerySet[PayoutRow]:
    qs = PayoutRow.objects.filter(organization=actor.organization, report_id=report_id)
    if outcome:
        qs = qs.filter(outcome=outcome)
    return qs.order_by("row_number")[:limit]


def ledger_lines(*, actor: Actor, start: dt.date, end: dt.date) -> QuerySet[Posting]:
    return Posting.objects.filter(organization=actor.organization, posted_on__gte=start,
                                  posted_on__lte=end).order_by("entry", "pk")


def terms_by_account(*, actor: Actor) -> list[tuple[Any, FinanceTerms | None]]:
    """Each carrier account of the organization with its money terms (None: not set)."""
    from shipdesk.carriers.selectors import carrier_account_list

    terms = {t.carrier_account_id: t for t in FinanceTerms.objects.filter(
        organization=actor.organization)}
    return [(a, terms.get(a.pk)) for a in carrier_account_list(actor=actor)]


def pulls_registries(carrier_code: str) -> bool:
    """Whether the carrier's adapter can be asked for a day's payout registries through its
    API (CDEK's ``/v2/registries``, the sandbox's report); the others' reports come as files
    (uploaded or mailed in)."""
    from shipdesk.carriers import registry
    from shipdesk.carriers.base import Capability

    try:
        adapter = registry.adapter_class(carrier_code)
    except registry.UnknownCarrier:
        return False
    return Capability.PAYOUT_REPORTS in adapter.capabilities and (
        callable(getattr(adapter, "registries", None))
        or callable(getattr(adapter, "payout_report", None)))


def mailbox(*, actor: Actor) -> Mailbox | None:
    return Mailbox.objects.filter(organization=actor.organization).first()


def operations_by_shipment(*, actor: Actor, shipment_ids: list[int]) -> dict[int, list[str]]:
    """Each order's operations set as the ledger holds it (demand, incoming payment, services,
    customer return, corrections…) closed by the order's final state (Completed / Returned),
    in the reader's language."""
    kinds = dict(EntryKind.choices)
    out: dict[int, list[str]] = defaultdict(list)
    seen: set[tuple[int, str]] = set()
    for shipment_id, kind in (Posting.objects.filter(organization=actor.organization,
                                                     shipment_id__in=shipment_ids)
                              .order_by("entry").values_list("shipment_id", "kind")):
        if shipment_id is not None and (shipment_id, kind) not in seen:
            seen.add((shipment_id, kind))
            out[shipment_id].append(str(kinds.get(kind, kind)))
    for shipment_id, state in (Receivable.objects.filter(
            organization=actor.organization, shipment_id__in=shipment_ids)
            .exclude(order_state="").values_list("shipment_id", "order_state")):
        out[shipment_id].append(str(_label(OrderState, state)))
    return dict(out)
