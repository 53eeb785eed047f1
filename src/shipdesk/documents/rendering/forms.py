"""Per-parcel forms: customs declarations CN22/CN23, the COD money transfer F112EP and the
inventory of contents F107."""

from __future__ import annotations

import io
from typing import BinaryIO

from reportlab.lib.pagesizes import A4, A6
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from shipdesk.documents.rendering.barcodes import draw_linear, human_text
from shipdesk.documents.rendering.common import caption, draw_block, draw_fitted, kg, money, new_canvas
from shipdesk.documents.rendering.data import (
    CodTransferData,
    CustomsData,
    InventoryData,
    PartyData,
)
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, LayoutRecorder
from shipdesk.documents.rendering.words import rubles_in_words

_M = 12 * mm


def _start(canvas: Canvas, size: tuple[float, float], recorder: LayoutRecorder | None) -> None:
    canvas.setPageSize(size)
    canvas.setLineWidth(0.5)
    if recorder is not None:
        recorder.page(*size)


def _party_block(canvas: Canvas, box: Box, title: str, party: PartyData,
                 recorder: LayoutRecorder | None, *, with_phone: bool = True) -> None:
    draw_block(canvas, box, recorder)
    inner = box.inset(4)
    caption(canvas, title, inner.x, inner.top - 7)
    lines = [party.name]
    if party.company and party.company != party.name:
        lines.append(party.company)
    lines.append(", ".join(p for p in (party.index, party.address, party.country) if p))
    if with_phone and party.phone:
        lines.append(f"Тел.: {party.phone}")
    draw_fitted(canvas, "\n".join(lines), Box(box.name + ".text", inner.x, inner.y, inner.w,
                                              inner.h - 10), max_size=8.5, min_size=5,
                block=box.name)


def _table(canvas: Canvas, box: Box, columns: list[tuple[str, float, bool]],
           rows: list[list[str]], recorder: LayoutRecorder | None, row_h: float = 14) -> float:
    """A simple ruled table from the top of ``box`` (the header row is two lines high);
    returns the y under the last row."""
    head_h = row_h * 1.9
    total_h = head_h + row_h * len(rows)
    draw_block(canvas, Box(box.name, box.x, box.top - total_h, box.w, total_h), recorder)
    y = box.top
    for r, cells in enumerate([[c[0] for c in columns], *rows]):
        h = head_h if r == 0 else row_h
        font, size = (BOLD, 6.0) if r == 0 else (REGULAR, 7.5)
        x = box.x
        for (_title, w, numeric), text in zip(columns, cells, strict=True):
            if numeric and r:
                canvas.setFont(font, size)
                canvas.drawRightString(x + w - 2, y - h + 4, text)
            else:
                draw_fitted(canvas, text, Box("cell", x + 2, y - h + 1, w - 4, h - 2),
                            font=font, max_size=size, min_size=4.5, block=f"{box.name}.{r}")
            canvas.line(x, y - h, x, y)
            x += w
        y -= h
        canvas.line(box.x, y, box.x + box.w, y)
    return y


