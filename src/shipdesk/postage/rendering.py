"""PDFs of the postage domain: the advance invoice (payee's bank details, amount in words, the
payment QR in the banks' unified format ST00012) and envelope fronts with the online postage
mark (C4, C5, C6, DL, E65). Drawn with reportlab through the documents app's helpers."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from shipdesk.documents.rendering.barcodes import draw_linear, draw_qr
from shipdesk.documents.rendering.common import money, new_canvas
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, TextDoesNotFit, fit_text
from shipdesk.documents.rendering.words import rubles_in_words
from shipdesk.postage import marks

# --- the advance invoice ------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceData:
    number: str
    issued_on: dt.date
    amount: Decimal
    payee_name: str
    payee_inn: str
    payee_kpp: str
    payee_account: str
    payee_bank: str
    payee_bik: str
    payee_corr_account: str
    payer_name: str
    payer_inn: str
    payer_kpp: str
    payer_address: str

    @property
    def purpose(self) -> str:
        return (f"Оплата по счёту № {self.number} от {self.issued_on:%d.%m.%Y}: аванс за знаки "
                f"онлайн-оплаты почтовых отправлений. Без НДС")


def st00012(data: InvoiceData) -> str:
    """The payment QR text (GOST R 56042-2014, UTF-8: the "2" of ST0001**2**); ``Sum`` in
    kopecks. ``|`` is the separator, so it may not occur in a value."""
    fields = [("Name", data.payee_name), ("PersonalAcc", data.payee_account),
              ("BankName", data.payee_bank), ("BIC", data.payee_bik),
              ("CorrespAcc", data.payee_corr_account or "0"), ("PayeeINN", data.payee_inn),
              ("KPP", data.payee_kpp), ("Sum", str(int(data.amount * 100))),
              ("Purpose", data.purpose), ("PayerINN", data.payer_inn)]
    return "ST00012|" + "|".join(f"{k}={v.replace('|', '/')}" for k, v in fields if v)


def _cell(canvas: Canvas, x: float, y: float, w: float, h: float, text: str,
          size: float = 9, font: str = REGULAR) -> None:
    canvas.rect(x, y, w, h)
    fitted = fit_text(text, font, w - 6, h - 4, size, 5, "cell")
    canvas.setFont(font, fitted.size)
    line_y = y + h - 2 - fitted.size
    for line in fitted.lines:
        canvas.drawString(x + 3, line_y, line)
        line_y -= fitted.leading


def render_invoice(data: InvoiceData) -> bytes:
    out = io.BytesIO()
    canvas = new_canvas(out, A4, f"Счёт {data.number}")
    width, height = A4
    left, right = 15 * mm, width - 15 * mm
    top = height - 15 * mm
    # the bank block, as on every Russian invoice
    w = right - left
    c1, c2 = w * 0.55, w * 0.12
    _cell(canvas, left, top - 28, c1, 28, data.payee_bank + "\nБанк получателя")
    _cell(canvas, left + c1, top - 14, c2, 14, "БИК")
    _cell(canvas, left + c1 + c2, top - 14, w - c1 - c2, 14, data.payee_bik)
    _cell(canvas, left + c1, top - 28, c2, 14, "Сч. №")
    _cell(canvas, left + c1 + c2, top - 28, w - c1 - c2, 14, data.payee_corr_account)
    _cell(canvas, left, top - 42, c1 / 2, 14, f"ИНН {data.payee_inn}")
    _cell(canvas, left + c1 / 2, top - 42, c1 / 2, 14, f"КПП {data.payee_kpp}")
    _cell(canvas, left, top - 70, c1, 28, data.payee_name + "\nПолучатель")
    _cell(canvas, left + c1, top - 70, c2, 42, "Сч. №")
    _cell(canvas, left + c1 + c2, top - 70, w - c1 - c2, 42, data.payee_account)
    y = top - 105
    canvas.setFont(BOLD, 14)
    canvas.drawString(left, y, f"Счёт на оплату № {data.number} от {data.issued_on:%d.%m.%Y}")
    canvas.line(left, y - 6, right, y - 6)
    y -= 28
    _cell(canvas, left, y - 28, w - 40 * mm, 28,
          f"Поставщик: {data.payee_name}, ИНН {data.payee_inn}"
          + (f", КПП {data.payee_kpp}" if data.payee_kpp else ""), 9)
    _cell(canvas, left, y - 60, w - 40 * mm, 28,
          f"Покупатель: {data.payer_name}, ИНН {data.payer_inn or '—'}"
          + (f", КПП {data.payer_kpp}" if data.payer_kpp else "")
          + (f", {data.payer_address}" if data.payer_address else ""), 9)
    # the payment QR beside the parties: a phone's bank app reads it
    qr_size = 38 * mm
    draw_qr(canvas, st00012(data), right - qr_size + 2 * mm, y - qr_size + 4, qr_size)
    y -= qr_size + 8
    cols = [("№", 0.06), ("Товары (работы, услуги)", 0.54), ("Кол-во", 0.1), ("Ед.", 0.08),
            ("Сумма, ₽", 0.22)]
    values = ["1", "Аванс за знаки онлайн-оплаты почтовых отправлений", "1", "усл.",
              money(data.amount)]
    x = left
    for (title, share), value in zip(cols, values, strict=True):
        _cell(canvas, x, y - 16, w * share, 16, title, 8, BOLD)
        _cell(canvas, x, y - 44, w * share, 28, value, 9)
        x += w * share
    y -= 62
    canvas.setFont(BOLD, 10)
    canvas.drawRightString(right, y, f"Итого: {money(data.amount)}")
    canvas.drawRightString(right, y - 14, "Без налога (НДС)")
    canvas.setFont(REGULAR, 10)
    canvas.drawString(left, y - 34, f"Всего наименований 1, на сумму {money(data.amount)} руб.")
    canvas.setFont(BOLD, 10)
    canvas.drawString(left, y - 48, rubles_in_words(data.amount))
    canvas.setFont(REGULAR, 9)
    canvas.drawString(left, y - 70, "В назначении платежа укажите номер счёта: "
                                    f"«{data.number}». Оплату можно сделать по QR-коду.")
    canvas.line(left, y - 110, right, y - 110)
    canvas.drawString(left, y - 125, "Руководитель ____________        Бухгалтер ____________")
    canvas.showPage()
    canvas.save()
    return out.getvalue()


# --- envelope fronts ----------------------------------------------------------------------

ENVELOPES: dict[str, tuple[float, float]] = {  # width × height, landscape, mm
    "C4": (324, 229), "C5": (229, 162), "C6": (162, 114), "DL": (220, 110), "E65": (220, 110),
}


@dataclass(frozen=True)
class EnvelopeData:
    tracking_number: str
    sender_name: str
    sender_address: str
    sender_index: str
    recipient_name: str
    recipient_address: str
    recipient_index: str
    mail_type: str
    mark_number: str = ""
    mark_amount: Decimal = Decimal("0")
    mark_payload: str = ""


def _text(canvas: Canvas, text: str, box: Box, size: float, font: str = REGULAR) -> None:
    try:
        fitted = fit_text(text, font, box.w, box.h, size, 5, box.name)
    except TextDoesNotFit:
        fitted = fit_text(text[:120], font, box.w, box.h, size, 4, box.name)
    canvas.setFont(font, fitted.size)
    y = box.top - fitted.size
    for line in fitted.lines:
        canvas.drawString(box.x, y, line)
        y -= fitted.leading


def _index_boxes(canvas: Canvas, index: str, x: float, y: float, cell: float) -> None:
    """The recipient's index in six boxes, large digits (what the sorting reads)."""
    canvas.setFont(BOLD, cell * 0.9)
    for i in range(6):
        canvas.rect(x + i * cell * 0.8, y, cell * 0.7, cell)
        if i < len(index):
            canvas.drawCentredString(x + i * cell * 0.8 + cell * 0.35, y + cell * 0.18, index[i])


