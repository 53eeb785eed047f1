"""An «amount differs» row settled by an accountant: the carrier's amount accepted (the
order posted as the bulk path posts a matched one at that amount: its demand — the sale
corrected by the difference where it was posted at the order's COD — and the payout by
matching's line rules) or disputed (nothing posted; the row waits for the carrier).
Audited."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.finance import ledger
from shipdesk.finance.ledger import ZERO, Entry
from shipdesk.finance.models import (
    Account,
    EntryKind,
    FinanceTerms,
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
    """Posts the row as the bulk path would have, had the carrier's amount been the order's
    from the start: its demand at that amount (or, posted already at the order's COD, a
    correcting demand for the difference) and the payout entry of matching's line rules."""
    from shipdesk.finance.matching import payout_entry
    from shipdesk.finance.services import Cash, _add_cash, _demand, _lag, cash_add

    r = (Receivable.objects.select_for_update()
         .filter(organization=actor.organization, pk=row.receivable_id or 0).first())
    if r is None or r.state == ReceivableState.REFUSED:
        raise ValidationFailed(_("Заказ возвращён: принимать нечего, оспорьте строку"))
    if r.state == ReceivableState.PAID:
        raise ValidationFailed(_("Заказ уже оплачен другой строкой"))
    on, cod, returned = row.paid_on or timezone.localdate(), row.cod_amount, row.returned_amount
    # the order as the carrier tells it: what it paid and the goods sent back
    carrier_cod = cod + returned
    entries = []
    if r.state == ReceivableState.EXPECTED:
        entry = _demand(r, on)
        entry.lines = [(Account.CUSTOMERS, carrier_cod), (Account.REVENUE, -carrier_cod)]
        entry.row_id = row.pk
        entries.append(entry)
    elif gap := r.cod_amount - carrier_cod:  # the sale corrected to the carrier's amount
        entries.append(Entry(EntryKind.DEMAND, r.shipment_id, on,
                             [(Account.CUSTOMERS, -gap), (Account.REVENUE, gap)],
                             row_id=row.pk))
    terms = FinanceTerms.objects.filter(organization=actor.organization,
                                        carrier_account_id=r.carrier_account_id or 0).first()
    # the order's COD (and the commission reckoned on it) become the carrier's
    commission = ((carrier_cod * terms.cod_commission_pct / 100).quantize(ZERO) if terms
                  else r.fee_commission)
    entries.append(payout_entry(
        shipment_id=r.shipment_id, row_id=row.pk, on=on, cod=cod, paid=row.paid_amount,
        returned=returned, fees_mode=r.fees_mode,
        invoiced=commission + r.fee_delivery + r.fee_insurance,
        services=EntryKind.AGENT_REPORT if terms and terms.agent_reports
        else EntryKind.SERVICES))
    ledger.post(actor.organization_id, entries)
    cash: Cash = {}
    cash_add(cash, r.carrier_code, on, paid=cod, paid_count=1,
             lag_days=_lag(r.collected_on or on, on))
    if r.state == ReceivableState.EXPECTED:
        cash_add(cash, r.carrier_code, on, collected=carrier_cod)
    _add_cash(actor.organization_id, cash)
    Receivable.objects.filter(pk=r.pk).update(
        state=ReceivableState.PAID,
        order_state=OrderState.RETURNED if returned else OrderState.COMPLETED,
        cod_amount=carrier_cod, fee_commission=commission, paid_on=on, paid_amount=cod,
        refused_amount=returned, collected_on=r.collected_on or on)
