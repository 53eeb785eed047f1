"""A payout report's file as a table of cells, whatever its container: XLSX, XLS and ODS
through python-calamine, CSV in UTF-8 or cp1251 with its delimiter sniffed. Plus the cell
conventions reports use: «1 234,50», Excel numbers, dd.mm.yyyy and Excel serial dates."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

Table = list[list[Any]]

_ZIP, _OLE = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"


class ReadError(ValueError):
    pass


def read_table(filename: str, content: bytes) -> Table:
    """The first sheet's rows (cells as read: str, float, int, date, datetime, None)."""
    if not content.strip():
        raise ReadError(_("Файл пуст"))
    if content.startswith(_ZIP) or content.startswith(_OLE):
        return _spreadsheet(content)
    return _csv(content)


def _spreadsheet(content: bytes) -> Table:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheet = book.get_sheet_by_index(0)
        rows = sheet.to_python(skip_empty_area=False)
    except Exception as exc:  # calamine raises its own errors for each broken container
        raise ReadError(_("Файл не читается как таблица XLSX/XLS/ODS: %(e)s") % {"e": exc}
                        ) from exc
    # an empty cell reads as "": None, as in CSV (a row without one is kept as it is)
    return [[None if c == "" else c for c in row] if "" in row else row for row in rows]


def _csv(content: bytes) -> Table:
    for encoding in ("utf-8-sig", "cp1251"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1251 decodes any byte but 0x98
        raise ReadError(_("Неизвестная кодировка файла (ожидается UTF-8 или Windows-1251)"))
    if "\x00" in text:
        raise ReadError(_("Файл не похож ни на таблицу, ни на CSV"))
    sample = "\n".join(text.splitlines()[:50])
    counts = {d: sample.count(d) for d in (";", "\t", ",")}
    delimiter = max(counts, key=lambda d: counts[d])
    return [[c if c.strip() else None for c in row]
            for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def text(cell: Any) -> str:
    if type(cell) is str:
        return cell.strip()
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def normalise_header(cell: Any) -> str:
    return re.sub(r"[^0-9a-zа-я%№]+", " ", text(cell).lower().replace("ё", "е")).strip()


_SPACES = re.compile(r"[\s\u00a0\u202f']")


def money(cell: Any, *, decimal_comma: bool = True) -> Decimal | None:
    """A cell as roubles: Excel numbers as they are; «1 234,50», «-1234.5», «(12,00)»."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, bool):
        raise ValueError(cell)
    if isinstance(cell, int | float):
        return Decimal(repr(float(cell))).quantize(Decimal("0.01"))
    raw = _SPACES.sub("", str(cell)).replace("руб.", "").replace("₽", "").replace("р.", "")
    if not raw:
        return None
    negative = raw.startswith("(") and raw.endswith(")")
    raw = raw.strip("()")
    if "," in raw and "." in raw:  # the later one is the decimal mark
        mark, other = (",", ".") if raw.rfind(",") > raw.rfind(".") else (".", ",")
        raw = raw.replace(other, "").replace(mark, ".")
    elif raw.count(",") == 1 and (decimal_comma or len(raw.split(",")[1]) != 3):
        raw = raw.replace(",", ".")
    else:
        raw = raw.replace(",", "")
        if raw.count(".") > 1:
            raw = raw.replace(".", "")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if not value.is_finite():
        raise ValueError(raw)
    return (-value if negative else value).quantize(Decimal("0.01"))


_EXCEL_EPOCH = dt.date(1899, 12, 30)


def day(cell: Any) -> dt.date | None:
    """dd.mm.yyyy (or dd.mm.yy), ISO yyyy-mm-dd, a date cell, or an Excel serial number."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, dt.datetime):
        return cell.date()
    if isinstance(cell, dt.date):
        return cell
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        if 20_000 < cell < 80_000:
            return _EXCEL_EPOCH + dt.timedelta(days=int(cell))
        raise ValueError(cell)
    raw = str(cell).strip().split(" ")[0].split("T")[0]
    if re.fullmatch(r"\d{5}(\.0+)?", raw):
        return day(float(raw))
    for fmt in ("%d.%m.%Y", "%Y-%m-%d", "%d.%m.%y", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a calendar day
        except ValueError:
            continue
    raise ValueError(raw)
