from __future__ import annotations

import dataclasses
import io
import re
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook

from shipdesk.documents.rendering.common import money
from shipdesk.documents.rendering.data import PartyData, RegistryData, RegistryRow
from shipdesk.documents.rendering.layout import LayoutRecorder
from shipdesk.documents.rendering.registry import render_registry_pdf, render_registry_xlsx
from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import assert_layout_sane, page_texts, rasterise, save_png

SENDER = PartyData(name="ООО «Ромашка»", address="г. Москва, ул. Тверская, д. 1",
                   index="101000", inn="7707083893")


def registry(n: int) -> RegistryData:
    rows = tuple(RegistryRow(
        position=i, tracking_number=f.rp14(1000 + i), recipient=f"Получатель Номер {i}",
        index=f"{141400 + i:06d}",
        address=("Московская обл., г. Химки, ул. Молодёжная, д. 12, кв. " + str(i))
        + (", вход со двора, код домофона 1234, спросить охрану" * (i % 5 == 0)),
        weight_g=1000 + i, declared_value=Decimal("100.10") * i, cod_amount=Decimal("50.05") * (i % 3),
        fee=Decimal("300.33")) for i in range(1, n + 1))
    return RegistryData(number="7/2026", date=date(2026, 11, 23), sender=SENDER,
                        carrier_name="Почта России", mail_type="Посылка онлайн",
                        mail_category="Обыкновенное", drop_off_point="101000", rows=rows)


def test_f103_text_matches_the_batch_counts_totals_and_numbers() -> None:
    data = registry(75)
    recorder = LayoutRecorder()
    pdf = render_registry_pdf(data, recorder=recorder)
    texts = page_texts(pdf)
    assert len(texts) >= 2  # 75 rows do not fit one landscape page
    whole = "\n".join(texts)
    flat = " ".join(whole.split())
    assert "СПИСОК № 7/2026 ф. 103" in flat
    assert "от 23.11.2026" in flat
    for row in data.rows:
        assert whole.count(row.tracking_number) == 1, row.tracking_number
    # the totals, as a person reads them
    assert f"Всего отправлений: {len(data.rows)}" in flat
    expected_weight = sum(r.weight_g for r in data.rows) / 1000
    assert f"Общий вес: {expected_weight:.3f}".replace(".", ",") in flat
    assert f"Объявленная ценность, всего: {money(sum(r.declared_value for r in data.rows))}" in flat
    assert f"Наложенный платёж, всего: {money(sum(r.cod_amount for r in data.rows))}" in flat
    assert f"Плата за пересылку, всего: {money(Decimal('300.33') * 75)}" in flat
    assert "Сдал:" in flat and "Принял:" in flat
    # numbered rows 1..75 in order, each exactly once at the start of a row
    positions = [int(m) for m in re.findall(r"^(\d+) " + "10100062", whole, flags=re.M)]
    assert positions == list(range(1, 76))
    assert_layout_sane(recorder)
    save_png(rasterise(pdf, dpi=100, pages=[0])[0], f.output_dir() / "f103-page1.png")


def test_f103_xlsx_has_a_row_per_parcel_and_totals() -> None:
    data = registry(12)
    wb = load_workbook(io.BytesIO(render_registry_xlsx(data)), read_only=True)
    rows = list(wb.active.iter_rows(values_only=True))
    header_at = next(i for i, r in enumerate(rows) if r[0] == "№ п/п")
    body = rows[header_at + 1:header_at + 1 + 12]
    assert [r[1] for r in body] == [r.tracking_number for r in data.rows]
    totals = rows[header_at + 13]
    assert totals[0] == "Итого" and totals[1] == 12
    assert Decimal(str(totals[6])) == data.total_declared_value
    assert Decimal(str(totals[7])) == data.total_cod


def test_f103_xlsx_keeps_formula_text_as_text() -> None:
    """A surname typed (or uploaded) as «=1+1» or «@SUM(A1)» comes out as the text a person
    typed, never as a live formula in the accountant's Excel."""
    data = registry(2)
    hostile = RegistryRow(position=3, tracking_number=f.rp14(2000), recipient="=1+1",
                          index="141400", address="@SUM(A1:A9)", weight_g=100,
                          declared_value=Decimal("1"), cod_amount=Decimal("0"), fee=Decimal("1"),
                          marks="-2+3")
    data = dataclasses.replace(data, rows=(*data.rows, hostile))
    sheet = load_workbook(io.BytesIO(render_registry_xlsx(data))).active
    cells = {cell.value: cell.data_type for row in sheet.iter_rows() for cell in row}
    assert cells["'=1+1"] == "s" and cells["'@SUM(A1:A9)"] == "s" and cells["'-2+3"] == "s"
    assert not any(kind == "f" for kind in cells.values())
