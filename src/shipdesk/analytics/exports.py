"""Every statistics table as CSV or XLSX: text a spreadsheet would take for a formula is
written as text (an apostrophe before it), numbers stay numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook

from shipdesk.shipments.importing import safe_cell


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal | int | float | date):
        return value
    return safe_cell(str(value))


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow([safe_cell(h) for h in headers])
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode()  # the BOM: Excel reads UTF-8 then


def to_xlsx(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append([str(h) for h in headers])
    for row in rows:
        values = [_cell(v) for v in row]
        sheet.append(values)
        for cell, value in zip(sheet[sheet.max_row], values, strict=True):
            if isinstance(value, str):
                cell.data_type = "s"  # never a formula, whatever it starts with
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
