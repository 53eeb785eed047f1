"""The shipments list as a file (XLSX or CSV) with the list's filters applied: words, not
codes, for states, carriers and mail types; every cell that a spreadsheet would take for a
formula is escaped. Rows are read in chunks and written as they come (a big list is never
all in memory)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.shipments import selectors
from shipdesk.shipments.models import Registration, Shipment, State
from shipdesk.tenancy.services import Actor

CHUNK = 2000
# A value starting with one of these is a formula to Excel / LibreOffice (OWASP "CSV
# injection"); a phone number in E.164 (+79161234567) is left as it is.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE = re.compile(r"\+\d{6,15}")


def escape_cell(value: Any) -> Any:
    """The value, with a leading apostrophe when a spreadsheet would run it as a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) \
            and not _PHONE.fullmatch(value):
        return "'" + value
    return value


def columns() -> list[str]:
    return [_("Номер заказа"), _("Состояние"), _("Регистрация у перевозчика"), _("Перевозчик"),
            _("Вид отправления"), _("Трек-номер"), _("Получатель"), _("Телефон"), _("Индекс"),
            _("Населённый пункт"), _("Адрес"), _("Вес, г"), _("Объявленная ценность, ₽"),
            _("Наложенный платёж, ₽"), _("Доставка, ₽"), _("Создано")]


def _carrier_names() -> dict[str, str]:
    from shipdesk.carriers.registry import adapter_class, all_codes

    names = {}
    for code in all_codes():
        try:
            names[code] = adapter_class(code).name
        except Exception:  # an unloadable carrier keeps its code
            names[code] = code
    return names


def rows(*, actor: Actor, filters: Mapping[str, Any]) -> Iterator[list[Any]]:
    """The filtered list's rows, newest first, as the file shows them."""
    from shipdesk.documents.rules import mail_type_name

    carriers = _carrier_names()
    qs = (selectors.shipment_list(actor=actor, filters=filters)
          .select_related("carrier_account"))
    zone = actor.organization.zone
    for s in qs.iterator(chunk_size=CHUNK):
        yield [escape_cell(v) for v in _row(s, carriers, mail_type_name, zone)]


def _row(s: Shipment, carriers: dict[str, str], mail_type_name: Any, zone: Any) -> list[Any]:
    address = ", ".join(p for p in (s.region, s.city, s.street, s.house, s.building,
                                     s.apartment) if p)
    carrier = (s.carrier_account.name if s.carrier_account
               else carriers.get(s.carrier_code, s.carrier_code))
    return [s.order_number, str(State(s.state).label),
            str(Registration(s.registration).label) if s.registration else "",
            carrier, mail_type_name(s.service_code, carrier_code=s.carrier_code) if s.service_code
            else "", s.tracking_number or "", s.recipient_name, s.recipient_phone, s.index,
            s.city, address, s.weight_g, _money(s.declared_value), _money(s.cod_amount),
            _money(s.shipping_cost),
            timezone.localtime(s.created_at, zone).replace(tzinfo=None)]


def _money(value: Decimal | None) -> Decimal | None:
    return value.quantize(Decimal("0.01")) if value is not None else None


def csv_chunks(*, actor: Actor, filters: Mapping[str, Any]) -> Iterator[str]:
    """CSV for Excel in Russian locales: UTF-8 with a BOM, «;» between cells, decimal
    comma; yielded in pieces for a streaming response."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";")
    buffer.write("\ufeff")
    writer.writerow(columns())
    for n, row in enumerate(rows(actor=actor, filters=filters), 1):
        writer.writerow([_csv_value(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return str(value).replace(".", ",")
    if hasattr(value, "strftime"):
        return value.strftime("%d.%m.%Y %H:%M")
    return str(value)


def write_xlsx(*, actor: Actor, filters: Mapping[str, Any], out: IO[bytes]) -> None:
    """An XLSX workbook (openpyxl's write-only mode: rows go to disk as they come)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Отправления"))
    sheet.append(columns())
    for row in rows(actor=actor, filters=filters):
        cells = []
        for value in row:
            cell = WriteOnlyCell(sheet, value=value)
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
            elif isinstance(value, Decimal):
                cell.number_format = "#,##0.00"
            elif hasattr(value, "strftime"):
                cell.number_format = "DD.MM.YYYY HH:MM"
            cells.append(cell)
        sheet.append(cells)
    book.save(out)