def draw_customs(canvas: Canvas, data: CustomsData, recorder: LayoutRecorder | None = None
                 ) -> None:
    size = A6 if data.form == "CN22" else A4
    _start(canvas, size, recorder)
    width, height = size
    margin = 6 * mm if data.form == "CN22" else _M
    inner_w = width - 2 * margin
    top = height - margin
    head = Box("header", margin, top - 30, inner_w, 30)
    draw_block(canvas, head, recorder, border=False)
    canvas.setFont(BOLD, 12)
    canvas.drawString(margin, top - 12, data.form)
    canvas.setFont(REGULAR, 7)
    canvas.drawString(margin + 40, top - 9, "ТАМОЖЕННАЯ ДЕКЛАРАЦИЯ / CUSTOMS DECLARATION")
    canvas.drawString(margin + 40, top - 18, f"Отправление / Item: {data.tracking_number}")
    canvas.drawString(margin, top - 28, f"Категория / Category: {data.category}")
    y = head.y - 4
    party_h = 46 if data.form == "CN22" else 70
    if data.form == "CN23":
        half = (inner_w - 6) / 2
        _party_block(canvas, Box("sender", margin, y - party_h, half, party_h),
                     "Отправитель / From", data.sender, recorder)
        _party_block(canvas, Box("recipient", margin + half + 6, y - party_h, half, party_h),
                     "Получатель / To", data.recipient, recorder)
        y -= party_h + 6
    else:
        _party_block(canvas, Box("sender", margin, y - party_h, inner_w, party_h),
                     "Отправитель / From", data.sender, recorder, with_phone=False)
        y -= party_h + 4
        _party_block(canvas, Box("recipient", margin, y - party_h, inner_w, party_h),
                     "Получатель / To", data.recipient, recorder, with_phone=False)
        y -= party_h + 4
    scale = inner_w / 100
    columns = [("Описание / Description", 36 * scale, False), ("Кол. / Qty", 9 * scale, True),
               ("Вес нетто, кг / Net kg", 14 * scale, True),
               (f"Стоимость / Value, {data.currency}", 15 * scale, True),
               ("Код ТН ВЭД / HS", 15 * scale, False), ("Страна / Origin", 11 * scale, False)]
    rows = [[i.description, str(i.quantity), kg(i.weight_g), money(i.value), i.hs_code,
             i.origin_country] for i in data.items]
    y = _table(canvas, Box("items", margin, 0, inner_w, y), columns, rows, recorder,
               row_h=12 if data.form == "CN22" else 14)
    totals = Box("totals", margin, y - 30, inner_w, 26)
    draw_block(canvas, totals, recorder, border=False)
    canvas.setFont(BOLD, 8)
    canvas.drawString(margin, totals.top - 9,
                      f"Общий вес брутто / Total gross weight: {kg(data.gross_weight_g)} кг")
    canvas.drawString(margin, totals.top - 20, f"Общая стоимость / Total value: "
                      f"{money(data.total_value)} {data.currency}")
    sign = Box("signature", margin, totals.y - 24, inner_w, 20)
    draw_block(canvas, sign, recorder, border=False)
    canvas.setFont(REGULAR, 7)
    date = f"{data.date:%d.%m.%Y}" if data.date else "__________"
    canvas.drawString(margin, sign.top - 10,
                      f"Дата / Date: {date}   Подпись отправителя / Sender's signature: ________")
    canvas.showPage()


def draw_cod_transfer(canvas: Canvas, data: CodTransferData,
                      recorder: LayoutRecorder | None = None) -> None:
    """F112EP on an A4 page: amount in figures and words, payee (the shop), payer, the
    parcel's number as a barcode."""
    _start(canvas, A4, recorder)
    width, height = A4
    inner_w = width - 2 * _M
    top = height - _M
    head = Box("header", _M, top - 36, inner_w, 36)
    draw_block(canvas, head, recorder, border=False)
    canvas.setFont(BOLD, 13)
    canvas.drawString(_M, top - 14, "ПОЧТОВЫЙ ПЕРЕВОД НАЛОЖЕННОГО ПЛАТЕЖА")
    canvas.setFont(BOLD, 10)
    canvas.drawRightString(width - _M, top - 14, "ф. 112ЭП")
    canvas.setFont(REGULAR, 8)
    canvas.drawString(_M, top - 28, f"К почтовому отправлению № {data.tracking_number}")
    amount = Box("amount", _M, head.y - 58, inner_w, 52)
    draw_block(canvas, amount, recorder)
    caption(canvas, "Сумма перевода", amount.x + 4, amount.top - 10)
    canvas.setFont(BOLD, 16)
    canvas.drawString(amount.x + 4, amount.top - 30, f"{money(data.amount)} руб.")
    draw_fitted(canvas, rubles_in_words(data.amount),
                Box("amount.words", amount.x + 4, amount.y + 3, amount.w - 8, 14), max_size=9,
                min_size=5)
    payee = Box("payee", _M, amount.y - 96, inner_w, 90)
    _party_block(canvas, payee, "Кому (получатель перевода)", data.payee, recorder)
    if data.payee_bank:
        canvas.setFont(REGULAR, 7.5)
        y = payee.y + 4
        for label, value in reversed(data.payee_bank):
            canvas.drawString(payee.x + payee.w / 2, y, f"{label}: {value}")
            y += 9
    payer = Box("payer", _M, payee.y - 76, inner_w, 70)
    _party_block(canvas, payer, "От кого (адресат отправления)", data.payer, recorder)
    bar = Box("barcode", _M, payer.y - 80, inner_w, 74)
    draw_block(canvas, bar, recorder)
    draw_linear(canvas, data.tracking_number, bar.x + 40 * mm, bar.y + 16, bar.w - 80 * mm, 50)
    canvas.setFont(BOLD, 10)
    canvas.drawCentredString(bar.x + bar.w / 2, bar.y + 4, human_text(data.tracking_number))
    sign = Box("signature", _M, bar.y - 40, inner_w, 34)
    draw_block(canvas, sign, recorder, border=False)
    canvas.setFont(REGULAR, 8)
    canvas.drawString(_M, sign.top - 12, "Подпись оператора ОПС: ______________   Оттиск КПШ")
    canvas.showPage()


