"""An «amount differs» row settled by an accountant: the carrier's amount accepted (the
payout posted as the carrier paid it, the difference to the order's COD corrected on
revenue) or disputed (nothing posted; the row waits for the carrier). Audited."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.finance import ledger
from shipdesk.finance.ledger import ZERO, Entry
from shipdesk.finance.models import (
    Account,
    EntryKind,
    FeesMode,
    OrderState,
    PayoutRow,
    Receivable,
    ReceivableState,
    RowOutcome,
    RowResolution,
)
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit


def row_resolve(*, actor: Actor, row_id: int, resolution: str) -> PayoutRow:
    """Settles one «amount differs» row: ``accepted`` or ``disputed``."""
    actor.require(Perm.MANAGE_FINANCE)
    with transaction.atomic():
        ledger.lock(actor.organization_id)
        row = (PayoutRow.objects.select_for_update()
               .filter(organization=actor.organization, pk=row_id).first())
        if row is None:
            raise NotFound(_("Строка отчёта не найдена"))
        if resolution not in RowResolution.values:
            raise ValidationFailed(_("Неизвестное решение"), errors=[FieldError(
                ("resolution",), _("Ожидается accepted (принять) или disputed (оспорить)"))])
        if row.outcome != RowOutcome.AMOUNT_DIFFERS:
            raise ValidationFailed(_("Решение нужно только строкам, где сумма отличается"))
        if row.resolution == RowResolution.ACCEPTED:
            raise ValidationFailed(_("Сумма перевозчика по этой строке уже принята"))
        if resolution == RowResolution.ACCEPTED:
            _accept(actor, row)
        row.resolution, row.resolved_at = resolution, timezone.now()
        row.save(update_fields=["resolution", "resolved_at"])
        audit(actor, f"finance.row_{resolution}", row, report=row.report_id,
              row=row.row_number, expected=str(row.expected_amount), got=str(row.cod_amount))
    return row


def _accept(actor: Actor, row: PayoutRow) -> None:
    from shipdesk.finance.services import Cash, _add_cash, _demand, _lag, cash_add

    r = (Receivable.objects.select_for_update()
         .filter(organization=actor.organization, pk=row.receivable_id or 0).first())
    if r is None or r.state == ReceivableState.REFUSED:
        raise ValidationFailed(_("Заказ возвращён: принимать нечего, оспорьте строку"))
    if r.state == ReceivableState.PAID:
        raise ValidationFailed(_("Заказ уже оплачен другой строкой"))
    on, cod = row.paid_on or timezone.localdate(), row.cod_amount
    entries = []
    if r.state == ReceivableState.EXPECTED:
        entries.append(_demand(r, on))
    fee = max(cod - row.paid_amount, ZERO)
    lines: list[tuple[str, Decimal]] = [(Account.CUSTOMERS, -cod)]
    if r.fees_mode == FeesMode.DEDUCTED:
        lines += [(Account.BANK, cod - fee), (Account.DELIVERY, fee)]
    else:
        invoiced = r.fee_commission + r.fee_delivery + r.fee_insurance
        lines += [(Account.BANK, cod), (Account.DELIVERY, invoiced), (Account.CARRIER, -invoiced)]
    entries.append(Entry(EntryKind.PAYMENT_IN, r.shipment_id, on, lines, row_id=row.pk))
    # what the order still owes (or was overpaid) is corrected on revenue
    gap = r.cod_amount - cod
    entries.append(Entry(EntryKind.ADJUSTMENT, r.shipment_id, on,
                         [(Account.CUSTOMERS, -gap), (Account.REVENUE, gap)], row_id=row.pk))
    ledger.post(actor.organization_id, entries)
    cash: Cash = {}
    cash_add(cash, r.carrier_code, on, paid=cod, paid_count=1,
             lag_days=_lag(r.collected_on or on, on))
    if r.state == ReceivableState.EXPECTED:
        cash_add(cash, r.carrier_code, on, collected=r.cod_amount)
    _add_cash(actor.organization_id, cash)
    Receivable.objects.filter(pk=r.pk).update(
        state=ReceivableState.PAID, order_state=OrderState.COMPLETED, paid_on=on,
        paid_amount=cod, collected_on=r.collected_on or on)
