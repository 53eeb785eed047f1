"""Telling a payout report's carrier and kind from its content.

The catalogue is data: each carrier package may hold a ``payout_format.json`` (header
signature, column roles with their header aliases, number convention, the registry number's
pattern, the words of totals rows), documented in its ``payout_format.md``. Recognition looks
for the header row among the first rows (titles and blank rows above it are common), scores
every format by the share of its signature found there (the confidence), and maps columns by
role, wherever they stand. A mapping a person gave for an unknown header is remembered by
the header's signature and recognised with full confidence next time."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from django.utils.translation import gettext as _

from shipdesk.finance import readers
from shipdesk.finance.readers import Table

ROLES = ("tracking_number", "order_number", "cod_amount", "fee", "paid_amount",
         "returned_amount", "paid_on")
HEADER_SCAN_ROWS = 30
MIN_CONFIDENCE = Decimal("0.75")


@dataclass(frozen=True)
class Format:
    code: str
    carrier: str
    name: str
    signature: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]
    decimal_comma: bool = True
    registry_pattern: str = ""
    totals_words: tuple[str, ...] = ("итого", "всего")


@cache
def catalogue() -> tuple[Format, ...]:
    import shipdesk.carriers

    found = []
    for path in sorted(Path(shipdesk.carriers.__file__).parent.glob("*/payout_format.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append(Format(
            code=data["code"], carrier=data["carrier"], name=data["name"],
            signature=tuple(readers.normalise_header(h) for h in data["signature"]),
            columns={r: tuple(readers.normalise_header(a) for a in aliases)
                     for r, aliases in data["columns"].items()},
            decimal_comma=bool(data.get("decimal_comma", True)),
            registry_pattern=data.get("registry_pattern", ""),
            totals_words=tuple(data.get("totals_words", ("итого", "всего")))))
    return tuple(found)


def header_signature(headers: list[str]) -> str:
    return hashlib.sha256("|".join(h for h in headers if h).encode()).hexdigest()


@dataclass
class Recognition:
    format: Format | None
    confidence: Decimal
    header_row: int  # 0-based index in the table
    headers: list[str]
    columns: dict[str, int]  # role -> column index
    registry_number: str = ""


def _filled_headers(row: list[Any]) -> list[str]:
    # Merged header cells leave their right-hand neighbours empty: they carry the same title.
    return [readers.normalise_header(c) for c in row]


def _score(fmt: Format, headers: list[str]) -> Decimal:
    present = set(headers)
    hits = sum(1 for h in fmt.signature if h in present)
    return (Decimal(hits) / Decimal(len(fmt.signature))).quantize(Decimal("0.001"))


def _map_columns(fmt: Format, headers: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for role, aliases in fmt.columns.items():
        for alias in aliases:
            if alias in headers:
                out[role] = headers.index(alias)
                break
    return out


def recognise(table: Table, *, learned: dict[str, Format] | None = None) -> Recognition:
    """The best format for the table, or ``format=None`` with the likeliest header row."""
    best = Recognition(None, Decimal(0), 0, [], {})
    fallback_row, fallback_width = 0, 0
    for index, row in enumerate(table[:HEADER_SCAN_ROWS]):
        headers = _filled_headers(row)
        width = sum(1 for h in headers if h and not _numberish(h))
        if width > fallback_width:
            fallback_row, fallback_width = index, width
        if learned and (fmt := learned.get(header_signature(headers))):
            best = Recognition(fmt, Decimal(1), index, headers, _map_columns(fmt, headers))
            break
        for fmt in catalogue():
            score = _score(fmt, headers)
            if score > best.confidence:
                best = Recognition(fmt, score, index, headers, _map_columns(fmt, headers))
    if best.format is None or best.confidence < MIN_CONFIDENCE or not _usable(best.columns):
        headers = _filled_headers(table[fallback_row]) if table else []
        return Recognition(None, best.confidence, fallback_row, headers, {})
    best.registry_number = _registry_number(best.format, table[:best.header_row])
    return best


def _numberish(value: str) -> bool:
    return bool(re.fullmatch(r"[\d\s.,-]+", value))


def _usable(columns: dict[str, int]) -> bool:
    ids = "tracking_number" in columns or "order_number" in columns
    return ids and ("paid_amount" in columns or "cod_amount" in columns)


def _registry_number(fmt: Format, above: Table) -> str:
    if not fmt.registry_pattern:
        return ""
    for row in above:
        line = " ".join(readers.text(c) for c in row if c is not None)
        if found := re.search(fmt.registry_pattern, line, flags=re.IGNORECASE):
            return found.group(1)[:64]
    return ""


def learned_format(*, code: str, carrier: str, name: str, headers: list[str],
                   columns: dict[str, str], decimal_comma: bool = True) -> Format:
    return Format(code=code, carrier=carrier, name=name, signature=tuple(h for h in headers if h),
                  columns={r: (readers.normalise_header(h),) for r, h in columns.items()},
                  decimal_comma=decimal_comma)


@dataclass(slots=True)
class Line:
    row_number: int  # 1-based, as the spreadsheet shows it
    tracking_number: str
    order_number: str
    cod_amount: Decimal
    fee: Decimal
    paid_amount: Decimal
    returned_amount: Decimal
    paid_on: dt.date | None


@dataclass
class Extraction:
    lines: list[Line] = field(default_factory=list)
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # row, field, message
    skipped_totals: int = 0


def extract(table: Table, rec: Recognition) -> Extraction:
    """The report's payment lines; totals and blank rows skipped; each bad cell named.

    100,000 rows are read in about a second: amounts and dates repeat, so each distinct cell
    value is converted once (``_Cells``)."""
    assert rec.format is not None
    fmt = rec.format
    out = Extraction()
    at = {role: rec.columns.get(role) for role in ROLES}
    i_track, i_order = at["tracking_number"], at["order_number"]
    money_roles = [(role, at[role]) for role in ("cod_amount", "fee", "paid_amount",
                                                  "returned_amount")]
    i_day = at["paid_on"]
    cells = _Cells(fmt.decimal_comma)
    text, zero = readers.text, Decimal(0)
    words = [w.lower() for w in fmt.totals_words if w]
    totals = re.compile("|".join(map(re.escape, words))).search if words else None
    money, day, append = cells.money, cells.day, out.lines.append

    for index in range(rec.header_row + 1, len(table)):
        row = table[index]
        width = len(row)
        tracking = text(row[i_track]) if i_track is not None and i_track < width else ""
        order = text(row[i_order]) if i_order is not None and i_order < width else ""
        if not tracking and not order:
            if any(c is not None and text(c) for c in row):
                out.skipped_totals += 1  # a subtotal row: amounts without an order
            continue
        if totals is not None and totals(f"{tracking} {order}".lower()):
            out.skipped_totals += 1
            continue
        number = index + 1
        amounts: list[Any] = []
        bad = False
        for role, i in money_roles:
            cell = row[i] if i is not None and i < width else None
            value = money(cell)
            if value is _BAD:
                out.errors.append((number, role, _("Непонятная сумма: «%(v)s»") % {
                    "v": text(cell)[:40]}))
                bad = True
            amounts.append(value)
        cell = row[i_day] if i_day is not None and i_day < width else None
        paid_on = day(cell)
        if paid_on is _BAD:
            out.errors.append((number, "paid_on", _("Непонятная дата: «%(v)s»") % {
                "v": text(cell)[:40]}))
            bad = True
        if bad:
            continue
        cod, fee, paid, returned = amounts
        fee = fee or zero
        if cod is None and paid is None:
            out.errors.append((number, "cod_amount", _("Нет суммы")))
            continue
        if paid is None:
            paid = cod - fee
        if cod is None:
            cod = paid + fee
        append(Line(number, tracking[:64], order[:64], cod, fee, paid, returned or zero,
                    paid_on))
    return out


_BAD: Any = object()  # a cell that is no amount (or no date)


class _Cells:
    """Amount and date cells converted once per distinct value (booleans, which are never
    amounts or dates, first: ``True == 1`` in a dict)."""

    def __init__(self, decimal_comma: bool) -> None:
        self.decimal_comma = decimal_comma
        self.amounts: dict[Any, Any] = {None: None, "": None}
        self.days: dict[Any, Any] = {None: None, "": None}

    def money(self, cell: Any) -> Any:
        if cell is True or cell is False:
            return _BAD
        try:
            return self.amounts[cell]
        except (KeyError, TypeError):
            pass
        try:
            value = readers.money(cell, decimal_comma=self.decimal_comma)
        except ValueError:
            value = _BAD
        with contextlib.suppress(TypeError):  # an unhashable cell is converted each time
            self.amounts[cell] = value
        return value

    def day(self, cell: Any) -> Any:
        if cell is True or cell is False:
            return _BAD
        try:
            return self.days[cell]
        except (KeyError, TypeError):
            pass
        try:
            value = readers.day(cell)
        except ValueError:
            value = _BAD
        with contextlib.suppress(TypeError):
            self.days[cell] = value
        return value
