"""Form F103 — the list of a batch's parcels handed over together — as PDF and XLSX."""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from openpyxl.styles import Font
from reportlab.pdfgen.canvas import Canvas

from shipdesk.core.spreadsheets import SafeWorkbook
from shipdesk.documents.rendering.common import kg, money, new_canvas
from shipdesk.documents.rendering.data import RegistryData, RegistryRow
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, LayoutRecorder
from shipdesk.documents.rendering.tables import MARGIN, PAGE, ParcelTable, draw_parcel_table

TABLE = ParcelTable(
    columns=(
        ("position", "№ п/п", 26, True),
        ("tracking", "ШПИ", 82, False),
        ("recipient", "Получатель", 124, False),
        ("index", "Индекс", 38, False),
        ("address", "Адрес", 238, False),
        ("weight", "Вес, кг", 40, True),
        ("declared", "Объявл. ценность, руб.", 66, True),
        ("cod", "Налож. платёж, руб.", 66, True),
        ("fee", "Плата за пересылку, руб.", 66, True),
        ("marks", "Отметки", 40, False),
    ),
    wrapped=("recipient", "address"),
    font_size=7.0, leading=8.0, min_lines=2, row_padding=4, totals_h=62, signatures_h=40)


def _cells(row: RegistryRow) -> dict[str, str]:
    return {
        "position": str(row.position),
        "tracking": row.tracking_number,
        "recipient": row.recipient,
        "index": row.index,
        "address": row.address,
        "weight": kg(row.weight_g),
        "declared": money(row.declared_value),
        "cod": money(row.cod_amount),
        "fee": money(row.fee),
        "marks": row.marks,
    }


def draw_registry(canvas: Canvas, data: RegistryData,
                  recorder: LayoutRecorder | None = None) -> int:
    """Draws the F103 pages onto ``canvas``; returns the number of pages."""

    def title(canvas: Canvas, top: float) -> None:
        width = PAGE[0]
        canvas.setFont(BOLD, 13)
        canvas.drawCentredString(width / 2, top - 14, f"СПИСОК № {data.number}  ф. 103")
        canvas.setFont(REGULAR, 9)
        canvas.drawCentredString(width / 2, top - 26,
                                 f"внутренних почтовых отправлений от {data.date:%d.%m.%Y}")
        canvas.setFont(REGULAR, 8)
        sender = data.sender
        inn = f", ИНН {sender.inn}" if sender.inn else ""
        canvas.drawString(MARGIN, top - 42, f"Отправитель: {sender.name}{inn}")
        canvas.drawString(MARGIN, top - 52,
                          f"Адрес отправителя: {sender.index} {sender.address}".strip())
        canvas.drawString(MARGIN, top - 62,
                          f"Перевозчик: {data.carrier_name}.  Вид: {data.mail_type}.  "
                          f"Категория: {data.mail_category}.  Место сдачи: {data.drop_off_point}")

    def signatures(canvas: Canvas, sign: Box) -> None:
        canvas.drawString(sign.x + 2, sign.top - 14,
                          "Сдал: ______________________ / ______________________ /   (подпись, ФИО)")
        canvas.drawString(sign.x + sign.w / 2, sign.top - 14,
                          "Принял: ______________________ / ______________________ /")
        canvas.drawString(sign.x + sign.w / 2, sign.top - 30, "Оттиск календарного штемпеля ОПС")

    return draw_parcel_table(
        canvas, TABLE, rows=((row.position, _cells(row)) for row in data.rows), title=title,
        totals=(f"Всего отправлений: {len(data.rows)}",
                f"Общий вес: {kg(data.total_weight_g)} кг",
                f"Объявленная ценность, всего: {money(data.total_declared_value)} руб.",
                f"Наложенный платёж, всего: {money(data.total_cod)} руб.",
                f"Плата за пересылку, всего: {money(data.total_fee)} руб."),
        signatures=signatures, recorder=recorder)


def render_registry_pdf(data: RegistryData, out: BinaryIO | None = None,
                        recorder: LayoutRecorder | None = None) -> bytes:
    target = out or io.BytesIO()
    canvas = new_canvas(target, PAGE, f"Список ф.103 № {data.number}")
    draw_registry(canvas, data, recorder)
    canvas.save()
    return target.getvalue() if isinstance(target, io.BytesIO) else b""


def render_registry_xlsx(data: RegistryData) -> bytes:
    """The same list as a spreadsheet: numbers as numbers (kg, rubles), one row per parcel."""
    workbook = SafeWorkbook()
    sheet = workbook.create_sheet("Ф103")
    bold = Font(bold=True)

    def bold_row(values: list[object]) -> list[Any]:
        return [sheet.styled(value, font=bold) for value in values]

    sheet.append(bold_row([f"Список № {data.number} ф. 103 от {data.date:%d.%m.%Y}"]))
    sheet.append([f"Отправитель: {data.sender.name}", f"ИНН {data.sender.inn}".strip()])
    sheet.append([f"Перевозчик: {data.carrier_name}", f"Вид: {data.mail_type}",
                  f"Категория: {data.mail_category}", f"Место сдачи: {data.drop_off_point}"])
    sheet.append(bold_row([title for _k, title, _w, _n in TABLE.columns]))
    for row in data.rows:
        sheet.append([row.position, row.tracking_number, row.recipient, row.index, row.address,
                      row.weight_g / 1000, row.declared_value, row.cod_amount, row.fee, row.marks])
    sheet.append(bold_row(["Итого", len(data.rows), "", "", "", data.total_weight_g / 1000,
                           data.total_declared_value, data.total_cod, data.total_fee, ""]))
    return workbook.to_bytes()
