"""Per-parcel forms: customs declarations CN22/CN23, the COD money transfer F112EP and the
inventory of contents F107."""

from __future__ import annotations

import io
from typing import BinaryIO

from reportlab.lib.pagesizes import A4, A5
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
                 recorder: LayoutRecorder | None, *, with_phone: bool = True,
                 with_country: bool = False) -> None:
    """``with_country``: the country line ("GERMANY DE") under the address, as customs
    forms have it. An address abroad already holds its postcode where the country puts it."""
    from shipdesk.documents.rules import country_line, is_foreign

    draw_block(canvas, box, recorder)
    inner = box.inset(4)
    caption(canvas, title, inner.x, inner.top - 7)
    lines = [party.name]
    if party.company and party.company != party.name:
        lines.append(party.company)
    # abroad the postcode is usually within the address already ("10117 Berlin")
    index = "" if is_foreign(party.country) and party.index in party.address else party.index
    lines.append(", ".join(p for p in (index, party.address) if p))
    if with_country and party.country:
        lines.append(country_line(party.country))
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


def _checkbox(canvas: Canvas, x: float, y: float, label: str, checked: bool) -> None:
    """A ticked or empty box with its label; a tick is an "X" so it reads back as text."""
    canvas.rect(x, y - 1, 7, 7, stroke=1, fill=0)
    if checked:
        canvas.setFont(BOLD, 7)
        canvas.drawString(x + 1.3, y + 0.2, "X")
    canvas.setFont(REGULAR, 7)
    canvas.drawString(x + 10, y, label)


