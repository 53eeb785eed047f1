"""Every spreadsheet Shipdesk writes (XLSX and CSV exports, registries, reports) is made
here, so that text from users can never come out as a live formula: a cell that begins with
``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some programs strip first)
gets a leading apostrophe — shown as text, as OWASP's "CSV injection" advice says. Numbers
stay numbers. ``core/tests/test_spreadsheets.py`` fails on a writer made anywhere else."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# a phone number in E.164 (+79161234567) is only a number to a spreadsheet: left readable
_PHONE = re.compile(r"\+\d{6,15}")


def safe_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) \
            and not _PHONE.fullmatch(value):
        return "'" + value
    return value


def unescape(value: str) -> str:
    """The text as it was given, from a cell ``safe_cell`` escaped (reading our own files)."""
    return value[1:] if value.startswith("'") and value[1:2] in FORMULA_PREFIXES else value


class SafeSheet:
    """A write-only openpyxl sheet whose ``append`` escapes every text cell, styled or not."""

    def __init__(self, sheet: Any) -> None:
        self.sheet = sheet

    def styled(self, value: Any, **style: Any) -> Any:
        from openpyxl.cell import WriteOnlyCell

        cell = WriteOnlyCell(self.sheet, value=safe_cell(value))
        for name, setting in style.items():
            setattr(cell, name, setting)
        return cell

    def append(self, values: Iterable[Any]) -> None:
        from openpyxl.cell.cell import Cell  # WriteOnlyCell is a factory returning a Cell

        row = []
        for value in values:
            if isinstance(value, Cell):
                value.value = safe_cell(value.value)
                row.append(value)
            else:
                row.append(safe_cell(value))
        self.sheet.append(row)

    def __getattr__(self, name: str) -> Any:  # column widths, freeze panes, validations...
        return getattr(self.sheet, name)


class SafeWorkbook:
    """``openpyxl.Workbook`` (write-only by default) handing out :class:`SafeSheet` sheets."""

    def __init__(self, *, write_only: bool = True) -> None:
        from openpyxl import Workbook

        self.workbook = Workbook(write_only=write_only)
        if not write_only:  # a normal workbook starts with an empty sheet we don't want
            self.workbook.remove(self.workbook.active)

    def create_sheet(self, title: str) -> SafeSheet:
        return SafeSheet(self.workbook.create_sheet(title[:31]))

    def save(self, out: Any) -> None:
        self.workbook.save(out)

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        self.workbook.save(out)
        return out.getvalue()


class SafeCsvWriter:
    """``csv.writer`` whose rows are escaped like the spreadsheet cells."""

    def __init__(self, out: Any, **options: Any) -> None:
        self.writer = csv.writer(out, **options)

    def writerow(self, values: Iterable[Any]) -> Any:
        return self.writer.writerow([safe_cell(value) for value in values])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)