def draw_envelope(canvas: Canvas, env: EnvelopeData, size: str,
                  path: marks.MatrixPath | None = None) -> None:
    w_mm, h_mm = ENVELOPES[size]
    width, height = w_mm * mm, h_mm * mm
    scale = min(1.0, h_mm / 162)  # the layout is drawn for C5 and scaled down for smaller
    pad = 8 * mm * scale
    half = width / 2
    # the sender, top left
    canvas.setFont(BOLD, 7)
    canvas.drawString(pad, height - pad - 7, "От кого / Откуда")
    _text(canvas, f"{env.sender_name}\n{env.sender_address}",
          Box("sender", pad, height - pad - 48 * scale, half - 2 * pad, 38 * scale), 9 * scale)
    canvas.setFont(BOLD, 9 * scale + 2)
    canvas.drawString(pad, height - pad - 60 * scale, env.sender_index)
    # the item's barcode under the sender
    if env.tracking_number:
        draw_linear(canvas, env.tracking_number, pad, height - pad - 100 * scale,
                    min(half - 2 * pad, 200), 28 * scale)
        canvas.setFont(REGULAR, 7)
        canvas.drawString(pad, height - pad - 109 * scale, env.tracking_number)
    # the mark, top right
    if env.mark_payload:
        side = 26 * mm * min(1.0, scale * 1.2)
        x0, y0 = width - pad - side, height - pad - side
        cols, rows, ops = path or marks.datamatrix_path(env.mark_payload)
        cell = side / (max(cols, rows) + 2)
        canvas.saveState()
        canvas.transform(cell, 0, 0, -cell, x0 + cell, y0 + side - cell)
        canvas.addLiteral(ops)
        canvas.restoreState()
        canvas.setFont(BOLD, 6.5)
        canvas.drawRightString(x0 - 3, height - pad - 7, "ЗНАК ОНЛАЙН-ОПЛАТЫ")
        canvas.setFont(REGULAR, 6.5)
        canvas.drawRightString(x0 - 3, height - pad - 15, f"{money(env.mark_amount)} ₽")
        canvas.drawRightString(x0 - 3, height - pad - 23, env.mark_number)
        canvas.drawRightString(x0 - 3, height - pad - 31, env.mail_type)
    # the recipient, bottom right
    rbox = Box("recipient", half, pad + 22 * scale, half - pad, 70 * scale)
    canvas.setFont(BOLD, 7)
    canvas.drawString(rbox.x, rbox.top + 3, "Кому / Куда")
    _text(canvas, f"{env.recipient_name}\n{env.recipient_address}", rbox, 11 * scale)
    canvas.setFont(BOLD, 11 * scale + 2)
    canvas.drawString(half, pad + 6 * scale, env.recipient_index)
    # the index boxes, bottom left
    _index_boxes(canvas, env.recipient_index, pad, pad, 14 * scale + 4)


def render_envelopes(envelopes: Iterable[EnvelopeData], size: str) -> bytes:
    """One page per envelope, the page the envelope's size (a printer feeds envelopes)."""
    if size not in ENVELOPES:
        raise ValueError(size)
    out = io.BytesIO()
    w_mm, h_mm = ENVELOPES[size]
    canvas = new_canvas(out, (w_mm * mm, h_mm * mm), f"Конверты {size}")
    for env in envelopes:
        draw_envelope(canvas, env, size)
        canvas.showPage()
    canvas.save()
    return out.getvalue()
