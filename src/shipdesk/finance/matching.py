"""Payout lines against receivables, in bulk: find each order (carrier number, then order
number), decide the row's outcome, write the rows, post the matched orders' operations and
move their receivables, with a few statements per thousand rows (COPY on PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils.translation import gettext as _

from shipdesk.finance import formats, ledger
from shipdesk.finance.ledger import ZERO, Entry
from shipdesk.finance.models import (
    Account,
    EntryKind,
    OrderState,
    PayoutReport,
    PayoutRow,
    Posting,
    Receivable,
    ReceivableState,
    RowOutcome,
)

CHUNK = 5000


@dataclass(slots=True)
class Rec:
    """What matching needs of a receivable (plain values: 100,000 model instances cost more
    than the whole match)."""

    pk: int
    shipment_id: int
    carrier_code: str
    tracking_number: str
    order_number: str
    cod_amount: Decimal
    fee_commission: Decimal
    fee_delivery: Decimal
    fee_insurance: Decimal
    fees_mode: str
    state: str
    collected_on: dt.date | None
    paid_on: dt.date | None
    paid_amount: Decimal


@dataclass(slots=True)
class RowData:
    """A payout row before it is written (COPY on PostgreSQL takes it as it is)."""

    organization_id: int
    report_id: int
    row_number: int
    tracking_number: str
    order_number: str
    cod_amount: Decimal
    fee: Decimal
    paid_amount: Decimal
    returned_amount: Decimal
    paid_on: dt.date | None
    outcome: str
    receivable_id: int | None = None
    expected_amount: Decimal | None = None
    difference: Decimal | None = None
    message: str = ""
    id: int | None = None

    @property
    def pk(self) -> int | None:
        return self.id


_REC_FIELDS = ("pk", "shipment_id", "carrier_code", "tracking_number", "order_number",
               "cod_amount", "fee_commission", "fee_delivery", "fee_insurance", "fees_mode",
               "state", "collected_on", "paid_on", "paid_amount")


def _load(organization_id: int, field: str, values: list[str]) -> dict[str, Rec]:
    out: dict[str, Rec] = {}
    for start in range(0, len(values), CHUNK):
        for row in Receivable.objects.filter(organization_id=organization_id,
                                             **{f"{field}__in": values[start:start + CHUNK]}
                                             ).values_list(*_REC_FIELDS):
            r = Rec(*row)
            out[getattr(r, field)] = r
    return out


def _find(organization_id: int, lines: Sequence[formats.Line]
          ) -> tuple[dict[str, Rec], dict[str, Rec]]:
    """Receivables by carrier number, then by order number for the lines not found so; the
    receivables of COD shipments that have none yet are made on the way."""
    from shipdesk.finance.services import receivables_ensure

    numbers = sorted({ln.tracking_number for ln in lines if ln.tracking_number})
    by_number = _load(organization_id, "tracking_number", numbers)
    rest = [ln for ln in lines if ln.tracking_number not in by_number]
    by_order = _load(organization_id, "order_number",
                     sorted({ln.order_number for ln in rest if ln.order_number}))
    rest = [ln for ln in rest if ln.order_number not in by_order]
    if rest and receivables_ensure(
            organization_id=organization_id,
            numbers=sorted({ln.tracking_number for ln in rest if ln.tracking_number}),
            orders=sorted({ln.order_number for ln in rest if ln.order_number})):
        by_number.update(_load(organization_id, "tracking_number",
                               sorted({ln.tracking_number for ln in rest if ln.tracking_number})))
        by_order.update(_load(organization_id, "order_number",
                              sorted({ln.order_number for ln in rest if ln.order_number})))
    return by_number, by_order


def run(*, organization_id: int, report: PayoutReport, lines: Sequence[formats.Line],
        today: dt.date) -> dict[str, int]:
    from shipdesk.finance.services import Cash, _add_cash, _lag, cash_add

    ledger.lock(organization_id)
    by_number, by_order = _find(organization_id, lines)

    rows: list[RowData] = []
    plans: list[tuple[int, Rec, formats.Line, str]] = []  # index in rows, ...
    corrections: list[tuple[int, Rec]] = []
    seen: set[int] = set()
    for ln in lines:
        r = by_number.get(ln.tracking_number) or by_order.get(ln.order_number)
        row = RowData(organization_id=organization_id, report_id=report.pk,
                        row_number=ln.row_number, tracking_number=ln.tracking_number,
                        order_number=ln.order_number, cod_amount=ln.cod_amount, fee=ln.fee,
                        paid_amount=ln.paid_amount, returned_amount=ln.returned_amount,
                        paid_on=ln.paid_on or report.created_at.date(),
                        outcome=RowOutcome.UNKNOWN)
        rows.append(row)
        if r is None:
            # another organization's parcel looks exactly like no parcel at all
            row.message = _("Отправление с таким трек-номером или номером заказа не найдено")
            continue
        row.receivable_id = r.pk
        row.expected_amount = r.cod_amount
        if ln.paid_amount < 0 or ln.cod_amount < 0:
            row.outcome = RowOutcome.CORRECTION
            if r.state == ReceivableState.PAID:
                corrections.append((len(rows) - 1, r))
                row.message = _("Оплата заказа сторнирована")
            else:
                row.message = _("Корректировка к неоплаченному заказу: проводок нет")
            continue
        if r.state == ReceivableState.PAID or r.pk in seen:
            row.outcome = RowOutcome.PAID_TWICE
            row.message = _("Заказ уже оплачен%(when)s: повторная оплата не проведена") % {
                "when": f" {r.paid_on:%d.%m.%Y}" if r.paid_on else ""}
            continue
        if r.state == ReceivableState.REFUSED:
            row.outcome = RowOutcome.AMOUNT_DIFFERS
            row.expected_amount, row.difference = ZERO, ln.cod_amount
            row.message = _("Заказ возвращён, а перевозчик сообщает об оплате")
            continue
        if ln.cod_amount == r.cod_amount and ln.returned_amount == 0:
            row.outcome = RowOutcome.MATCHED
        elif ln.returned_amount > 0 and ln.cod_amount + ln.returned_amount == r.cod_amount:
            row.outcome = RowOutcome.PARTIAL
            row.message = _("Частичный выкуп: возвращено товара на %(sum)s ₽") % {
                "sum": ln.returned_amount}
        else:
            row.outcome = RowOutcome.AMOUNT_DIFFERS
            row.difference = ln.cod_amount - r.cod_amount
            row.message = _("Ожидалось %(exp)s ₽, получено %(got)s ₽, разница %(diff)s ₽") % {
                "exp": r.cod_amount, "got": ln.cod_amount, "diff": row.difference}
            continue
        seen.add(r.pk)
        plans.append((len(rows) - 1, r, ln, row.outcome))

    _insert_rows(rows)
    entries: list[Entry] = []
    updates: list[tuple[Any, ...]] = []
    cash: Cash = {}
    for index, r, ln, outcome in plans:
        row = rows[index]
        on = row.paid_on or today
        entries.extend(_operations(r, ln, outcome, on, row.pk))
        was_collected = r.state != ReceivableState.EXPECTED
        updates.append((r.pk, ReceivableState.PAID,
                        OrderState.RETURNED if outcome == RowOutcome.PARTIAL
                        else OrderState.COMPLETED, on, ln.cod_amount, ln.returned_amount,
                        r.collected_on or on))
        collected_on = r.collected_on or on
        cash_add(cash, r.carrier_code, on, paid=ln.cod_amount, paid_count=1,
                 lag_days=_lag(collected_on, on))
        if not was_collected:
            cash_add(cash, r.carrier_code, on, collected=r.cod_amount)
    for index, r in corrections:
        entries.extend(_reverse_payment(organization_id, r, today, rows[index].pk))
        if r.paid_on:  # the rollup forgets the payment too
            cash_add(cash, r.carrier_code, r.paid_on, paid=-r.paid_amount, paid_count=-1,
                     lag_days=-_lag(r.collected_on, r.paid_on))
        updates.append((r.pk, ReceivableState.COLLECTED, OrderState.OPEN, None, ZERO, ZERO,
                        r.collected_on))
    ledger.post(organization_id, entries)
    _update_receivables(updates)
    _add_cash(organization_id, cash)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.outcome] = counts.get(row.outcome, 0) + 1
    return counts


def _operations(r: Rec, ln: formats.Line, outcome: str, on: dt.date, row_id: int | None
                ) -> list[Entry]:
    """The order's operations as MoySklad's courier integration makes them."""
    from shipdesk.finance.services import _demand, _services

    out: list[Entry] = []
    if r.state == ReceivableState.EXPECTED:  # paid before tracking said "delivered"
        out.append(_demand(r, on))
    if outcome == RowOutcome.PARTIAL:
        out.append(Entry(EntryKind.SALES_RETURN, r.shipment_id, on,
                         [(Account.RETURNS, ln.returned_amount),
                          (Account.CUSTOMERS, -ln.returned_amount)], row_id=row_id))
    out.append(Entry(EntryKind.PAYMENT_IN, r.shipment_id, on,
                     [(Account.BANK, ln.cod_amount), (Account.CUSTOMERS, -ln.cod_amount)],
                     row_id=row_id))
    withheld = ln.cod_amount - ln.paid_amount
    fees = withheld if r.fees_mode == "deducted" else (
        r.fee_commission + r.fee_delivery + r.fee_insurance)
    out.extend(_services(r, fees, on, row_id))
    return out


def _reverse_payment(organization_id: int, r: Rec, today: dt.date, row_id: int | None
                     ) -> list[Entry]:
    numbers = set(Posting.objects.filter(
        organization_id=organization_id, shipment_id=r.shipment_id, row_id__isnull=False,
        kind__in=(EntryKind.PAYMENT_IN, EntryKind.SERVICES, EntryKind.OFFSET,
                  EntryKind.SALES_RETURN)).values_list("entry", flat=True))
    return ledger.reversals(organization_id, numbers, posted_on=today, row_id=row_id)


def _next_ids(table: str, count: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                       "FROM generate_series(1, %s)", [table, count])
        return [r[0] for r in cursor.fetchall()]


_ROW_COLUMNS = ("id", "organization_id", "report_id", "row_number", "tracking_number",
                "order_number", "cod_amount", "fee", "paid_amount", "returned_amount", "paid_on",
                "outcome", "receivable_id", "expected_amount", "difference", "message")


def _insert_rows(rows: list[RowData]) -> None:
    if not rows:
        return
    if connection.vendor != "postgresql":
        names = [c for c in _ROW_COLUMNS if c != "id"]
        made = PayoutRow.objects.bulk_create(
            [PayoutRow(**{c: getattr(r, c) for c in names}) for r in rows], batch_size=2000)
        for row, obj in zip(rows, made, strict=True):
            row.id = obj.pk
        return
    from shipdesk.core.pgcopy import copy_rows

    for row, pk in zip(rows, _next_ids(PayoutRow._meta.db_table, len(rows)), strict=True):
        row.id = pk
    with connection.cursor() as cursor:
        copy_rows(cursor, PayoutRow._meta.db_table, _ROW_COLUMNS,
                  ([getattr(r, c) for c in _ROW_COLUMNS] for r in rows))


def _update_receivables(updates: list[tuple[Any, ...]]) -> None:
    if not updates:
        return
    if connection.vendor != "postgresql":
        objs = []
        for pk, state, order_state, paid_on, paid, refused, collected_on in updates:
            objs.append(Receivable(pk=pk, state=state, order_state=order_state, paid_on=paid_on,
                                   paid_amount=paid, refused_amount=refused,
                                   collected_on=collected_on))
        Receivable.objects.bulk_update(objs, ["state", "order_state", "paid_on", "paid_amount",
                                              "refused_amount", "collected_on"], batch_size=1000)
        return
    from shipdesk.core.pgcopy import copy_rows

    table = Receivable._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMP TABLE IF NOT EXISTS finance_receivable_upd (id bigint, "
                       "state varchar(10), order_state varchar(10), paid_on date, "
                       "paid_amount numeric(12,2), refused_amount numeric(12,2), "
                       "collected_on date) ON COMMIT DROP")
        copy_rows(cursor, "finance_receivable_upd",
                  ("id", "state", "order_state", "paid_on", "paid_amount", "refused_amount",
                   "collected_on"), updates)
        cursor.execute(
            f'UPDATE "{table}" r SET state = u.state, order_state = u.order_state, '  # noqa: S608
            "paid_on = u.paid_on, paid_amount = u.paid_amount, "
            "refused_amount = u.refused_amount, collected_on = u.collected_on "
            "FROM finance_receivable_upd u WHERE r.id = u.id")
        cursor.execute("DROP TABLE finance_receivable_upd")
