"""Reading and recognising payout reports: containers, cell conventions, the catalogue."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import Workbook

from shipdesk.finance import formats, readers
from shipdesk.finance.tests.conftest import sample


@pytest.mark.parametrize(("cell", "expected"), [
    ("1 234,50", "1234.50"), ("1\u00a0234,50", "1234.50"), (1234.5, "1234.50"), (2000, "2000.00"),
    ("-1 234,50", "-1234.50"), ("(12,00)", "-12.00"), ("1,234.50", "1234.50"),
    ("1.234,50", "1234.50"), ("499.99", "499.99"), ("1 000 000", "1000000.00"),
    ("37.04", "37.04"), ("1234,5 руб.", "1234.50")])
def test_money_cells(cell: object, expected: str) -> None:
    assert readers.money(cell) == Decimal(expected)


@pytest.mark.parametrize("cell", ["abc", "1,2,3x", "NaN"])
def test_money_refuses_words(cell: str) -> None:
    with pytest.raises(ValueError):
        readers.money(cell)


@pytest.mark.parametrize(("cell", "expected"), [
    ("05.12.2026", dt.date(2026, 12, 5)), ("2026-12-05", dt.date(2026, 12, 5)),
    (46361, dt.date(2026, 12, 5)), (46361.0, dt.date(2026, 12, 5)), ("46361", dt.date(2026, 12, 5)),
    (dt.datetime(2026, 12, 5, 10, 0), dt.date(2026, 12, 5)), ("05.12.26", dt.date(2026, 12, 5))])
def test_day_cells(cell: object, expected: dt.date) -> None:
    assert readers.day(cell) == expected


@pytest.mark.parametrize(("name", "code", "header_row", "registry"), [
    ("cdek_registry.xls", "cdek_cod_registry", 4, "4711"),
    ("russian_post_transfers.csv", "russian_post_cod_transfers", 3, "77-0512"),
    ("pickpoint_report.ods", "pickpoint_agent_report", 2, "PP-2026-48"),
    ("sandbox_payouts.csv", "sandbox_payouts", 1, ""),
])
def test_each_shipped_sample_is_recognised_from_its_content(
        name: str, code: str, header_row: int, registry: str) -> None:
    table = readers.read_table("report.bin", sample(name))  # the file name says nothing
    rec = formats.recognise(table)
    assert rec.format is not None and rec.format.code == code
    assert rec.confidence == Decimal(1)
    assert rec.header_row == header_row
    assert rec.registry_number == registry


def test_totals_rows_are_skipped_and_amounts_read() -> None:
    table = readers.read_table("x", sample("russian_post_transfers.csv"))
    rec = formats.recognise(table)
    out = formats.extract(table, rec)
    assert [ln.tracking_number for ln in out.lines] == [
        "80099500000011", "80099500000028", "80099500000035"]
    assert out.lines[0].cod_amount == Decimal("1234.50")
    assert out.lines[0].paid_amount == Decimal("1215.98")
    assert out.lines[0].paid_on == dt.date(2026, 12, 4)
    assert out.skipped_totals == 1 and not out.errors


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_shifted_columns_are_found_by_their_headers() -> None:
    content = _xlsx([
        ["Сумма к перечислению", "Агентское вознаграждение", "Примечание",
         "Сумма наложенного платежа", "Номер отправления ИМ", "Номер заказа СДЭК"],
        [970, 30, "", 1000, "SHOP-1", "1500001111"]])
    table = readers.read_table("x.xlsx", content)
    rec = formats.recognise(table)
    line = formats.extract(table, rec).lines[0]
    assert (line.tracking_number, line.order_number, line.cod_amount, line.paid_amount) == (
        "1500001111", "SHOP-1", Decimal("1000.00"), Decimal("970.00"))


def test_a_partial_header_is_not_guessed() -> None:
    table = readers.read_table("x.csv", "Номер заказа СДЭК;Что-то ещё;Сумма\n1;2;3\n".encode())
    rec = formats.recognise(table)
    assert rec.format is None
    assert rec.headers[0] == "номер заказа сдэк"


def test_bad_cells_are_named_by_row_and_field() -> None:
    content = ("tracking_number;order_reference;cod_amount;fee;paid_amount;paid_on\n"
               "A1;O1;10,00;0;10;2026-12-01\nA2;O2;десять;0;10;2026-12-01\n"
               "A3;O3;10;0;10;31.02.2026\n").encode()
    table = readers.read_table("x.csv", content)
    out = formats.extract(table, formats.recognise(table))
    assert [(r, f) for r, f, _m in out.errors] == [(3, "cod_amount"), (4, "paid_on")]


def test_cp1251_and_empty_files() -> None:
    table = readers.read_table("x.csv", "ШПИ;Сумма НП\n1;2\n".encode("cp1251"))
    assert table[0] == ["ШПИ", "Сумма НП"]
    with pytest.raises(readers.ReadError):
        readers.read_table("x.csv", b"  ")
    with pytest.raises(readers.ReadError):
        readers.read_table("x.xlsx", b"PK\x03\x04broken")
