"""XLSX downloads: the ledger for 1C and the per-order economics. Text that a spreadsheet
would take for a formula (= + - @ at the start) is written with a leading apostrophe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from django.utils.translation import gettext as _

from shipdesk.core.spreadsheets import SafeWorkbook
from shipdesk.finance import selectors
from shipdesk.finance.models import Account, EntryKind, Receivable
from shipdesk.tenancy.services import Actor


def _book(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    book = SafeWorkbook()
    sheet = book.create_sheet("Shipdesk")
    sheet.append([str(h) for h in headers])
    for row in rows:
        sheet.append(row)
    return book.to_bytes()


def ledger_xlsx(*, actor: Actor, start: dt.date, end: dt.date) -> bytes:
    kinds, accounts = dict(EntryKind.choices), dict(Account.choices)
    lines = list(selectors.ledger_lines(actor=actor, start=start, end=end))
    ids = {p.shipment_id for p in lines if p.shipment_id is not None}
    orders = dict(Receivable.objects.filter(organization=actor.organization, shipment_id__in=ids)
                  .values_list("shipment_id", "order_number"))
    if missing := ids - set(orders):  # shipments with no COD (postage of marked letters)
        from shipdesk.shipments.selectors import shipment_list

        orders.update(shipment_list(actor=actor).filter(pk__in=missing)
                      .values_list("pk", "order_number"))
    return _book(
        [_("Дата"), _("Проводка"), _("Операция"), _("Заказ"), _("Счёт"), _("Название счёта"),
         _("Дебет"), _("Кредит"), _("Сторно проводки"), _("Строка отчёта")],
        ([p.posted_on, p.entry, str(kinds.get(p.kind, p.kind)), orders.get(p.shipment_id or 0, ""),
          p.account, str(accounts.get(p.account, p.account)),
          p.amount if p.amount > 0 else None, -p.amount if p.amount < 0 else None,
          p.reverses, p.row_id] for p in lines))


def orders_xlsx(*, actor: Actor) -> bytes:
    rows = selectors.orders(actor=actor, limit=100_000)
    return _book(
        [_("Заказ"), _("Трек-номер"), _("Перевозчик"), _("Наложенный платёж"),
         _("Услуги перевозчика"), _("Вручено"), _("Ожидается выплата"), _("Выплачено"),
         _("Сумма выплаты"), _("Состояние"), _("Итог заказа"), _("Оплачен полностью")],
        ([r.order_number, r.tracking_number, r.carrier_code, r.cod_amount, r.fees,
          r.collected_on, r.expected_on, r.paid_on, r.paid_amount, r.get_state_display(),
          r.get_order_state_display(),
          _("да") if r.paid_amount + r.refused_amount >= r.cod_amount and r.paid_on else _("нет")]
         for r in rows))
