"""Spreadsheet intake: XLSX, XLS, ODS (read by python-calamine, which never evaluates a
formula) and CSV (UTF-8 with or without BOM, Windows-1251; ``;`` or ``,``), the template,
the mapping preview, the error report, and the import job that runs them through the one
intake pipeline (``services.shipments_intake``).

Hostile files are refused before parsing: a ZIP whose members would inflate beyond
``MAX_UNCOMPRESSED_BYTES`` or by more than ``MAX_RATIO`` (a zip bomb dressed as XLSX), an
encrypted (password-protected) workbook, a file over the size or row limit.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import itertools
import logging
import re
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from time import time as wall_clock
from typing import IO, Any

from django.conf import settings
from django.core.cache import cache
from django.core.files.base import ContentFile, File
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shipdesk.core.errors import FieldError, NotFound, ServiceError, ValidationFailed
from shipdesk.core.spreadsheets import SafeCsvWriter, SafeWorkbook, unescape
from shipdesk.shipments import services, validation
from shipdesk.shipments.models import ImportJob, ImportMapping, MailTypeLimit
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

log = logging.getLogger(__name__)

MAX_ROWS = getattr(settings, "SHIPDESK_IMPORT_MAX_ROWS", 100_000)
MAX_UNCOMPRESSED_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 200  # a sheet's XML compresses 10-40 times; bombs do 1000 times and more
MAX_ZIP_MEMBERS = 10_000
MAX_COLUMNS = 200
PROGRESS_KEY = "shipments:import-progress:{}"
ERROR_LIST_LIMIT = 5_000  # rows' errors kept on the job; the report has them all
# From this many rows a file is read and validated by a child process while this one
# stores (two cores at work); below, starting it costs more than it brings.
READ_IN_CHILD_ROWS = settings.SHIPDESK_IMPORT_READ_IN_CHILD_ROWS

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")


class ImportRejected(ValidationFailed):
    """The file as a whole cannot be read: nothing was imported."""


def _reject(message: str, errors: Sequence[FieldError] = ()) -> ImportRejected:
    return ImportRejected(message, errors=list(errors) or [FieldError(("file",), message)])


# --- columns ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    field: str
    title: str  # the template's header
    synonyms: tuple[str, ...] = ()
    note: str = ""
    required: bool = False


COLUMNS: tuple[Column, ...] = (
    Column("order_number", "Номер заказа", ("заказ", "№ заказа", "номер", "order", "order number",
                                            "order_number", "order-num", "id заказа"),
           "Уникальный номер заказа магазина. Повтор — ошибка", required=True),
    Column("carrier_code", "Перевозчик", ("служба доставки", "carrier", "carrier_code"),
           "Код перевозчика (russian_post, cdek, pickpoint); пусто — по правилам выбора "
           "перевозчика, иначе Почта России"),
    Column("carrier_account", "Договор", ("договор с перевозчиком", "аккаунт перевозчика",
                                          "carrier account", "carrier_account",
                                          "carrier_account_id"),
           "Название договора с перевозчиком (как в «Перевозчиках»); пусто — договор "
           "перевозчика по умолчанию"),
    Column("service_code", "Вид отправления", ("тип отправления", "тариф", "mail type",
                                               "mail-type", "service", "service_code"),
           "Из списка, например POSTAL_PARCEL, ONLINE_PARCEL, EMS"),
    Column("recipient_name", "ФИО получателя", ("получатель", "фио", "recipient",
                                                "recipient name", "recipient_name")),
    Column("recipient_surname", "Фамилия", ("surname", "last name", "recipient_surname")),
    Column("recipient_given_name", "Имя", ("first name", "given name",
                                           "recipient_given_name")),
    Column("recipient_patronymic", "Отчество", ("middle name", "recipient_patronymic")),
    Column("recipient_company", "Организация получателя", ("компания", "организация",
                                                           "company", "recipient_company")),
    Column("recipient_phone", "Телефон", ("телефон получателя", "моб. телефон",
                                          "мобильный телефон", "номер телефона", "тел.",
                                          "тел", "phone",
                                          "recipient_phone"),
           "Любой записи: 8 912 345-67-89, +7(912)3456789"),
    Column("recipient_email", "E-mail", ("email", "эл. почта", "электронная почта", "почта",
                                         "recipient_email")),
    Column("country", "Страна", ("country", "код страны"), "Двухбуквенный код; пусто — RU"),
    Column("index", "Индекс", ("почтовый индекс", "индекс получателя", "zip", "postcode",
                               "postal code", "index")),
    Column("region", "Регион", ("область", "край", "субъект", "region")),
    Column("district", "Район", ("district", "area")),
    Column("city", "Населённый пункт", ("город", "нас. пункт", "населенный пункт", "city",
                                        "place")),
    Column("street", "Улица", ("street",)),
    Column("house", "Дом", ("house", "№ дома")),
    Column("building", "Корпус/строение", ("корпус", "строение", "building")),
    Column("apartment", "Квартира/офис", ("квартира", "кв.", "офис", "apartment", "room")),
    Column("address", "Адрес одной строкой", (
        "адрес", "адрес получателя", "полный адрес", "адрес доставки", "address",
        "адрес (улица, дом, кв.)", "адрес (улица, дом, квартира)", "улица, дом, кв.",
        "улица, дом, квартира", "улица и дом", "улица, дом", "street address"),
        "Одной строкой: «ул. Ленина, д. 5, кв. 12» или весь адрес; рядом могут быть "
        "колонки «Регион», «Город», «Индекс» — они важнее разобранного из строки"),
    Column("pickup_point_code", "Пункт выдачи", ("пвз", "код пвз", "постамат",
                                                 "pickup point", "pickup_point_code")),
    Column("weight_g", "Вес, г", ("вес", "вес (г)", "вес гр", "масса", "масса, г", "weight",
                                  "weight_g", "mass"), "Целое число граммов", required=True),
    Column("length_cm", "Длина, см", ("длина", "length", "length_cm")),
    Column("width_cm", "Ширина, см", ("ширина", "width", "width_cm")),
    Column("height_cm", "Высота, см", ("высота", "height", "height_cm")),
    Column("declared_value", "Объявленная ценность, ₽", (
        "объявленная ценность", "ценность", "оц", "declared value", "declared_value",
        "insr-value"), "Рубли, не больше двух знаков после запятой"),
    Column("cod_amount", "Наложенный платёж, ₽", (
        "наложенный платеж", "наложенный платёж", "нп", "сумма нп", "наложка", "cod",
        "cod_amount", "payment"), "Не больше объявленной ценности; до копеек"),
    Column("tracking_number", "Трек-номер", ("шпи", "трек", "трек номер", "номер отправления",
                                             "почтовый идентификатор", "tracking",
                                             "tracking number", "tracking_number", "barcode"),
           "Если номер уже есть: проверяется контрольная цифра"),
    Column("sender_id", "Отправитель (код)", ("отправитель", "склад", "sender", "sender_id")),
    Column("comment", "Комментарий", ("примечание", "comment")),
    Column("items.name", "Товар", ("наименование", "наименование товара", "вложение",
                                   "описание вложения", "item", "item name")),
    Column("items.article", "Артикул", ("sku", "article")),
    Column("items.quantity", "Количество", ("кол-во", "количество товара", "quantity", "qty")),
    Column("items.unit_price", "Цена за единицу, ₽", ("цена", "цена товара", "стоимость товара",
                                                       "unit price", "price")),
    Column("items.weight_g", "Вес товара, г", ("вес единицы", "вес вложения",
                                                "item weight")),
    Column("items.vat_rate", "НДС, %", ("ставка ндс", "ндс", "vat", "vat rate")),
    Column("items.hs_code", "Код ТН ВЭД", ("тн вэд", "hs code", "hs_code", "tnved")),
    Column("items.origin_country", "Страна происхождения", ("origin", "origin country",
                                                             "страна изготовления")),
)
_BY_FIELD = {c.field: c for c in COLUMNS}
_NON_WORD = re.compile(r"[^\w%₽№]+")

# Units a header may name for a weight column («Вес, кг», «Weight (g)»): the words are the
# unit, not the column's name.
KG, GRAMS = "kg", "g"
UNIT_WORDS = {"кг": KG, "kg": KG, "килограмм": KG, "килограммы": KG, "килограммах": KG,
              "г": GRAMS, "гр": GRAMS, "g": GRAMS, "грамм": GRAMS, "граммы": GRAMS,
              "граммов": GRAMS, "граммах": GRAMS}
WEIGHT_FIELDS = frozenset({"weight_g", "items.weight_g"})
UNIT_CHOICES = ((KG, gettext_lazy("килограммы")), (GRAMS, gettext_lazy("граммы")))


def _norm_header(text: Any) -> str:
    return _NON_WORD.sub(" ", str(text or "").lower().replace("ё", "е")).strip()


def header_words(text: Any) -> tuple[tuple[str, ...], str | None]:
    """A header's words without its unit, case and punctuation ignored, and the unit it
    names (``"kg"``, ``"g"`` or None): «Вес, кг» → (("вес",), "kg")."""
    words = _norm_header(text).split()
    kept = tuple(w for w in words if w not in UNIT_WORDS)
    unit = next((UNIT_WORDS[w] for w in words if w in UNIT_WORDS), None)
    return kept or tuple(words), unit


Synonyms = dict[tuple[str, ...], str]


def _synonym_table(names: Iterable[tuple[str, str]]) -> Synonyms:
    table: Synonyms = {}
    for name, field_name in names:
        words, _unit = header_words(name)
        if words:
            table.setdefault(words, field_name)
    return table


_SYNONYMS = _synonym_table((name, c.field) for c in COLUMNS
                           for name in (c.title, c.field, *c.synonyms))

# The optional sheet of items (several per shipment), one item a row, keyed by the order
# number: its plain "Вес", "Цена", "Наименование" are the item's.
ITEM_SHEET_TITLE = gettext_lazy("Вложения")
ITEM_SHEET_NAMES = ("вложения", "товары", "items")
_ITEM_SYNONYMS = _synonym_table(
    [(name, c.field) for c in COLUMNS
     if c.field == "order_number" or c.field.startswith("items.")
     for name in (c.title, c.field, c.field.removeprefix("items."), *c.synonyms)]
    + [("вес", "items.weight_g"), ("масса", "items.weight_g"), ("weight", "items.weight_g"),
       ("цена, ₽", "items.unit_price"), ("стоимость", "items.unit_price"),
       ("товар", "items.name"), ("название", "items.name"),
       ("страна", "items.origin_country")])


def header_field(header: Any, synonyms: Synonyms | None = None) -> str | None:
    """The field a header names: a synonym of any length equal to the header's words, or
    else the longest one found among them as whole words («Вес посылки», «Телефон
    получателя*»); None when none is."""
    synonyms = _SYNONYMS if synonyms is None else synonyms
    words, _unit = header_words(header)
    if not words:
        return None
    found = synonyms.get(words)
    if found is not None:
        return found
    best: tuple[int, int, int] | None = None
    for synonym, candidate in synonyms.items():
        size = len(synonym)
        for start in range(len(words) - size + 1):
            if words[start:start + size] == synonym:
                rank = (size, len("".join(synonym)), -start)
                if best is None or rank > best:
                    best, found = rank, candidate
                break
    return found


def map_headers(headers: Sequence[Any],
                synonyms: Synonyms | None = None) -> list[str | None]:
    """The field of each column (None: not recognised), by synonyms, in any order. A field
    claimed by two columns goes to the first."""
    fields: list[str | None] = []
    used: set[str] = set()
    for header in headers:
        found = header_field(header, synonyms)
        if found in used:
            found = None
        if found:
            used.add(found)
        fields.append(found)
    return fields


def headers_key(headers: Sequence[Any]) -> str:
    """The key of a header set, for the mapping remembered for it."""
    return hashlib.sha256("\x1f".join(_norm_header(h) for h in headers).encode()).hexdigest()


_DECIMAL = re.compile(r"^\d+[.,]\d+$")


def unit_from_values(values: Iterable[Any]) -> str | None:
    """The unit of a weight column told by its values: kilograms when one has a fraction
    («14,954», 0.5), grams when all are whole and one is above 100 (no parcel weighs
    100 kg); None when it cannot be told (whole numbers up to 100: «10» is 10 kg or 10 g)."""
    grams = False
    for value in values:
        if value is None or value == "" or isinstance(value, bool):
            continue
        if isinstance(value, float | int | Decimal):
            if value != int(value):
                return KG
            number = int(value)
        else:
            text = str(value).strip().replace(" ", "").replace("\xa0", "")
            if _DECIMAL.match(text):
                return KG
            if not text.isdigit():
                continue
            number = int(text)
        grams = grams or number > 100
    return GRAMS if grams else None


def kilos_to_grams(value: Any) -> Any:
    """A weight in kilograms as whole grams, exactly (Decimal, half up); a value that is
    not a number is given back as it was, for validation to name."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value * 1000
    text = repr(value) if isinstance(value, float) else (
        str(value).strip().replace(" ", "").replace("\xa0", "").replace(",", "."))
    try:
        kilos = Decimal(text)
    except InvalidOperation:
        return value
    if not kilos.is_finite():
        return value
    return int((kilos * 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def column_letter(index: int) -> str:
    """The spreadsheet name of the 0-based column ``index``: 0 → A, 26 → AA."""
    letters = ""
    number = index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# --- reading ---------------------------------------------------------------------------

@dataclass
class Sheet:
    """A file opened for reading: the header row, the data rows (a fresh iterator each
    call), the number of data rows."""

    format: str
    headers: list[str]
    total_rows: int
    _rows: Callable[[], Iterator[list[Any]]]
    header_row: int = 1  # the row number of the header in the file
    name: str = ""  # the sheet's name in a workbook

    def rows(self) -> Iterator[tuple[int, list[Any]]]:
        """``(row number as the user sees it in the file, values)``; empty rows skipped.
        The row limit holds here too, whatever the file said of its size."""
        last = self.header_row + MAX_ROWS
        for offset, values in enumerate(self._rows(), start=self.header_row + 1):
            if values.count(None) + values.count("") < len(values):  # counted in C
                if offset > last:
                    raise _too_many_rows()
                yield offset, values


def detect_format(filename: str, head: bytes) -> str:
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(OLE_MAGIC):
        return "xls"
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm", ".ods", ".xls"):
        raise _reject(_("Файл «%(name)s» повреждён: это не таблица Excel/ODS") % {
            "name": filename})
    return "csv"


ZIP_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError,
                   NotImplementedError, OSError)


@contextlib.contextmanager
def zip_read_errors() -> Iterator[None]:
    """A part of the archive that cannot be read as its directory says (a wrong CRC, sizes
    that lie, a method we do not know) refuses the file, with a message, not a traceback."""
    try:
        yield
    except ZIP_READ_ERRORS as exc:
        raise _reject(_("Файл повреждён: часть архива XLSX не читается (%(err)s). Откройте "
                        "его в Excel и сохраните заново") % {"err": exc}) from exc


def check_zip(path: Path) -> str:
    """Refuses zip bombs and broken archives before any XML is parsed; returns "xlsx" or
    "ods"."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise _reject(_("В файле слишком много частей: это не обычная таблица"))
            total = 0
            for member in members:
                total += member.file_size
                ratio = member.file_size / max(member.compress_size, 1)
                if ratio > MAX_RATIO and member.file_size > 10 * 1024 * 1024:
                    raise _reject(_(
                        "Файл отклонён: часть «%(name)s» распаковывается в %(ratio)d раз "
                        "больше — так выглядит zip-бомба, а не таблица") % {
                        "name": member.filename, "ratio": ratio})
            if total > MAX_UNCOMPRESSED_BYTES:
                raise _reject(_(
                    "Файл отклонён: в распакованном виде он занимает %(mb)d МБ, больше "
                    "допустимых %(max)d МБ") % {"mb": total // 2**20,
                                               "max": MAX_UNCOMPRESSED_BYTES // 2**20})
            names = {m.filename for m in members}
            if "mimetype" in names and b"opendocument.spreadsheet" in archive.read("mimetype"):
                return "ods"
            if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
                return "xlsx"
    except zipfile.BadZipFile as exc:
        raise _reject(_("Файл повреждён: архив XLSX не читается (%(err)s)") % {
            "err": exc}) from exc
    raise _reject(_("Файл не похож на таблицу XLSX или ODS"))


_FORMULA_XLSX = re.compile(rb'<c r="([A-Z]+)(\d+)"[^>]*>\s*<f[ >/]')


FORMULA_LIMIT = 50  # formula cells named in a refusal


def formula_cells(path: Path, fmt: str, limit: int = FORMULA_LIMIT,
                  sheet: str | None = None) -> list[tuple[int, str]]:
    """Cells holding formulas as ``(row, column letter)`` (for ODS, ``(0, "")`` when any,
    on any sheet) on the workbook's sheet named ``sheet`` (the first when None). Formulas
    are never evaluated; a file with them is refused with the cells named."""
    found: list[tuple[int, str]] = []
    with zipfile.ZipFile(path) as archive:
        if fmt == "ods":
            with archive.open("content.xml") as stream:
                tail = b""
                while block := stream.read(4 * 2**20):
                    if b"table:formula=" in tail + block:
                        return [(0, "")]
                    tail = block[-32:]
            return []
        members = _sheet_members(archive) or {  # unreadable relationships: the first part
            "": next((n for n in archive.namelist()
                      if n.startswith("xl/worksheets/") and n.endswith(".xml")), "")}
        member = (next(iter(members.values()), None) if sheet is None
                  else members.get(sheet))
        if member is None or member not in archive.NameToInfo:
            return found
        with archive.open(member) as stream:
            tail = b""
            while block := stream.read(4 * 2**20):
                data = tail + block
                if _add_formulas(data, found, limit):
                    return found
                tail = data[-256:]
    return found


def _add_formulas(data: bytes, found: list[tuple[int, str]], limit: int) -> bool:
    """Adds the cells of ``data`` (a piece of a sheet's XML) holding formulas to ``found``,
    up to ``limit`` of them; whether the limit is reached."""
    if b"<f" in data:
        for match in _FORMULA_XLSX.finditer(data):
            if len(found) >= limit:
                return True
            cell = (int(match.group(2)), match.group(1).decode())
            if cell not in found:
                found.append(cell)
    return len(found) >= limit


def _open_workbook(path: Path, fmt: str) -> Sheet:
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError

    try:
        workbook = CalamineWorkbook.from_path(str(path))
        sheet = workbook.get_sheet_by_index(0)
        height = sheet.height  # rows from the first non-empty one (iter_rows skips above)
        first_row = sheet.start[0] + 1 if sheet.start else 1
        iterator = sheet.iter_rows()
        header = next(iterator, [])
    except PasswordError as exc:
        raise _reject(_("Файл защищён паролем: снимите пароль и загрузите снова")) from exc
    except (CalamineError, ValueError, OSError) as exc:
        raise _reject(_("Файл повреждён и не читается: %(err)s") % {"err": exc}) from exc

    opened = [iterator]  # the first reading goes on from the header already read

    def rows() -> Iterator[list[Any]]:
        if opened:
            yield from opened.pop()
            return
        it = sheet.iter_rows()  # read again from the sheet already loaded
        next(it, None)
        yield from it

    return Sheet(format=fmt, headers=[_cell_text(h) for h in header],
                 total_rows=max(height - 1, 0), _rows=rows, header_row=first_row,
                 name=sheet.name)


@dataclass
class ItemSheet:
    """A workbook's sheet of items: each row one item of the shipment its order number
    names on the first sheet."""

    name: str
    headers: list[str]
    fields: list[str | None]
    rows: list[tuple[int, list[Any]]]


def item_sheet(path: Path, fmt: str) -> ItemSheet | None:
    """The workbook's sheet of items, if it has one: a sheet after the first named
    «Вложения»/«Товары» or whose headers name an order number and an item."""
    if fmt not in ("xlsx", "ods", "xls"):
        return None
    from python_calamine import CalamineError, CalamineWorkbook

    sheet_name = ""
    try:
        workbook = CalamineWorkbook.from_path(str(path))
        for index, sheet_name in enumerate(workbook.sheet_names[1:], start=1):
            named = _norm_header(sheet_name) in ITEM_SHEET_NAMES
            sheet = workbook.get_sheet_by_index(index)
            iterator = sheet.iter_rows()
            headers = [_cell_text(h) for h in next(iterator, [])]
            fields = map_headers(headers, _ITEM_SYNONYMS)
            if "order_number" in fields and "items.name" in fields:
                first = (sheet.start[0] + 1 if sheet.start else 1) + 1
                rows: list[tuple[int, list[Any]]] = [
                    (n, values) for n, values in enumerate(iterator, start=first)
                    if any(v not in (None, "") for v in values)]
                if len(rows) > MAX_ROWS:
                    raise _reject(_("На листе «%(sheet)s» %(n)d строк, а можно не больше "
                                    "%(max)d") % {"sheet": sheet_name, "n": len(rows),
                                                  "max": MAX_ROWS})
                return ItemSheet(sheet_name, headers, fields, rows)
            if named:
                raise _reject(_("На листе «%(sheet)s» нужны колонки «Номер заказа» и "
                                "«Товар»") % {"sheet": sheet_name})
    except (CalamineError, ValueError, OSError) as exc:
        if sheet_name:
            raise _reject(_("Лист «%(sheet)s» повреждён и не читается: %(err)s") % {
                "sheet": sheet_name, "err": exc}) from exc
        raise _reject(_("Файл повреждён и не читается: %(err)s") % {"err": exc}) from exc
    return None


def check_item_sheet(path: Path, fmt: str) -> None:
    """Refuses an upload whose sheet of items the import could not read (its columns, its
    size, a damaged part) or that holds formulas, naming the sheet and the cells: found
    now, not when the job runs."""
    items = item_sheet(path, fmt)
    if items is None or fmt != "xlsx":
        return  # an ODS's formulas on any sheet are refused by open_sheet
    cells = formula_cells(path, fmt, sheet=items.name)
    if cells:
        raise _reject(
            _("На листе «%(sheet)s» есть формулы (%(cells)s): они не вычисляются. Вставьте "
              "значения вместо формул") % {
                "sheet": items.name, "cells": ", ".join(f"{c}{r}" for r, c in cells[:10])},
            [FieldError(("row", row, column), _(
                "Лист «%(sheet)s», ячейка %(cell)s: формула, вставьте значение") % {
                "sheet": items.name, "cell": f"{column}{row}"}) for row, column in cells])


_ROW_TAG = re.compile(rb"<row[\s>]")
_ROW_NUMBER = re.compile(rb'<row[^>]*?\sr="(\d+)"')
_CELL = re.compile(rb'<c\s([^>]*?)(?:/>|>(.*?)</c>)', re.DOTALL)
_CELL_REF = re.compile(rb'\br="([A-Z]+)\d+"')
_CELL_TYPE = re.compile(rb'\bt="(\w+)"')
_CELL_VALUE = re.compile(rb"<v>(.*?)</v>", re.DOTALL)
_INLINE_TEXT = re.compile(rb"<t(?:\s[^>]*)?>(.*?)</t>", re.DOTALL)
_DIMENSION = re.compile(rb'<dimension\s+ref="([A-Z]+)\d+')
_MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


_ANY_ROW_TAG = re.compile(rb"<(?:\w{1,10}:)?row[\s>]")


def _count_row_tags(tail: bytes, block: bytes) -> int:
    """The row tags in ``block``, and the one cut in two between ``tail`` (the end of the
    block before) and it, counted once."""
    joint = tail + block[:16]
    return len(_ANY_ROW_TAG.findall(block)) + sum(
        1 for m in _ANY_ROW_TAG.finditer(joint) if m.start() < len(tail) < m.end())


def _column_number(letters: bytes) -> int:
    number = 0
    for char in letters:
        number = number * 26 + char - 64
    return number - 1


def _sheet_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """The XML member of each sheet of an XLSX by the sheet's name, in the workbook's
    order, as its relationships name them (empty when they cannot be read)."""
    import xml.etree.ElementTree as ET  # expat >= 2.4 refuses entity bombs

    try:
        workbook = ET.fromstring(archive.read("xl/workbook.xml"))  # noqa: S314
        rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))  # noqa: S314
    except (KeyError, ET.ParseError):
        return {}
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    members: dict[str, str] = {}
    for sheet in workbook.iterfind(f"{_MAIN_NS}sheets/{_MAIN_NS}sheet"):
        rel_id = next((v for k, v in sheet.attrib.items() if k.endswith("}id")), None)
        target = targets.get(rel_id)
        if target:
            members[sheet.get("name", "")] = (target.lstrip("/") if target.startswith("/")
                                              else f"xl/{target}")
    return members


def _shared_strings(archive: zipfile.ZipFile, wanted: set[int]) -> dict[int, str] | None:
    """The shared strings at the given positions, read only as far as the last of them."""
    import xml.etree.ElementTree as ET  # expat >= 2.4 refuses entity bombs

    found: dict[int, str] = {}
    if not wanted:
        return found
    last = max(wanted)
    try:
        with archive.open("xl/sharedStrings.xml") as stream:
            position = 0
            for _event, element in ET.iterparse(stream):  # noqa: S314
                if element.tag != f"{_MAIN_NS}si":
                    continue
                if position in wanted:  # plain text or rich runs; phonetic guides left out
                    parts = [child.text or "" if child.tag == f"{_MAIN_NS}t" else
                             "".join(t.text or "" for t in child.iter(f"{_MAIN_NS}t"))
                             for child in element if child.tag in (f"{_MAIN_NS}t",
                                                                   f"{_MAIN_NS}r")]
                    found[position] = "".join(parts)
                element.clear()
                if position >= last:
                    break
                position += 1
    except (KeyError, ET.ParseError):
        return None
    return found if len(found) == len(wanted) else None


def _xlsx_outline(path: Path, *, count_rows: bool = True,
                  formulas: list[tuple[int, str]] | None = None
                  ) -> tuple[list[str], int, str] | None:
    """The header, the number of data rows (0 unless ``count_rows``: read only up to the
    header then) and the name of an XLSX's first sheet, read from its XML without loading
    the sheet (the import itself loads it once, later). ``None`` when the sheet is not
    shaped as usual: the caller then loads it. ``formulas`` (with ``count_rows``): gets
    the cells holding formulas, as :func:`formula_cells` finds them, in the same reading."""
    with zipfile.ZipFile(path) as archive:
        name, member = next(iter(_sheet_members(archive).items()), ("", None))
        if member is None:
            return None
        first_row: bytes | None = None
        first_number = last_number = 0
        start_column: int | None = None
        tail = b""
        row_tags, row_tail = 0, b""
        try:
            with archive.open(member) as stream:
                while block := stream.read(4 * 2**20):
                    if count_rows:  # rows counted by their tags: a row needs no r="…"
                        row_tags += _count_row_tags(row_tail, block)
                        row_tail = block[-16:]
                        if row_tags > MAX_ROWS + 1:
                            raise _too_many_rows()
                    data = tail + block
                    if formulas is not None:
                        _add_formulas(data, formulas, FORMULA_LIMIT)
                    if start_column is None and (dimension := _DIMENSION.search(data)):
                        start_column = _column_number(dimension.group(1))
                    if first_row is None and (opening := _ROW_TAG.search(data)):
                        end = data.find(b"</row>", opening.start())
                        if end < 0 and len(data) > 2**20 and not count_rows:
                            return None  # no header row of a usual size
                        if end >= 0:
                            first_row = data[opening.start():end]
                            number = _ROW_NUMBER.match(first_row)
                            first_number = int(number.group(1)) if number else 0
                            if not count_rows:
                                break
                    cut = data.rfind(b"<row ")  # not <rowBreaks>
                    if cut >= 0 and (number := _ROW_NUMBER.match(data, cut)):
                        last_number = int(number.group(1))
                    tail = data[-4096:] if first_row is not None else data[-(4 * 2**20):]
        except KeyError:
            return None
        # the usual shape only (the header in A1's row, what calamine reads as the header);
        # anything else is loaded as a whole, as the import will
        if first_row is None or first_number != 1 or start_column not in (None, 0):
            return None
        cells: list[tuple[int, str, bytes]] = []
        for match in _CELL.finditer(first_row):
            attributes, body = match.group(1), match.group(2) or b""
            ref = _CELL_REF.search(attributes)
            if ref is None:
                return None
            typed = _CELL_TYPE.search(attributes)
            cells.append((_column_number(ref.group(1)),
                          typed.group(1).decode() if typed else "n", body))
        indexes = set()
        for _column, kind, body in cells:
            if kind == "s" and (value := _CELL_VALUE.search(body)):
                indexes.add(int(value.group(1)))
        strings = _shared_strings(archive, indexes)
        if strings is None:
            return None
    from html import unescape

    texts: dict[int, str] = {}
    for column, kind, body in cells:
        if kind == "s":
            value = _CELL_VALUE.search(body)
            texts[column] = strings[int(value.group(1))] if value else ""
        elif kind == "inlineStr":
            texts[column] = unescape(b"".join(_INLINE_TEXT.findall(body)).decode())
        else:
            value = _CELL_VALUE.search(body)
            texts[column] = unescape(value.group(1).decode()) if value else ""
    if not texts or min(texts) != 0:
        return None
    headers = [_cell_text(_number_or_text(texts.get(c, ""))) for c in range(max(texts) + 1)]
    return headers, max(last_number - first_number, 0), name


def _number_or_text(text: str) -> Any:
    """A numeric header cell as calamine gives it (12 → "12", 1.5 → "1.5")."""
    try:
        return float(text) if text and text[0] in "0123456789-." else text
    except ValueError:
        return text


_ASCII = bytes(range(0x80))
# Windows-1251's Cyrillic: А-Я а-я, Ё ё, №, « », – —
_CP1251_NOT_CYRILLIC = bytes(b for b in range(0x80, 0x100)
                             if not (b >= 0xC0 or b in b"\xa8\xb8\xb9\xab\xbb\x96\x97"))
_CP1251_NOT_UPPER = bytes(b for b in range(0x100) if not (0xC0 <= b <= 0xDF or b == 0xA8))
CSV_BLOCK = 2**20


def csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) or Windows-1251, as Russian Excel saves; anything else
    is refused rather than read as mojibake. The file is read in blocks, never whole."""
    with path.open("rb") as stream:
        return _stream_encoding(stream)


def decode_csv(raw: bytes) -> str:
    """A small CSV's bytes as text, its encoding told as :func:`csv_encoding` tells it."""
    return raw.decode(_stream_encoding(io.BytesIO(raw)), errors="replace")


def _stream_encoding(stream: IO[bytes]) -> str:
    head = stream.read(4096)
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise _reject(_("CSV в кодировке UTF-16 не поддерживается: сохраните как «CSV "
                        "UTF-8» или «CSV (разделители — точка с запятой)» в Windows-1251"))
    stream.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while block := stream.read(CSV_BLOCK):
            decoder.decode(block)
        decoder.decode(b"", final=True)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    stream.seek(0)
    non_ascii = cyrillic = upper = 0
    while block := stream.read(CSV_BLOCK):  # counted by bytes, in C
        high = block.translate(None, _ASCII)
        letters = high.translate(None, _CP1251_NOT_CYRILLIC)
        non_ascii += len(high)
        cyrillic += len(letters)
        upper += len(letters.translate(None, _CP1251_NOT_UPPER))
    lower = cyrillic - upper
    if non_ascii and (cyrillic < 0.95 * non_ascii or (cyrillic > 40 and upper > 3 * lower)):
        raise _reject(_("CSV в неизвестной кодировке (не UTF-8 и не Windows-1251): сохраните "
                        "файл как «CSV UTF-8»"))
    return "cp1251"


def _detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ";"


def _too_many_rows(n: int | None = None) -> ImportRejected:
    if n is None:
        return _reject(_("В файле больше %(max)d строк, а за один раз можно загрузить не "
                         "больше %(max)d — разделите файл") % {"max": MAX_ROWS})
    return _reject(_("В файле %(n)d строк, а за один раз можно загрузить не больше "
                     "%(max)d — разделите файл") % {"n": n, "max": MAX_ROWS})


def _open_csv(path: Path) -> Sheet:
    encoding = csv_encoding(path)
    with path.open("rb") as raw, io.TextIOWrapper(raw, encoding=encoding, errors="replace",
                                                  newline="") as text:
        delimiter = _detect_delimiter(text.readline())

    def rows() -> Generator[list[str]]:
        # streamed: a decoded block at a time, whatever the file's size and encoding
        with path.open("rb") as raw, io.TextIOWrapper(raw, encoding=encoding,
                                                      errors="replace", newline="") as text:
            yield from csv.reader(text, delimiter=delimiter)

    total = -1
    try:
        iterator = rows()
        header = next(iterator, [])
        for total, _row in enumerate(iterator):
            if total >= MAX_ROWS:
                iterator.close()
                raise _too_many_rows()
    except csv.Error as exc:
        raise _reject(_("CSV не читается: %(err)s") % {"err": exc}) from exc

    def data_rows() -> Iterator[list[Any]]:
        it = rows()
        next(it, None)
        yield from it

    return Sheet(format="csv", headers=[h.strip() for h in header], total_rows=total + 1,
                 _rows=data_rows)


def open_sheet(path: Path, filename: str, *, outline: bool = False,
               accepted: bool = False, rows_known: int | None = None) -> Sheet:
    """Opens an upload after the safety checks; raises :class:`ImportRejected` with a
    clear message for anything that is not a readable, safe table within the limits.
    ``outline``: only the header and the row count are needed (an upload being accepted),
    which an XLSX gives without loading its whole sheet. ``accepted``: the file (stored
    under its hash) passed :func:`import_job_create`'s checks, so its sheet is not
    searched for formulas again. ``rows_known``: its number of data rows, counted then (an
    XLSX outline then reads no further than the header)."""
    size = path.stat().st_size
    if size > settings.SHIPDESK_MAX_UPLOAD_BYTES:
        raise _reject(_("Файл больше %(max)d МБ") % {
            "max": settings.SHIPDESK_MAX_UPLOAD_BYTES // 2**20})
    if size == 0:
        raise _reject(_("Файл пустой"))
    with path.open("rb") as stream:
        head = stream.read(8)
    fmt = detect_format(filename, head)
    if fmt == "zip":
        with zip_read_errors():
            sheet = _open_zipped(path, outline=outline, accepted=accepted,
                                 rows_known=rows_known)
    elif fmt == "xls":
        if ENCRYPTED_PACKAGE in path.read_bytes()[:1 << 20] or _ole_has_encrypted(path):
            raise _reject(_("Файл защищён паролем: снимите пароль и загрузите снова"))
        sheet = _open_workbook(path, "xls")
    else:
        sheet = _open_csv(path)
    if len(sheet.headers) > MAX_COLUMNS:
        raise _reject(_("Слишком много колонок (%(n)d)") % {"n": len(sheet.headers)})
    if sheet.total_rows > MAX_ROWS:
        raise _too_many_rows(sheet.total_rows)
    return sheet


def _open_zipped(path: Path, *, outline: bool, accepted: bool, rows_known: int | None
                 ) -> Sheet:
    """An XLSX or ODS, checked: its rows counted by their tags before the sheet is loaded
    (over the limit: refused while reading), its formulas refused."""
    fmt = check_zip(path)
    known = None
    formulas: list[tuple[int, str]] | None = None
    if fmt == "xlsx" and (outline or not accepted):
        # one reading of the sheet's XML gives the outline, the rows and the formulas
        formulas = None if accepted or rows_known is not None else []
        try:
            known = _xlsx_outline(path, count_rows=rows_known is None, formulas=formulas)
        except ValueError:
            known = None  # a part not shaped as usual: loading it whole says what is wrong
    if accepted:
        cells = []
    elif known is not None and formulas is not None:
        cells = formulas
    else:
        cells = formula_cells(path, fmt)
    if cells:
        if cells[0][0] == 0:
            raise _reject(_("В файле есть формулы: они не вычисляются. Скопируйте "
                            "таблицу и вставьте как значения"))
        raise _reject(
            _("В файле есть формулы (%(cells)s): они не вычисляются. Вставьте значения "
              "вместо формул") % {"cells": ", ".join(f"{c}{r}" for r, c in cells[:10])},
            [FieldError(("row", row, column), _("Формула в ячейке %(cell)s: вставьте "
                                                 "значение") % {"cell": f"{column}{row}"})
             for row, column in cells])
    if known is not None and outline:
        headers, total, name = known
        total = total if rows_known is None else rows_known
        return Sheet(format=fmt, headers=headers, total_rows=total,
                     _rows=lambda: _open_workbook(path, fmt)._rows(), name=name)
    return _open_workbook(path, fmt)


def _ole_has_encrypted(path: Path) -> bool:
    with path.open("rb") as stream:
        return ENCRYPTED_PACKAGE in stream.read()


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _cell_value(value: Any) -> Any:
    if isinstance(value, datetime | date | time | timedelta):
        return str(value)
    if isinstance(value, str):
        return value.strip()
    return value


@dataclass
class Preview:
    format: str
    total_rows: int
    # {"index", "letter", "header", "field", "title", "unit", "unit_from"}
    columns: list[dict[str, Any]]
    missing: list[str]  # titles of required columns not found
    sample: list[list[str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what stops the import, in words
    notes: list[str] = field(default_factory=list)  # what was assumed (a weight's unit)


UNIT_SCAN_ROWS = 5_000  # rows looked at to tell a weight column's unit by its values


def field_choices() -> list[tuple[str, str]]:
    """The fields a column can be loaded into, for the preview's selects."""
    return [(c.field, c.title) for c in COLUMNS]


def preview(sheet: Sheet, sample_rows: int = 5, mapping: dict[str, str] | None = None,
            units: dict[str, str] | None = None) -> Preview:
    """How the file will be read: the field of each column (``mapping``: column index →
    field, "" for a column not loaded; by default from the headers), the unit of each
    weight column (``units``; by default told by the header or the values) and what stops
    it: a field chosen twice, a required one missing, a weight whose unit cannot be told."""
    fields = fields_of(sheet.headers, mapping)
    units = dict(units or {})
    header_units = {str(i): u for i, h in enumerate(sheet.headers)
                    if fields[i] in WEIGHT_FIELDS and (u := header_words(h)[1])}
    values_needed = [i for i, f in enumerate(fields)
                     if f in WEIGHT_FIELDS and str(i) not in header_units]
    value_units: dict[str, str | None] = {}
    if values_needed:
        scanned = list(itertools.islice(sheet.rows(), UNIT_SCAN_ROWS))
        for i in values_needed:
            value_units[str(i)] = unit_from_values(
                values[i] for _n, values in scanned if i < len(values))
    columns: list[dict[str, Any]] = []
    notes: list[str] = []
    problems: list[str] = []
    for i, (header, name) in enumerate(zip(sheet.headers, fields, strict=True)):
        column = {"index": i, "letter": column_letter(i), "header": header, "field": name,
                  "title": _BY_FIELD[name].title if name else "", "unit": None,
                  "unit_from": ""}
        if name in WEIGHT_FIELDS:
            key = str(i)
            told, source = ((header_units[key], "header") if key in header_units else
                            (value_units.get(key), "values"))
            unit = told
            if units.get(key) and units[key] != told:
                unit, source = units[key], "choice"
            column["unit"], column["unit_from"] = unit, source if unit else ""
            where = {"letter": column_letter(i), "header": header}
            if unit is None:
                problems.append(_(
                    "Колонка %(letter)s «%(header)s»: не понять, вес в килограммах или в "
                    "граммах (все значения — целые числа до 100). Выберите единицу") % where)
            elif source != "choice":
                notes.append((_("Колонка %(letter)s «%(header)s»: вес в килограммах, "
                                "переводим в граммы") if unit == KG else
                              _("Колонка %(letter)s «%(header)s»: вес в граммах")) % where
                             + " (" + (_("так сказано в заголовке") if source == "header"
                                       else _("так следует из значений")) + ")")
        columns.append(column)
    chosen: dict[str, list[str]] = {}
    for i, name in enumerate(fields):
        if name:
            chosen.setdefault(name, []).append(column_letter(i))
    for name, letters in chosen.items():
        if len(letters) > 1:
            problems.append(_("Поле «%(field)s» выбрано для нескольких колонок: %(cols)s. "
                              "Оставьте одну") % {"field": _BY_FIELD[name].title,
                                                  "cols": ", ".join(letters)})
    missing = missing_fields(set(chosen))
    problems[:0] = [_("Нет колонки «%(c)s»: выберите её в списке") % {"c": c} for c in missing]
    sample: list[list[str]] = []
    for _n, values in sheet.rows() if sample_rows > 0 else ():
        sample.append([_cell_text(v) for v in values])
        if len(sample) >= sample_rows:
            break
    return Preview(format=sheet.format, total_rows=sheet.total_rows, columns=columns,
                   missing=missing, sample=sample, problems=problems, notes=notes)


def missing_fields(found: set[str]) -> list[str]:
    """The titles of the required columns a mapping lacks."""
    missing = [c.title for c in COLUMNS if c.required and c.field not in found]
    if not found & {"recipient_name", "recipient_surname", "recipient_company"}:
        missing.append(_("ФИО получателя"))
    if not found & {"index", "address", "pickup_point_code"}:
        missing.append(_("Индекс"))
    return missing


def fields_of(headers: Sequence[Any], mapping: dict[str, str] | None) -> list[str | None]:
    """The field of each column: as ``mapping`` says (column index → field, "" or absent:
    not loaded), or by the headers when there is none."""
    if not mapping:
        return map_headers(headers)
    return [mapping.get(str(i)) or None if mapping.get(str(i)) in _BY_FIELD else None
            for i in range(len(headers))]


def row_to_data(values: Sequence[Any], fields: Sequence[str | None]) -> dict[str, Any]:
    return row_reader(fields)(values)


def row_reader(fields: Sequence[str | None], kilos: Sequence[int] = ()
               ) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """A function turning one row's values into intake data (``items.*`` columns into one
    item), with the column plan worked out once per file instead of once per cell.
    ``kilos``: the columns whose weights are in kilograms, given to intake in grams."""
    read = _row_reader(fields)
    if not kilos:
        return read
    names = [name for i in kilos if (name := fields[i]) and (
        name in WEIGHT_FIELDS or f"items.{name}" in WEIGHT_FIELDS)]

    def read_kilos(values: Sequence[Any]) -> dict[str, Any]:
        data = read(values)
        for name in names:
            target = data["items"][0] if name.startswith("items.") and data.get("items") else data
            key = name.removeprefix("items.")
            if key in target:
                target[key] = kilos_to_grams(target[key])
        return data
    return read_kilos


def _row_reader(fields: Sequence[str | None]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    plain = [(i, name) for i, name in enumerate(fields) if name and not name.startswith("items.")]
    item_columns = [(i, name[6:]) for i, name in enumerate(fields)
                    if name and name.startswith("items.")]

    def pick(values: Sequence[Any], columns: list[tuple[int, str]]) -> dict[str, Any]:
        width = len(values)
        data: dict[str, Any] = {}
        for i, name in columns:
            if i < width:
                value = values[i]
                if value.__class__ is str:
                    if value:
                        data[name] = value.strip()
                elif value is not None and value != "":
                    data[name] = _cell_value(value)
        return data

    def read(values: Sequence[Any]) -> dict[str, Any]:
        data = pick(values, plain)
        if item_columns and (item := pick(values, item_columns)):
            data["items"] = [item]
        return data
    return read


# --- the error report and exports ---------------------------------------------------------

ReportSheet = tuple[str, Sequence[str], Sequence[tuple[int, Sequence[Any]]],
                    dict[int, list[tuple[int | None, str]]]]


def error_report(headers: Sequence[str], rows: Sequence[tuple[int, Sequence[Any]]],
                 errors: dict[int, list[tuple[int | None, str]]],
                 items: ReportSheet | None = None) -> bytes:
    """An XLSX of the rejected rows as they were given: each bad cell filled red with the
    message in a comment, all messages of the row in a last column, the row number of the
    original file in the first. ``items``: the rejected rows of the sheet of items
    ``(its name, headers, rows, errors)``, on a second sheet of the same shape."""
    workbook = SafeWorkbook()
    _report_sheet(workbook, _("Ошибки"), headers, rows, errors)
    if items is not None:
        _report_sheet(workbook, items[0][:31], *items[1:])
    return workbook.to_bytes()


def _report_sheet(workbook: SafeWorkbook, title: str, headers: Sequence[str],
                  rows: Sequence[tuple[int, Sequence[Any]]],
                  errors: dict[int, list[tuple[int | None, str]]]) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    sheet = workbook.create_sheet(title)
    bold = Font(bold=True)
    red = PatternFill("solid", fgColor="FFC7CE")
    sheet.append([sheet.styled(title, font=bold)
                  for title in (_("Строка файла"), *headers, _("Ошибки"))])
    for row_number, values in rows:
        row_errors = errors.get(row_number, [])
        by_column: dict[int, list[str]] = {}
        for column, message in row_errors:
            if column is not None:
                by_column.setdefault(column, []).append(message)
        cells: list[Any] = [row_number]
        width = max(len(headers), len(values))
        for index in range(width):
            value = _cell_value(values[index] if index < len(values) else None)
            cells.append(sheet.styled(value, fill=red, comment=Comment(
                "\n".join(by_column[index]), "Shipdesk")) if index in by_column else value)
        cells.append("; ".join(m for _c, m in row_errors))
        sheet.append(cells)


ErrorRow = tuple[str, int, str, str, str]  # sheet, file row, column letter, field, message


def _error_list_titles() -> list[str]:
    return [_("Лист"), _("Строка файла"), _("Колонка"), _("Поле"), _("Ошибка")]


def error_list_csv(rows: Sequence[ErrorRow]) -> bytes:
    """Every error of a job, a row each (UTF-8 with BOM, «;»: Excel opens it as it is),
    text that a spreadsheet would take for a formula escaped."""
    buffer = io.StringIO()
    writer = SafeCsvWriter(buffer, delimiter=";")
    writer.writerow(_error_list_titles())
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def error_list_rows(job: ImportJob) -> Iterator[ErrorRow]:
    """Every error of a job: from its whole list when it has one, else (a file refused as
    a whole) from the errors kept on it. Cells come back as given (unescaped)."""
    if job.error_list:
        with job.error_list.open("rb") as stream, io.TextIOWrapper(
                stream, encoding="utf-8-sig", newline="") as text:
            reader = csv.reader(text, delimiter=";")
            next(reader, None)
            for sheet, row, column, name, message in reader:
                yield (unescape(sheet), int(row) if row.isdigit() else 0, column,
                       unescape(name), unescape(message))
        return
    for error in job.errors or []:
        yield (str(error.get("sheet") or ""), int(error.get("row") or 0),
               str(error.get("column") or ""),
               str(error.get("header") or error.get("field") or ""), str(error["message"]))


def error_list_file(job: ImportJob, fmt: str) -> bytes:
    """The whole list of a job's errors as ``"csv"`` or ``"xlsx"``."""
    if fmt == "csv":
        return error_list_csv(list(error_list_rows(job)))
    from openpyxl.styles import Font

    workbook = SafeWorkbook()
    sheet = workbook.create_sheet(_("Ошибки"))
    bold = Font(bold=True)
    sheet.append([sheet.styled(title, font=bold) for title in _error_list_titles()])
    for row in error_list_rows(job):
        sheet.append(row)
    return workbook.to_bytes()


def template_xlsx() -> bytes:
    """The upload template: Russian headers with notes, dropdowns for the coded columns,
    one example row."""
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = SafeWorkbook(write_only=False)
    sheet = workbook.create_sheet(_("Отправления"))
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=column.title + (" *" if column.required
                                                                      else ""))
        cell.font = Font(bold=True)
        note = column.note + (("\n" if column.note else "") + _("Другие названия: ")
                              + ", ".join(column.synonyms[:5]) if column.synonyms else "")
        if note:
            cell.comment = Comment(note, "Shipdesk", width=300, height=120)
        sheet.column_dimensions[column_letter(index - 1)].width = max(12, len(column.title) + 3)
    example = {
        "order_number": "A-1001", "service_code": "POSTAL_PARCEL",
        "recipient_name": "Иванов Иван Иванович", "recipient_phone": "+7 912 345-67-89",
        "index": "101000", "region": "г. Москва", "city": "Москва",
        "street": "ул. Мясницкая", "house": "1", "apartment": "5", "weight_g": 1200,
        "declared_value": 2500, "cod_amount": 2500, "items.name": "Книга",
        "items.quantity": 1, "items.unit_price": 2500,
    }
    several = {**{k: v for k, v in example.items() if not k.startswith("items.")},
               "order_number": "A-1002", "weight_g": 900, "declared_value": 1500,
               "cod_amount": 0}  # its items are on the sheet of items
    for index, column in enumerate(COLUMNS, start=1):
        if column.field in example:
            sheet.cell(row=2, column=index, value=example[column.field])
        if column.field in several:
            sheet.cell(row=3, column=index, value=several[column.field])
    _template_items_sheet(workbook.create_sheet(str(ITEM_SHEET_TITLE)))
    codes = sorted({code for code in MailTypeLimit.objects.values_list("service_code",
                                                                       flat=True)})
    lists = {"service_code": ",".join(codes), "country": "RU,BY,KZ,AM,KG,UZ,CN,DE,US",
             "items.vat_rate": "0,5,7,10,20", "carrier_code": "russian_post"}
    for index, column in enumerate(COLUMNS):
        if lists.get(column.field):
            letter = column_letter(index)
            validation = DataValidation(type="list", formula1=f'"{lists[column.field]}"',
                                        allow_blank=True, showDropDown=False)
            validation.error = _("Выберите значение из списка")
            validation.prompt = column.note or column.title
            sheet.add_data_validation(validation)
            validation.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
    sheet.sheet.freeze_panes = "A2"
    return workbook.to_bytes()


def _template_items_sheet(sheet: Any) -> None:
    """The template's optional sheet of items: several items of one order, a row each."""
    from openpyxl.comments import Comment
    from openpyxl.styles import Font

    columns = [_BY_FIELD["order_number"], *(c for c in COLUMNS if c.field.startswith("items."))]
    notes = {"order_number": _("Номер заказа с листа «Отправления»: у заказа может быть "
                               "несколько строк — по одной на вложение. Если вложения "
                               "заказа указаны здесь, в его строке их можно не указывать")}
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index, value=column.title)
        cell.font = Font(bold=True)
        if column.field in notes:
            cell.comment = Comment(notes[column.field], "Shipdesk", width=300, height=120)
        sheet.column_dimensions[column_letter(index - 1)].width = max(12, len(column.title) + 3)
    for row, values in enumerate(({"order_number": "A-1002", "items.name": "Чашка",
                                   "items.article": "CUP-1", "items.quantity": 2,
                                   "items.unit_price": 500, "items.weight_g": 300},
                                  {"order_number": "A-1002", "items.name": "Блюдце",
                                   "items.quantity": 1, "items.unit_price": 500,
                                   "items.weight_g": 200}), start=2):
        for index, column in enumerate(columns, start=1):
            if column.field in values:
                sheet.cell(row=row, column=index, value=values[column.field])
    sheet.sheet.freeze_panes = "A2"


# --- jobs --------------------------------------------------------------------------------

def _hash_file(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while block := stream.read(2**20):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def import_job_create(*, actor: Actor, upload: File, mode: str = "valid_rows",
                      run: bool = True, weight_unit: str | None = None,
                      dispatch: bool = True) -> tuple[ImportJob, bool]:
    """Stores an upload and reads how its columns map (as remembered for its header set, or
    by the headers). Returns ``(job, created)``: the same file uploaded again in the same
    mode returns the earlier job (nothing is imported twice); in the other mode it is a new
    job. A file that cannot be read or is unsafe is refused here. ``run``: queued at once
    (API, CLI), so a mapping that cannot be used (a required column missing, a weight
    whose unit cannot be told and no ``weight_unit``) is refused too; otherwise the
    operator confirms it on the preview (:func:`import_job_confirm`). ``dispatch=False``:
    confirmed but not queued, for a caller that runs it itself (the CLI)."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    if mode not in services.Mode.__members__.values():
        raise ValidationFailed(errors=[FieldError(("mode",), _("Неизвестный режим"))])
    if weight_unit not in (None, "", KG, GRAMS):
        raise ValidationFailed(errors=[FieldError(("weight_unit",), _(
            "Единица веса: kg (килограммы) или g (граммы)"))])
    size = upload.size or 0
    if size > settings.SHIPDESK_MAX_UPLOAD_BYTES:
        raise _reject(_("Файл больше %(max)d МБ") % {
            "max": settings.SHIPDESK_MAX_UPLOAD_BYTES // 2**20})
    upload.seek(0)
    file_hash = _hash_file(upload)
    earlier = (ImportJob.objects.filter(organization=actor.organization, file_hash=file_hash,
                                        mode=mode)
               .exclude(status=ImportJob.Status.FAILED).order_by("-id").first())
    if earlier is not None:
        return earlier, False
    filename = Path(upload.name or "upload").name[:300]
    job = ImportJob(organization=actor.organization, filename=filename, file_hash=file_hash,
                    size=size, mode=mode,
                    created_by=actor.user if getattr(actor.user, "pk", None) else None)
    job.file.save(f"{file_hash[:16]}{Path(filename).suffix.lower()[:8]}", upload, save=False)
    try:
        with local_file(job.file) as path:
            info = _first_reading(actor, job, path, weight_unit)
    except BaseException:
        job.file.delete(save=False)  # refused (or broken): no file left behind
        raise
    if run and info.missing:
        job.file.delete(save=False)
        raise _reject(_("В файле нет колонок: %(cols)s") % {"cols": ", ".join(info.missing)},
                      [FieldError(("columns",), _("Нет колонки «%(c)s»") % {"c": c})
                       for c in info.missing])
    if run and info.problems:
        job.file.delete(save=False)
        raise refusal(info.problems)
    job.total_rows = info.total_rows
    job.save()
    audit(actor, "shipments.import", job, filename=filename, rows=job.total_rows, mode=mode)
    if run:
        job.confirmed_at = timezone.now()
        job.save(update_fields=["confirmed_at"])
        if dispatch:
            _dispatch(job)
    return job, True


def _first_reading(actor: Actor, job: ImportJob, path: Path, weight_unit: str | None
                   ) -> Preview:
    """Opens a new upload (refusing what is unsafe) and sets its job's mapping and units:
    those remembered for its header set, else told by its headers and values."""
    sheet = open_sheet(path, job.filename, outline=True)
    saved = (ImportMapping.objects.filter(organization=actor.organization,
                                          headers_key=headers_key(sheet.headers)).first())
    mapping = dict(saved.mapping) if saved else None
    units = dict(saved.units) if saved else {}
    if weight_unit:
        for i, name in enumerate(fields_of(sheet.headers, mapping)):
            if name in WEIGHT_FIELDS and not header_words(sheet.headers[i])[1]:
                units[str(i)] = weight_unit
    info = preview(sheet, sample_rows=0, mapping=mapping, units=units)
    if not info.missing:
        with zip_read_errors():
            check_item_sheet(path, info.format)
    job.mapping = {str(c["index"]): c["field"] for c in info.columns if c["field"]}
    job.units = {str(c["index"]): c["unit"] for c in info.columns if c["unit"]}
    return info


def refusal(problems: Sequence[str]) -> ImportRejected:
    """What stops a mapping, as one refusal."""
    return _reject("; ".join(problems), [FieldError(("columns",), p) for p in problems])


def _dispatch(job: ImportJob) -> None:
    from shipdesk.shipments.tasks import import_job_run_task

    transaction.on_commit(lambda: import_job_run_task.delay(job.pk))


def import_job_confirm(*, actor: Actor, job_id: int, mapping: dict[str, str],
                       units: dict[str, str], mode: str | None = None) -> ImportJob:
    """The operator's «Загрузить» on the preview: the mapping as chosen (column index →
    field, "" for a column not loaded) and the weights' units are checked; a field chosen
    twice, a required one missing or a unit not told raise :class:`ValidationFailed`
    (nothing is stored); otherwise they are remembered for the organization's files of
    the same headers and the job is queued."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    job = ImportJob.objects.filter(organization=actor.organization, pk=job_id).first()
    if job is None:
        raise NotFound(_("Загрузка не найдена"))
    if job.status != ImportJob.Status.PENDING or job.confirmed_at is not None:
        return job  # pressed twice: the first press runs it
    if mode is not None and mode not in ImportJob.Mode.values:
        raise ValidationFailed(errors=[FieldError(("mode",), _("Неизвестный режим"))])
    clean_units = {k: v for k, v in {**job.units, **units}.items() if v in (KG, GRAMS)}
    with local_file(job.file) as path:
        sheet = open_sheet(path, job.filename, outline=True, accepted=True,
                           rows_known=job.total_rows)
        info = preview(sheet, sample_rows=0, mapping={k: v for k, v in mapping.items()
                                                      if v in _BY_FIELD} or {"": ""},
                       units=clean_units)
        if info.problems:
            raise ValidationFailed(info.problems[0], errors=[
                FieldError(("mapping",), p) for p in info.problems])
        if not info.missing:
            with zip_read_errors():
                check_item_sheet(path, info.format)
    job.mapping = {str(c["index"]): c["field"] for c in info.columns if c["field"]}
    job.units = {str(c["index"]): c["unit"] for c in info.columns if c["unit"]}
    job.mode = mode or job.mode
    job.confirmed_at = timezone.now()
    with transaction.atomic():
        job.save(update_fields=["mapping", "units", "mode", "confirmed_at", "updated_at"])
        ImportMapping.objects.update_or_create(
            organization=actor.organization, headers_key=headers_key(sheet.headers),
            defaults={"headers": sheet.headers,
                      "mapping": {str(c["index"]): c["field"] or "" for c in info.columns},
                      "units": job.units})
        _dispatch(job)
    return job


def import_job_retry(*, actor: Actor, job_id: int, mode: str) -> ImportJob:
    """The file of a finished job imported again in ``mode`` (all or nothing after a
    partial import, or the valid rows after an all-or-nothing one refused): a new job with
    the same mapping, queued; rows the first one stored are counted as skipped."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    if mode not in ImportJob.Mode.values:
        raise ValidationFailed(errors=[FieldError(("mode",), _("Неизвестный режим"))])
    earlier = ImportJob.objects.filter(organization=actor.organization, pk=job_id).first()
    if earlier is None:
        raise NotFound(_("Загрузка не найдена"))
    if earlier.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING):
        raise ValidationFailed(_("Эта загрузка ещё не закончилась"), errors=[
            FieldError(("job",), _("Эта загрузка ещё не закончилась"))])
    job = ImportJob(organization=actor.organization, filename=earlier.filename,
                    file_hash=earlier.file_hash, size=earlier.size, mode=mode,
                    mapping=earlier.mapping, units=earlier.units,
                    total_rows=earlier.total_rows, retry_of=earlier,
                    created_by=actor.user if getattr(actor.user, "pk", None) else None,
                    confirmed_at=timezone.now())
    with earlier.file.open("rb") as source:
        job.file.save(Path(earlier.file.name or earlier.filename).name, File(source),
                      save=False)
    with transaction.atomic():
        job.save()
        audit(actor, "shipments.import", job, filename=job.filename, rows=job.total_rows,
              mode=mode, retry_of=earlier.pk)
        _dispatch(job)
    return job


@contextlib.contextmanager
def local_file(fieldfile: Any) -> Iterator[Path]:
    """A path to the stored upload: the file itself on local storage, a temporary copy on
    object storage (S3), removed afterwards."""
    try:
        yield Path(fieldfile.path)
        return
    except NotImplementedError:
        pass
    suffix = Path(fieldfile.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        with fieldfile.open("rb") as source:
            shutil.copyfileobj(source, tmp)
        tmp.flush()
        yield Path(tmp.name)


@dataclass
class Progress:
    """Where a job is: rows read from the file, checked, stored (or, all or nothing,
    ready to be stored), of ``total``; the rate of storing and the time it needs yet."""

    total: int
    read: int = 0
    checked: int = 0
    stored: int = 0
    per_second: float = 0.0
    seconds_left: int | None = None

    @property
    def percent(self) -> int:
        return min(100, int(self.stored * 100 / self.total)) if self.total else 0


_PROGRESS_PARTS = ("read", "checked", "stored", "started")


def _progress_set(job_id: int, **parts: float) -> None:
    # a key per part: the rows are read and checked in a child process, stored in this one
    cache.set_many({f"{PROGRESS_KEY.format(job_id)}:{k}": v for k, v in parts.items()}, 3600)


def import_job_progress(job: ImportJob) -> Progress:
    """Live while the job runs, from the cache (the rows of an all-or-nothing import are
    not visible in the database until it commits)."""
    if job.status == ImportJob.Status.RUNNING:
        keys = {f"{PROGRESS_KEY.format(job.pk)}:{k}": k for k in _PROGRESS_PARTS}
        found = {keys[k]: v for k, v in cache.get_many(list(keys)).items()}
        stored = int(found.get("stored", 0))
        checked = max(int(found.get("checked", 0)), stored)
        progress = Progress(total=job.total_rows, read=max(int(found.get("read", 0)), checked),
                            checked=checked, stored=stored)
        started = found.get("started")
        if started and stored:
            progress.per_second = stored / max(wall_clock() - float(started), 0.001)
            progress.seconds_left = int(max(job.total_rows - stored, 0) / progress.per_second)
        return progress
    done = job.processed_rows
    return Progress(total=job.total_rows, read=done, checked=done, stored=done)


def import_job_run(*, job_id: int, actor: Actor | None = None,
                   progress: Callable[[int, int], None] | None = None) -> ImportJob:
    """Runs an import job through the intake pipeline. Idempotent: a finished job is left
    alone; a job interrupted midway runs again and skips the rows it already stored."""
    from shipdesk.tenancy.services import system_actor

    job = ImportJob.objects.select_related("organization").get(pk=job_id)
    if job.status == ImportJob.Status.DONE:
        return job
    actor = actor or system_actor(job.organization)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING,
                                               updated_at=timezone.now())
    job.status = ImportJob.Status.RUNNING
    try:
        with local_file(job.file) as path:
            return _run_job(job, actor, path, progress)
    except ServiceError as exc:  # e.g. a concurrent import took the same order numbers
        return _finish_failed(job, str(exc.detail), exc.errors)
    except Exception:
        # Not the file's fault (the reader process died, the database went away): the user
        # sees the job stopped instead of a progress bar that never moves. The task's retry
        # runs it again for a transient error, resuming after the rows already stored.
        log.exception("import job %s stopped", job.pk)
        with contextlib.suppress(Exception):  # the database may be what failed
            ImportJob.objects.filter(pk=job.pk).update(
                status=ImportJob.Status.FAILED, finished_at=timezone.now(),
                message=_("Загрузка прервана из-за внутренней ошибки. Запустите её снова: "
                          "уже сохранённые строки не повторятся"))
        raise


def _run_job(job: ImportJob, actor: Actor, path: Path,
             progress: Callable[[int, int], None] | None) -> ImportJob:
    try:
        # an XLSX's sheet is loaded where its rows are read (the child process of a big file)
        sheet = open_sheet(path, job.filename, outline=True, accepted=True,
                           rows_known=job.total_rows)
        items = item_sheet(path, sheet.format)
    except ImportRejected as exc:
        return _finish_failed(job, str(exc.detail), exc.errors)
    fields = fields_of(sheet.headers, job.mapping)
    kilos = sorted(int(i) for i, unit in (job.units or {}).items() if unit == KG)
    columns_of: dict[str, int] = {f: i for i, f in enumerate(fields) if f}
    pending: dict[int, list[Any]] = {}  # the rows read and not yet checked, as given
    rejected: list[tuple[int, list[Any] | None]] = []  # None: not kept, read again
    row_errors: dict[int, list[tuple[int | None, str]]] = {}
    flat_errors: list[dict[str, Any]] = []
    every_error: list[tuple[str, int, str, str, str]] = []  # for the whole list's file
    seen = 0
    _progress_set(job.pk, started=wall_clock(), read=0, checked=0, stored=0)

    def flat(sheet_name: str, row: int, field: str, column: int | None, headers: list[str],
             message: str) -> None:
        every_error.append((sheet_name, row, column_letter(column) if column is not None
                            else "", headers[column] if column is not None else
                            (_BY_FIELD[field].title if field in _BY_FIELD else field), message))
        if len(flat_errors) < ERROR_LIST_LIMIT:
            flat_errors.append({
                "sheet": sheet_name, "row": row, "field": field,
                "column": column_letter(column) if column is not None else "",
                "header": headers[column] if column is not None else "", "message": message})

    # several items per shipment from the sheet of items: by order number, in sheet order
    by_order: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    item_columns: dict[str, int] = {}
    item_rejected: list[tuple[int, list[Any]]] = []
    item_row_errors: dict[int, list[tuple[int | None, str]]] = {}
    sources: dict[int, list[int | None]] = {}  # main row -> items' rows (None: its own)
    item_values: dict[int, list[Any]] = {}
    if items is not None:
        item_values = dict(items.rows)
        item_columns = {f: i for i, f in enumerate(items.fields) if f}
        # an item's weight in kilos when its header says so («Вес, кг»)
        item_kilos = [i for i, (h, f) in enumerate(zip(items.headers, items.fields, strict=True))
                      if f == "items.weight_g" and header_words(h)[1] == KG]
        read_item = row_reader([f.removeprefix("items.") if f else None for f in items.fields],
                               item_kilos)
        for number, values in items.rows:
            data = read_item(values)
            order = _order_text(data.pop("order_number", None))
            if order:
                by_order.setdefault(order, []).append((number, data))
            else:
                _item_error(items, item_columns, number, values, "order_number",
                            _("Укажите номер заказа"), item_rejected, item_row_errors, flat)
        main_orders = {_order_text(data.get("order_number"))
                       for data in (row_reader(fields)(v) for _n, v in sheet.rows())}
        for order, entries in by_order.items():
            if order not in main_orders:
                for number, _data in entries:
                    _item_error(items, item_columns, number, item_values.get(number, []),
                                "order_number", _("Заказа %(order)s нет на листе «%(sheet)s»")
                                % {"order": order, "sheet": sheet.name},
                                item_rejected, item_row_errors, flat)

    read = row_reader(fields, kilos)
    counted = {"read": 0, "checked": 0}

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for number, values in sheet.rows():
            counted["read"] += 1
            if counted["read"] % 1000 == 0:
                _progress_set(job.pk, read=counted["read"])
            pending[number] = values
            data = read(values)
            if by_order:
                extra = by_order.get(_order_text(data.get("order_number")))
                if extra:  # the row's own item (if any) first, then the sheet's
                    own = data.get("items", [])
                    data["items"] = [*own, *(item for _n, item in extra)]
                    sources[number] = [None] * len(own) + [n for n, _item in extra]
            yield number, data

    def chunk_extra(refs: list[int], bad: set[int]
                    ) -> dict[int, tuple[list[Any], list[int | None] | None]]:
        """The rows of a chunk that failed the checks, as given, and where their items came
        from, for the report (taken where the rows are read: they go with the chunk). A row
        refused later (its order already stored) is read again for the report."""
        counted["checked"] += len(refs)
        _progress_set(job.pk, read=counted["read"], checked=counted["checked"])
        for ref in refs:
            if ref not in bad:
                pending.pop(ref, None)
                sources.pop(ref, None)
        return {ref: (pending.pop(ref, []), sources.pop(ref, None)) for ref in bad}

    def on_chunk(processed: int, result: services.IntakeResult,
                 extra: dict[int, tuple[list[Any], list[int | None] | None]]) -> None:
        nonlocal seen
        for item in result.results[seen:]:
            if item.errors:
                values, from_sheet = extra.get(item.ref) or (None, None)
                rejected.append((item.ref, values))
                for error in item.errors:
                    name = ".".join(str(p) for p in error.loc[2:] if not isinstance(p, int))
                    message = str(error.message)
                    position = error.loc[3] if len(error.loc) > 3 else None
                    number = (from_sheet[position] if from_sheet and isinstance(position, int)
                              and error.loc[2] == "items" and position < len(from_sheet)
                              else None)
                    if items is not None and number is not None:
                        _item_error(items, item_columns, number, item_values.get(number, []),
                                    name, message, item_rejected, item_row_errors, flat)
                        row_errors.setdefault(item.ref, []).append((None, _(
                            "Лист «%(sheet)s», строка %(row)d: %(message)s") % {
                            "sheet": items.name, "row": number, "message": message}))
                        continue
                    column = columns_of.get(name)
                    if column is None and name.startswith("recipient_") and (
                            "recipient_name" in columns_of):
                        column = columns_of["recipient_name"]
                    if column is None and name in ("index", "city", "region", "street",
                                                   "house", "apartment"):
                        column = columns_of.get("address")
                    row_errors.setdefault(item.ref, []).append((column, message))
                    flat(sheet.name, item.ref, name, column, sheet.headers, message)
        seen = len(result.results)
        _progress_set(job.pk, stored=processed)
        if job.mode == ImportJob.Mode.VALID_ROWS:
            ImportJob.objects.filter(pk=job.pk).update(processed_rows=processed)
        if progress is not None:
            progress(processed, job.total_rows)

    unknown_items = len(item_rejected)
    if unknown_items and job.mode == ImportJob.Mode.ALL_OR_NOTHING:
        result = services.IntakeResult(rolled_back=True)  # nothing is taken: say why first
    else:
        result = services.shipments_intake(
            actor=actor, rows=rows(), mode=job.mode, source="upload",
            source_key=job.file_hash, loc_prefix=("row",), progress=on_chunk,
            chunk_extra=chunk_extra, chunk_size=services.INTAKE_CHUNK,
            read_in_child=(sheet.total_rows >= READ_IN_CHILD_ROWS
                           and services.read_in_child_possible()),
            expected_rows=sheet.total_rows, skip_uploaded=True)
    job.processed_rows = seen
    job.created_count = result.created
    job.skipped_count = result.skipped
    job.rejected_count = result.rejected
    job.unnumbered_count = result.unnumbered
    job.errors = flat_errors
    if every_error:
        job.error_list.save(f"errors-{job.pk}.csv", ContentFile(error_list_csv(every_error)),
                            save=False)
    unread = {ref for ref, values in rejected if values is None}
    # refused when stored (their order already there): their cells read again for the report
    again = {n: values for n, values in sheet.rows() if n in unread} if unread else {}
    report_rows = [(ref, again.get(ref, []) if values is None else values)
                   for ref, values in rejected]
    if report_rows or item_rejected:
        report = error_report(sheet.headers, report_rows, row_errors, items=(
            (items.name, items.headers, sorted(item_rejected), item_row_errors)
            if items is not None and item_rejected else None))
        job.error_report.save(f"errors-{job.pk}.xlsx", ContentFile(report), save=False)
    job.status = ImportJob.Status.DONE
    if result.rolled_back and unknown_items and not seen:
        job.message = str(gettext_lazy(
            "Ничего не загружено: в режиме «всё или ничего» на листе «%(sheet)s» есть "
            "строки с ошибками (%(n)d)") % {"sheet": items.name if items else "",
                                             "n": unknown_items})
    elif result.rolled_back:
        job.message = str(gettext_lazy(
            "Ничего не загружено: в режиме «всё или ничего» есть строки с ошибками "
            "(%(n)d)") % {"n": result.rejected})
    else:
        job.message = _("Загружено %(c)d, пропущено как уже загруженные %(s)d, "
                        "отклонено %(r)d") % {"c": result.created, "s": result.skipped,
                                             "r": result.rejected}
        if unknown_items:
            job.message += "; " + _("строк вложений без заказа: %(n)d") % {"n": unknown_items}
        if result.unnumbered:
            job.message += "; " + _("%(n)d отправлений без номера: %(why)s") % {
                "n": result.unnumbered, "why": result.unnumbered_reason}
    job.message = job.message[:1000]
    job.finished_at = timezone.now()
    job.save()
    cache.delete_many([f"{PROGRESS_KEY.format(job.pk)}:{k}" for k in _PROGRESS_PARTS])
    return job


def _order_text(value: Any) -> str:
    """An order number as intake reads it (a number cell 1001.0 is "1001")."""
    return validation.text(value)


def _item_error(items: ItemSheet, columns: dict[str, int], number: int, values: list[Any],
                field: str, message: str, rejected: list[tuple[int, list[Any]]],
                errors: dict[int, list[tuple[int | None, str]]],
                flat: Callable[[str, int, str, int | None, list[str], str], None]) -> None:
    """An error on a row of the sheet of items, pointing at its cell."""
    column = columns.get(field if field == "order_number" else f"items.{field.split('.')[-1]}")
    if number not in errors:
        rejected.append((number, values))
    errors.setdefault(number, []).append((column, message))
    flat(items.name, number, field, column, items.headers, message)


def _finish_failed(job: ImportJob, message: str, errors: Sequence[FieldError]) -> ImportJob:
    job.status = ImportJob.Status.FAILED
    job.message = message[:1000]
    job.errors = [{"row": e.loc[1] if len(e.loc) > 1 else None, "field": "",
                   "column": str(e.loc[2]) if len(e.loc) > 2 else "", "header": "",
                   "message": str(e.message)} for e in errors][:ERROR_LIST_LIMIT]
    job.finished_at = timezone.now()
    job.save()
    return job
