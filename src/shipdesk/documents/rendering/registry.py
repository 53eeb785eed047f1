"""Form F103 — the list of a batch's parcels handed over together — as PDF and XLSX."""

from __future__ import annotations

import io
from typing import Any, BinaryIO

from openpyxl.styles import Font
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from shipdesk.core.spreadsheets import SafeWorkbook
from shipdesk.documents.rendering.common import draw_block, kg, money, new_canvas
from shipdesk.documents.rendering.data import RegistryData, RegistryRow
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, LayoutRecorder, wrap

PAGE = landscape(A4)
MARGIN = 28.0
# (key, title, width pt, numeric)
COLUMNS: tuple[tuple[str, str, float, bool], ...] = (
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
)
_FONT_SIZE = 7.0
_LEADING = 8.0
_HEADER_ROW_H = 22.0
_TOTALS_H = 62.0
_SIGN_H = 40.0


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


def _wrapped(text: str, width: float) -> list[str]:
    """Registry rows grow to fit their longest cell: nothing is shrunk or cut."""
    return wrap(text, REGULAR, _FONT_SIZE, width - 4)


def _draw_page_header(canvas: Canvas, data: RegistryData, page_no: int, first: bool,
                      recorder: LayoutRecorder | None) -> float:
    width, height = PAGE
    if recorder is not None:
        recorder.page(width, height)
    canvas.setLineWidth(0.5)
    top = height - MARGIN
    if first:
        box = Box("header", MARGIN, top - 70, width - 2 * MARGIN, 70)
        draw_block(canvas, box, recorder, border=False)
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
        top -= 76
    canvas.setFont(REGULAR, 7)
    canvas.drawRightString(width - MARGIN, MARGIN - 14, f"Лист {page_no}")
    header = Box("table.header", MARGIN, top - _HEADER_ROW_H, width - 2 * MARGIN,
                 _HEADER_ROW_H)
    draw_block(canvas, header, recorder)
    canvas.setFont(BOLD, 6.5)
    x = MARGIN
    for _key, title, w, _num in COLUMNS:
        lines = wrap(title, BOLD, 6.5, w - 4)
        y = header.top - 8
        for line in lines[:2]:
            canvas.drawString(x + 2, y, line)
            y -= 7.5
        canvas.line(x, header.y, x, header.top)
        x += w
    return header.y


def draw_registry(canvas: Canvas, data: RegistryData,
                  recorder: LayoutRecorder | None = None) -> int:
    """Draws the F103 pages onto ``canvas``; returns the number of pages."""
    width, height = PAGE
    canvas.setPageSize(PAGE)
    page_no = 1
    y = _draw_page_header(canvas, data, page_no, True, recorder)
    table_w = width - 2 * MARGIN
    for row in data.rows:
        cells = _cells(row)
        wrapped = {
            "recipient": _wrapped(cells["recipient"], COLUMNS[2][2]),
            "address": _wrapped(cells["address"], COLUMNS[4][2]),
        }
        lines = max(2, *(len(v) for v in wrapped.values()))
        row_h = lines * _LEADING + 4
        if y - row_h < MARGIN:
            canvas.showPage()
            page_no += 1
            y = _draw_page_header(canvas, data, page_no, False, recorder)
        box = Box(f"row.{row.position}", MARGIN, y - row_h, table_w, row_h)
        draw_block(canvas, box, recorder)
        canvas.setFont(REGULAR, _FONT_SIZE)
        x = MARGIN
        for key, _title, w, numeric in COLUMNS:
            text_lines = wrapped.get(key, [cells[key]])
            ty = box.top - _FONT_SIZE - 1.5
            for line in text_lines:
                if numeric:
                    canvas.drawRightString(x + w - 2, ty, line)
                else:
                    canvas.drawString(x + 2, ty, line)
                ty -= _LEADING
            canvas.line(x, box.y, x, box.top)
            x += w
        y = box.y
    if y - _TOTALS_H - _SIGN_H < MARGIN:
        canvas.showPage()
        page_no += 1
        if recorder is not None:
            recorder.page(width, height)
        y = height - MARGIN
    totals = Box("totals", MARGIN, y - _TOTALS_H, table_w, _TOTALS_H - 4)
    draw_block(canvas, totals, recorder, border=False)
    canvas.setFont(BOLD, 8)
    summary = (
        f"Всего отправлений: {len(data.rows)}",
        f"Общий вес: {kg(data.total_weight_g)} кг",
        f"Объявленная ценность, всего: {money(data.total_declared_value)} руб.",
        f"Наложенный платёж, всего: {money(data.total_cod)} руб.",
        f"Плата за пересылку, всего: {money(data.total_fee)} руб.",
    )
    ty = totals.top - 9
    for line in summary:
        canvas.drawString(totals.x + 2, ty, line)
        ty -= 11
    sign = Box("signatures", MARGIN, totals.y - _SIGN_H, table_w, _SIGN_H - 4)
    draw_block(canvas, sign, recorder, border=False)
    canvas.setFont(REGULAR, 8)
    canvas.drawString(sign.x + 2, sign.top - 14,
                      "Сдал: ______________________ / ______________________ /   (подпись, ФИО)")
    canvas.drawString(sign.x + table_w / 2, sign.top - 14,
                      "Принял: ______________________ / ______________________ /")
    canvas.drawString(sign.x + table_w / 2, sign.top - 30, "Оттиск календарного штемпеля ОПС")
    canvas.showPage()
    return page_no


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
    sheet.append(bold_row([title for _k, title, _w, _n in COLUMNS]))
    for row in data.rows:
        sheet.append([row.position, row.tracking_number, row.recipient, row.index, row.address,
                      row.weight_g / 1000, row.declared_value, row.cod_amount, row.fee, row.marks])
    sheet.append(bold_row(["Итого", len(data.rows), "", "", "", data.total_weight_g / 1000,
                           data.total_declared_value, data.total_cod, data.total_fee, ""]))
    return workbook.to_bytes()