def draw_inventory(canvas: Canvas, data: InventoryData, recorder: LayoutRecorder | None = None
                   ) -> None:
    """F107 in two copies (one goes inside the parcel, one stays with the sender), one page each."""
    for copy in ("Экземпляр для вложения в отправление", "Экземпляр отправителя"):
        _start(canvas, A4, recorder)
        width, height = A4
        inner_w = width - 2 * _M
        top = height - _M
        head = Box("header", _M, top - 40, inner_w, 40)
        draw_block(canvas, head, recorder, border=False)
        canvas.setFont(BOLD, 13)
        canvas.drawString(_M, top - 14, "ОПИСЬ ВЛОЖЕНИЯ")
        canvas.setFont(BOLD, 10)
        canvas.drawRightString(width - _M, top - 14, "ф. 107")
        canvas.setFont(REGULAR, 8)
        canvas.drawString(_M, top - 27, f"В посылку № {data.tracking_number}. {copy}")
        canvas.drawString(_M, top - 37, f"Куда, кому: {data.recipient.index} "
                          f"{data.recipient.address}, {data.recipient.name}")
        scale = inner_w / 100
        columns = [("№ п/п", 8 * scale, True), ("Наименование предметов", 62 * scale, False),
                   ("Количество", 12 * scale, True), ("Объявленная ценность, руб.", 18 * scale,
                                                       True)]
        rows = [[str(n), i.name, str(i.quantity), money(i.value)]
                for n, i in enumerate(data.items, 1)]
        rows.append(["", "Итого", str(data.total_quantity), money(data.total_value)])
        y = _table(canvas, Box("items", _M, 0, inner_w, head.y - 6), columns, rows, recorder)
        sign = Box("signature", _M, y - 50, inner_w, 44)
        draw_block(canvas, sign, recorder, border=False)
        canvas.setFont(REGULAR, 8)
        canvas.drawString(_M, sign.top - 12, f"Отправитель: {data.sender.name}   "
                          "Подпись: ______________")
        canvas.drawString(_M, sign.top - 28, "Проверил работник связи: ______________   "
                          "Оттиск КПШ")
        canvas.showPage()


def render_single(draw: object, data: object, title: str,
                  recorder: LayoutRecorder | None = None, out: BinaryIO | None = None) -> bytes:
    target = out or io.BytesIO()
    canvas = new_canvas(target, A4, title)
    draw(canvas, data, recorder)  # type: ignore[operator]
    canvas.save()
    return target.getvalue() if isinstance(target, io.BytesIO) else b""