def draw_customs(canvas: Canvas, data: CustomsData, recorder: LayoutRecorder | None = None
                 ) -> None:
    """CN22 (A5) or CN23 (A4) with the UPU form's fields: the item's barcode, sender and
    addressee, category of item (ticked), per line description, quantity, net weight, value
    and currency, HS tariff number and country of origin; total gross weight, total value,
    postage/fees, attached invoice/licence/certificate numbers, comments, the declaration
    text with the date and the sender's signature line."""
    from shipdesk.documents.rules import CUSTOMS_CATEGORIES, CUSTOMS_DECLARATION_TEXT

    cn22 = data.form == "CN22"
    size = A5 if cn22 else A4
    _start(canvas, size, recorder)
    width, height = size
    margin = 8 * mm if cn22 else _M
    inner_w = width - 2 * margin
    top = height - margin
    head = Box("header", margin, top - 56, inner_w, 56)
    draw_block(canvas, head, recorder, border=False)
    canvas.setFont(BOLD, 14)
    canvas.drawString(margin, top - 14, data.form)
    canvas.setFont(BOLD, 7.5)
    canvas.drawString(margin, top - 27, "ТАМОЖЕННАЯ ДЕКЛАРАЦИЯ")
    canvas.drawString(margin, top - 36, "CUSTOMS DECLARATION")
    canvas.setFont(REGULAR, 6.5)
    canvas.drawString(margin, top - 46, "Может вскрываться в служебном порядке / "
                                        "May be opened officially")
    canvas.drawString(margin, top - 54, f"Отправление / Item: {data.tracking_number}")
    bar_w = inner_w * 0.5
    bar_box = Box("header.barcode", head.right - bar_w, head.y + 10, bar_w, head.h - 10)
    draw_linear(canvas, data.tracking_number, bar_box.x, bar_box.y, bar_box.w, bar_box.h,
                "Code128")
    canvas.setFont(BOLD, 8)
    canvas.drawCentredString(bar_box.x + bar_box.w / 2, head.y + 1,
                             human_text(data.tracking_number))
    y = head.y - 4
    party_h = 50 if cn22 else 70
    half = (inner_w - 6) / 2
    _party_block(canvas, Box("sender", margin, y - party_h, half, party_h),
                 "Отправитель / From", data.sender, recorder, with_phone=not cn22,
                 with_country=True)
    _party_block(canvas, Box("recipient", margin + half + 6, y - party_h, half, party_h),
                 "Получатель / To", data.recipient, recorder, with_phone=not cn22,
                 with_country=True)
    y -= party_h + 4

    category = Box("category", margin, y - 44, inner_w, 44)
    draw_block(canvas, category, recorder)
    caption(canvas, "Категория отправления / Category of item", category.x + 4,
            category.top - 9)
    col_w = (inner_w - 8) / 2
    for n, (key, label) in enumerate(CUSTOMS_CATEGORIES.items()):
        cx = category.x + 4 + (n % 2) * col_w
        cy = category.top - 19 - (n // 2) * 9
        _checkbox(canvas, cx, cy, label, key == data.category)
    y = category.y - 2
    if data.explanation:
        explain = Box("explanation", margin, y - 14, inner_w, 12)
        draw_block(canvas, explain, recorder, border=False)
        draw_fitted(canvas, f"Пояснение / Explanation: {data.explanation}", explain,
                    max_size=7, min_size=4.5)
        y = explain.y - 2
    y -= 2

    scale = inner_w / 100
    columns = [("Подробное описание содержимого / Detailed description of contents",
                31 * scale, False),
               ("Кол. / Qty", 7 * scale, True),
               ("Вес нетто, кг / Net weight, kg", 12 * scale, True),
               ("Стоимость / Value", 17 * scale, True),
               ("Код ТН ВЭД / HS tariff number", 17 * scale, False),
               ("Страна происхождения / Country of origin", 16 * scale, False)]
    rows = [[i.description, str(i.quantity), kg(i.weight_g), f"{money(i.value)} {data.currency}",
             i.hs_code, i.origin_country] for i in data.items]
    y = _table(canvas, Box("items", margin, 0, inner_w, y), columns, rows, recorder,
               row_h=12 if cn22 else 14)

    totals = Box("totals", margin, y - 32, inner_w, 30)
    draw_block(canvas, totals, recorder)
    canvas.setFont(BOLD, 7.5)
    canvas.drawString(margin + 4, totals.top - 10,
                      f"Общий вес брутто / Total gross weight: {kg(data.gross_weight_g)} кг")
    canvas.drawString(margin + 4, totals.top - 20, "Общая стоимость / Total value: "
                      f"{money(data.total_value)} {data.currency}")
    canvas.setFont(REGULAR, 7.5)
    canvas.drawString(margin + inner_w * 0.58, totals.top - 10,
                      "Почтовый сбор / Postage/Fees:")
    canvas.drawString(margin + inner_w * 0.58, totals.top - 20,
                      f"{money(data.postage)} {data.currency}")

    docs = Box("attached", margin, totals.y - 40, inner_w, 38)
    draw_block(canvas, docs, recorder)
    caption(canvas, "Прилагаемые документы / Attached documents", docs.x + 4, docs.top - 9)
    third = (inner_w - 8) / 3
    for n, (label, number) in enumerate((("Счёт / Invoice", data.invoice_number),
                                         ("Лицензия / Licence", data.licence_number),
                                         ("Сертификат / Certificate", data.certificate_number))):
        _checkbox(canvas, docs.x + 4 + n * third, docs.top - 19, label, bool(number))
        canvas.setFont(REGULAR, 7)
        canvas.drawString(docs.x + 14 + n * third, docs.top - 29, f"№ {number or '—'}")
    y = docs.y - 2
    if data.comments:
        comments = Box("comments", margin, y - 22, inner_w, 20)
        draw_block(canvas, comments, recorder, border=False)
        draw_fitted(canvas, f"Примечания / Comments: {data.comments}", comments,
                    max_size=7, min_size=4.5)
        y = comments.y - 2

    sign = Box("declaration", margin, y - 62, inner_w, 60)
    draw_block(canvas, sign, recorder, border=False)
    draw_fitted(canvas, CUSTOMS_DECLARATION_TEXT,
                Box("declaration.text", sign.x, sign.y + 14, sign.w, sign.h - 14),
                max_size=6.5, min_size=4.5)
    canvas.setFont(REGULAR, 7.5)
    date = f"{data.date:%d.%m.%Y}" if data.date else "__________"
    canvas.drawString(margin, sign.y + 2, f"Дата / Date: {date}     Подпись отправителя / "
                                         "Sender's signature: ______________________")
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
