"""A courier service's hand-over act (акт приёма-передачи отправлений): the list of a batch's
parcels with their numbers, package counts, weights, declared values and COD amounts, the
totals, and the signatures of the sender and the carrier's representative. What CDEK,
PickPoint and other courier services sign instead of Russian Post's F103."""

from __future__ import annotations

import io
from typing import BinaryIO

from reportlab.pdfgen.canvas import Canvas

from shipdesk.documents.rendering.common import draw_block, kg, money, new_canvas
from shipdesk.documents.rendering.data import ActData, ActRow
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, LayoutRecorder, wrap
from shipdesk.documents.rendering.registry import MARGIN, PAGE

# (key, title, width pt, numeric)
COLUMNS: tuple[tuple[str, str, float, bool], ...] = (
    ("position", "№ п/п", 24, True),
    ("tracking", "Номер отправления", 92, False),
    ("order", "Номер заказа", 72, False),
    ("recipient", "Получатель", 178, False),
    ("destination", "Пункт выдачи / город", 183, False),
    ("packages", "Мест", 30, True),
    ("weight", "Вес, кг", 45, True),
    ("declared", "Объявл. ценность, руб.", 70, True),
    ("cod", "Налож. платёж, руб.", 70, True),
)
_WRAPPED = ("tracking", "order", "recipient", "destination")
_FONT_SIZE = 7.5
_LEADING = 8.5
_HEADER_ROW_H = 22.0
_TOTALS_H = 64.0
_SIGN_H = 58.0


def _cells(row: ActRow) -> dict[str, str]:
    return {
        "position": str(row.position), "tracking": row.tracking_number,
        "order": row.order_number, "recipient": row.recipient,
        "destination": row.destination, "packages": str(row.packages),
        "weight": kg(row.weight_g), "declared": money(row.declared_value),
        "cod": money(row.cod_amount),
    }


def _page_header(canvas: Canvas, data: ActData, page_no: int, first: bool,
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
        canvas.drawCentredString(width / 2, top - 14,
                                 f"АКТ ПРИЁМА-ПЕРЕДАЧИ ОТПРАВЛЕНИЙ № {data.number}")
        canvas.setFont(REGULAR, 9)
        canvas.drawCentredString(width / 2, top - 26, f"от {data.date:%d.%m.%Y}")
        canvas.setFont(REGULAR, 8)
        sender = data.sender
        inn = f", ИНН {sender.inn}" if sender.inn else ""
        canvas.drawString(MARGIN, top - 42, f"Отправитель: {sender.name}{inn}, "
                          f"{sender.index} {sender.address}".strip())
        registry = f".  Реестр перевозчика: {data.carrier_batch_id}" if data.carrier_batch_id else ""
        canvas.drawString(MARGIN, top - 52, f"Перевозчик: {data.carrier_name}{registry}")
        canvas.drawString(MARGIN, top - 62, "Место передачи: "
                          f"{data.drop_off_point or '—'}.  Отправитель передал, а перевозчик "
                          "принял следующие отправления:")
        top -= 76
    canvas.setFont(REGULAR, 7)
    canvas.drawRightString(width - MARGIN, MARGIN - 14, f"Лист {page_no}")
    header = Box("table.header", MARGIN, top - _HEADER_ROW_H, width - 2 * MARGIN,
                 _HEADER_ROW_H)
    draw_block(canvas, header, recorder)
    canvas.setFont(BOLD, 6.5)
    x = MARGIN
    for _key, title, w, _num in COLUMNS:
        y = header.top - 8
        for line in wrap(title, BOLD, 6.5, w - 4)[:2]:
            canvas.drawString(x + 2, y, line)
            y -= 7.5
        canvas.line(x, header.y, x, header.top)
        x += w
    return header.y


def draw_act(canvas: Canvas, data: ActData, recorder: LayoutRecorder | None = None) -> int:
    """Draws the act's pages onto ``canvas``; returns the number of pages. Rows grow to fit
    their longest cell: nothing is shrunk or cut."""
    width, height = PAGE
    canvas.setPageSize(PAGE)
    page_no = 1
    y = _page_header(canvas, data, page_no, True, recorder)
    table_w = width - 2 * MARGIN
    widths = {key: w for key, _t, w, _n in COLUMNS}
    for row in data.rows:
        cells = _cells(row)
        wrapped = {k: wrap(cells[k], REGULAR, _FONT_SIZE, widths[k] - 4) for k in _WRAPPED}
        lines = max(1, *(len(v) for v in wrapped.values()))
        row_h = lines * _LEADING + 5
        if y - row_h < MARGIN:
            canvas.showPage()
            page_no += 1
            canvas.setPageSize(PAGE)
            y = _page_header(canvas, data, page_no, False, recorder)
        box = Box(f"row.{row.position}", MARGIN, y - row_h, table_w, row_h)
        draw_block(canvas, box, recorder)
        canvas.setFont(REGULAR, _FONT_SIZE)
        x = MARGIN
        for key, _title, w, numeric in COLUMNS:
            ty = box.top - _FONT_SIZE - 1.5
            for line in wrapped.get(key, [cells[key]]):
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
        canvas.setPageSize(PAGE)
        if recorder is not None:
            recorder.page(width, height)
        y = height - MARGIN
    totals = Box("totals", MARGIN, y - _TOTALS_H, table_w, _TOTALS_H - 4)
    draw_block(canvas, totals, recorder, border=False)
    canvas.setFont(BOLD, 8)
    ty = totals.top - 9
    for line in (f"Всего отправлений: {len(data.rows)}",
                 f"Всего мест: {data.total_packages}",
                 f"Общий вес: {kg(data.total_weight_g)} кг",
                 f"Объявленная ценность, всего: {money(data.total_declared_value)} руб.",
                 f"Наложенный платёж, всего: {money(data.total_cod)} руб."):
        canvas.drawString(totals.x + 2, ty, line)
        ty -= 11
    sign = Box("signatures", MARGIN, totals.y - _SIGN_H, table_w, _SIGN_H - 4)
    draw_block(canvas, sign, recorder, border=False)
    canvas.setFont(REGULAR, 8)
    half = sign.x + table_w / 2
    canvas.drawString(sign.x + 2, sign.top - 12, "Сдал (отправитель):")
    canvas.drawString(half, sign.top - 12, "Принял (представитель перевозчика):")
    canvas.drawString(sign.x + 2, sign.top - 30,
                      "______________________ / ______________________ /")
    canvas.drawString(half, sign.top - 30, "______________________ / ______________________ /")
    canvas.setFont(REGULAR, 6.5)
    canvas.drawString(sign.x + 2, sign.top - 39, "(подпись)                              (ФИО)")
    canvas.drawString(half, sign.top - 39, "(подпись)                              (ФИО)")
    canvas.setFont(REGULAR, 8)
    canvas.drawString(sign.x + 2, sign.top - 52, "Дата: «____» ____________ 20___ г.   М.П.")
    canvas.drawString(half, sign.top - 52, "Дата: «____» ____________ 20___ г.   М.П.")
    canvas.showPage()
    return page_no


def render_act_pdf(data: ActData, out: BinaryIO | None = None,
                   recorder: LayoutRecorder | None = None) -> bytes:
    target = out or io.BytesIO()
    canvas = new_canvas(target, PAGE, f"Акт приёма-передачи № {data.number}")
    draw_act(canvas, data, recorder)
    canvas.save()
    return target.getvalue() if isinstance(target, io.BytesIO) else b""
