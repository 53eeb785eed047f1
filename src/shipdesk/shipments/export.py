"""The shipments list as a file (XLSX or CSV) with the list's filters applied: words, not
codes, for states, carriers and mail types; every cell that a spreadsheet would take for a
formula is escaped. Rows are read in chunks and written as they come (a big list is never
all in memory)."""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import IO, Any

from django.utils.translation import gettext as _

from shipdesk.core.spreadsheets import SafeCsvWriter, SafeWorkbook
from shipdesk.shipments import selectors
from shipdesk.shipments.models import Registration, State
from shipdesk.tenancy.services import Actor

CHUNK = 2000


def columns() -> list[str]:
    return [_("Номер заказа"), _("Состояние"), _("Регистрация у перевозчика"), _("Перевозчик"),
            _("Вид отправления"), _("Трек-номер"), _("Получатель"), _("Телефон"), _("Индекс"),
            _("Населённый пункт"), _("Адрес"), _("Вес, г"), _("Объявленная ценность, ₽"),
            _("Наложенный платёж, ₽"), _("Доставка, ₽"), _("Создано")]


def _carrier_name(code: str, cache: dict[str, str]) -> str:
    """The carrier's own name for its code (imported only for the codes in the list)."""
    if code not in cache:
        from shipdesk.carriers.registry import adapter_class

        try:
            cache[code] = str(adapter_class(code).name) if code else ""
        except Exception:  # an unknown or unloadable carrier keeps its code
            cache[code] = code
    return cache[code]


_FIELDS = ("order_number", "state", "registration", "carrier_code", "carrier_account_id",
           "service_code", "tracking_number", "recipient_surname", "recipient_given_name",
           "recipient_patronymic", "recipient_company", "recipient_phone", "index", "region",
           "city", "street", "house", "building", "apartment", "weight_g", "declared_value",
           "cod_amount", "shipping_cost", "created_at")


def rows(*, actor: Actor, filters: Mapping[str, Any]) -> Iterator[list[Any]]:
    """The filtered list's rows, newest first, as the file shows them (plain tuples from
    the database, the words looked up once per code)."""
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.documents.rules import mail_type_name

    carriers: dict[str, str] = {}
    accounts = dict(CarrierAccount.objects.filter(organization=actor.organization)
                    .values_list("pk", "name"))
    states = {value: str(label) for value, label in State.choices}
    registrations = {value: str(label) for value, label in Registration.choices if value}
    mail_types: dict[tuple[str, str], str] = {}
    zone = actor.organization.zone
    qs = selectors.shipment_list(actor=actor, filters=filters).values_list(*_FIELDS)
    for (order, state, registration, carrier_code, account_id, service, number, surname,
         given, patronymic, company, phone, index, region, city, street, house, building,
         apartment, weight, declared, cod, cost, created) in qs.iterator(chunk_size=CHUNK):
        key = (service, carrier_code)
        if key not in mail_types:
            mail_types[key] = mail_type_name(service, carrier_code=carrier_code) if service else ""
        name = " ".join(p for p in (surname, given, patronymic) if p) or company
        address = ", ".join(p for p in (region, city, street, house, building, apartment) if p)
        # text is escaped against formulas by the writers (core.spreadsheets)
        yield [
            order, states.get(state, state), registrations.get(registration, ""),
            accounts.get(account_id) or _carrier_name(carrier_code, carriers),
            mail_types[key], number or "", name, phone, index, city, address, weight,
            _money(declared), _money(cod), _money(cost),
            created.astimezone(zone).replace(tzinfo=None)]


def _money(value: Decimal | None) -> Decimal | None:
    return value.quantize(Decimal("0.01")) if value is not None else None


def csv_chunks(*, actor: Actor, filters: Mapping[str, Any]) -> Iterator[str]:
    """CSV for Excel in Russian locales: UTF-8 with a BOM, «;» between cells, decimal
    comma; yielded in pieces for a streaming response."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, delimiter=";")
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
    """An XLSX workbook (openpyxl's write-only mode: rows go to disk as they come). Plain
    values: money as numbers, dates as dates; a text that would start a formula ("=") was
    escaped (core.spreadsheets), so no cell is ever a formula."""
    book = SafeWorkbook()
    sheet = book.create_sheet(_("Отправления"))
    sheet.append(columns())
    for row in rows(actor=actor, filters=filters):
        sheet.append(row)
    book.save(out)
