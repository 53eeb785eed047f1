"""A courier service's hand-over act (акт приёма-передачи отправлений): the list of a batch's
parcels with their numbers, package counts, weights, declared values and COD amounts, the
totals, and the signatures of the sender and the carrier's representative. What CDEK,
PickPoint and other courier services sign instead of Russian Post's F103."""

from __future__ import annotations

import io
from typing import BinaryIO

from reportlab.pdfgen.canvas import Canvas

from shipdesk.documents.rendering.common import kg, money, new_canvas
from shipdesk.documents.rendering.data import ActData, ActRow
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, LayoutRecorder
from shipdesk.documents.rendering.tables import MARGIN, PAGE, ParcelTable, draw_parcel_table

TABLE = ParcelTable(
    columns=(
        ("position", "№ п/п", 24, True),
        ("tracking", "Номер отправления", 92, False),
        ("order", "Номер заказа", 72, False),
        ("recipient", "Получатель", 178, False),
        ("destination", "Пункт выдачи / город", 183, False),
        ("packages", "Мест", 30, True),
        ("weight", "Вес, кг", 45, True),
        ("declared", "Объявл. ценность, руб.", 70, True),
        ("cod", "Налож. платёж, руб.", 70, True),
    ),
    wrapped=("tracking", "order", "recipient", "destination"),
    font_size=7.5, leading=8.5, min_lines=1, row_padding=5, totals_h=64, signatures_h=58)


def _cells(row: ActRow) -> dict[str, str]:
    return {
        "position": str(row.position), "tracking": row.tracking_number,
        "order": row.order_number, "recipient": row.recipient,
        "destination": row.destination, "packages": str(row.packages),
        "weight": kg(row.weight_g), "declared": money(row.declared_value),
        "cod": money(row.cod_amount),
    }


def draw_act(canvas: Canvas, data: ActData, recorder: LayoutRecorder | None = None) -> int:
    """Draws the act's pages onto ``canvas``; returns the number of pages."""

    def title(canvas: Canvas, top: float) -> None:
        width = PAGE[0]
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

    def signatures(canvas: Canvas, sign: Box) -> None:
        half = sign.x + sign.w / 2
        canvas.drawString(sign.x + 2, sign.top - 12, "Сдал (отправитель):")
        canvas.drawString(half, sign.top - 12, "Принял (представитель перевозчика):")
        for dy, size, text in ((30, 8, "______________________ / ______________________ /"),
                               (39, 6.5, "(подпись)                              (ФИО)"),
                               (52, 8, "Дата: «____» ____________ 20___ г.   М.П.")):
            canvas.setFont(REGULAR, size)
            canvas.drawString(sign.x + 2, sign.top - dy, text)
            canvas.drawString(half, sign.top - dy, text)

    return draw_parcel_table(
        canvas, TABLE, rows=((row.position, _cells(row)) for row in data.rows), title=title,
        totals=(f"Всего отправлений: {len(data.rows)}",
                f"Всего мест: {data.total_packages}",
                f"Общий вес: {kg(data.total_weight_g)} кг",
                f"Объявленная ценность, всего: {money(data.total_declared_value)} руб.",
                f"Наложенный платёж, всего: {money(data.total_cod)} руб."),
        signatures=signatures, recorder=recorder)


def render_act_pdf(data: ActData, out: BinaryIO | None = None,
                   recorder: LayoutRecorder | None = None) -> bytes:
    target = out or io.BytesIO()
    canvas = new_canvas(target, PAGE, f"Акт приёма-передачи № {data.number}")
    draw_act(canvas, data, recorder)
    canvas.save()
    return target.getvalue() if isinstance(target, io.BytesIO) else b""
