"""Every statistics table as CSV or XLSX: text a spreadsheet would take for a formula is
written as text (an apostrophe before it), numbers stay numbers."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from shipdesk.core.spreadsheets import SafeCsvWriter, SafeWorkbook


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal | int | float | date):
        return value
    return str(value)  # escaped by the writers (core.spreadsheets)


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = SafeCsvWriter(out, delimiter=";")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode()  # the BOM: Excel reads UTF-8 then


def to_xlsx(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    book = SafeWorkbook()
    sheet = book.create_sheet(title)
    sheet.append([str(h) for h in headers])
    for row in rows:
        sheet.append([_cell(v) for v in row])
    return book.to_bytes()
