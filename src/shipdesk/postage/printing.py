"""What the postage PDFs and XLSX downloads show, read from the database and handed to the
renderers (rendering.py) and core/spreadsheets.py."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, ValidationFailed
from shipdesk.core.spreadsheets import SafeWorkbook
from shipdesk.postage import rendering, selectors
from shipdesk.postage.models import Mark, MarkState, MovementKind
from shipdesk.tenancy.services import Actor


def invoice_pdf(*, actor: Actor, invoice_id: int) -> bytes:
    invoice = selectors.invoice_get(actor=actor, invoice_id=invoice_id)
    a, org = invoice.account, actor.organization
    return rendering.render_invoice(rendering.InvoiceData(
        number=invoice.number, issued_on=invoice.issued_on, amount=invoice.amount,
        payee_name=a.payee_name, payee_inn=a.payee_inn, payee_kpp=a.payee_kpp,
        payee_account=a.payee_account, payee_bank=a.payee_bank, payee_bik=a.payee_bik,
        payee_corr_account=a.payee_corr_account, payer_name=org.legal_name or org.name,
        payer_inn=org.inn, payer_kpp=org.kpp, payer_address=org.legal_address))


def envelopes_pdf(*, actor: Actor, shipment_ids: Sequence[int], size: str) -> bytes:
    """Envelope fronts of the chosen letters, each with its live mark (if any)."""
    from shipdesk.documents.rendering.layout import TextDoesNotFit
    from shipdesk.documents.selectors import shipments_label_data
    from shipdesk.shipments.models import Shipment

    if size not in rendering.ENVELOPES:
        raise ValidationFailed(_("Неизвестный формат конверта"), errors=[FieldError(
            ("size",), _("Формат конверта: %(s)s") % {"s": ", ".join(rendering.ENVELOPES)})])
    shipments = list(Shipment.objects.filter(organization_id=actor.organization_id,
                                             pk__in=shipment_ids).select_related("sender", "carrier_account")
                     .defer("carrier_account__credentials")
                     .order_by("pk"))
    if not shipments:
        raise ValidationFailed(_("Не выбрано ни одного письма"), errors=[
            FieldError(("shipment_ids",), _("Выберите письма"))])
    live = {m.shipment_id: m for m in Mark.objects.filter(
        organization_id=actor.organization_id, shipment_id__in=[s.pk for s in shipments])
        .exclude(state=MarkState.CANCELLED)}
    envelopes = []
    for s, label in zip(shipments, shipments_label_data(shipments, actor.organization),
                        strict=True):
        mark = live.get(s.pk)
        envelopes.append(rendering.EnvelopeData(
            tracking_number=label.tracking_number, sender_name=label.sender.name,
            sender_address=label.sender.address, sender_index=label.sender.index,
            recipient_name=label.recipient.name, recipient_address=label.recipient.address,
            recipient_index=label.recipient.index, mail_type=label.mail_type,
            mark_number=mark.number if mark else "", mark_amount=mark.amount if mark else Decimal(0),
            mark_payload=mark.payload if mark else ""))
    try:
        return rendering.render_envelopes(envelopes, size)
    except TextDoesNotFit as exc:
        raise ValidationFailed(_("Адрес не помещается на конверт"), errors=[
            FieldError(("shipment_ids",), str(exc))]) from exc


def _book(headers: Sequence[str], rows: list[list[object]]) -> bytes:
    book = SafeWorkbook()
    sheet = book.create_sheet("Shipdesk")
    sheet.append([str(h) for h in headers])
    for row in rows:
        sheet.append(row)
    return book.to_bytes()


def reconciliation_xlsx(*, actor: Actor, day: dt.date) -> bytes:
    """The day's marks for 1C: issued, used and cancelled, one row each, with totals."""
    rows, totals = selectors.reconciliation(actor=actor, day=day)
    states = dict(MarkState.choices)
    data: list[list[object]] = [[
        m.number, m.tracking_number, m.issued_on, str(states[m.state]), m.used_on,
        m.cancelled_on, m.amount] for m in rows]
    data.append([])
    data.append([_("Выпущено"), totals.issued, "", "", "", "", totals.issued_amount])
    data.append([_("Использовано"), totals.used, "", "", "", "", totals.used_amount])
    data.append([_("Отменено (возврат)"), totals.cancelled, "", "", "", "",
                 totals.cancelled_amount])
    return _book([_("Знак"), _("ШПИ"), _("Выпущен"), _("Состояние"), _("Использован"),
                  _("Отменён"), _("Сумма, ₽")], data)


def statement_xlsx(*, actor: Actor, account_id: int, start: dt.date, end: dt.date) -> bytes:
    st = selectors.balance_statement(actor=actor, account_id=account_id, start=start, end=end)
    kinds = dict(MovementKind.choices)
    data: list[list[object]] = [[_("Входящий остаток"), "", "", "", st.opening]]
    data += [[m.posted_on, str(kinds[m.kind]), m.note, m.amount, m.balance_after]
             for m in st.movements]
    data.append([_("Исходящий остаток"), "", "", "", st.closing])
    return _book([_("Дата"), _("Операция"), _("Основание"), _("Сумма, ₽"), _("Остаток, ₽")],
                 data)
