"""PDFs of the postage domain: the advance invoice (payee's bank details, amount in words, the
payment QR in the banks' unified format ST00012) and envelope fronts with the online postage
mark (C4, C5, C6, DL, E65). Drawn with reportlab through the documents app's helpers."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
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


@dataclass(frozen=True)
class _Frame:
    """Where things go on one envelope size (the layout is drawn for C5, scaled down)."""

    width: float
    height: float
    scale: float
    pad: float
    cell: float  # an index box's height

    @classmethod
    def of(cls, size: str) -> _Frame:
        w_mm, h_mm = ENVELOPES[size]
        scale = min(1.0, h_mm / 162)
        return cls(w_mm * mm, h_mm * mm, scale, 8 * mm * scale, 14 * scale + 4)

    @property
    def half(self) -> float:
        return self.width / 2

    @property
    def mark_side(self) -> float:
        return 26 * mm * min(1.0, self.scale * 1.2)

    def sender(self) -> Box:
        return Box("sender", self.pad, self.height - self.pad - 48 * self.scale,
                   self.half - 2 * self.pad, 38 * self.scale)

    def recipient(self) -> Box:
        return Box("recipient", self.half, self.pad + 22 * self.scale,
                   self.half - self.pad, 70 * self.scale)


def _static_form(canvas: Canvas, size: str) -> str:
    """What every envelope of a size shares (captions, the index boxes) as one form XObject,
    drawn once into the file and referenced by each page."""
    name = f"envelope_{size}"
    if name in getattr(canvas, "_postage_forms", set()):
        return name
    f = _Frame.of(size)
    canvas.beginForm(name)
    canvas.setFont(BOLD, 7)
    canvas.drawString(f.pad, f.height - f.pad - 7, "От кого / Откуда")
    rbox = f.recipient()
    canvas.drawString(rbox.x, rbox.top + 3, "Кому / Куда")
    for i in range(6):
        canvas.rect(f.pad + i * f.cell * 0.8, f.pad, f.cell * 0.7, f.cell)
    canvas.endForm()
    canvas._postage_forms = getattr(canvas, "_postage_forms", set()) | {name}
    return name


def _fitted_lines(tx: Any, text: str, box: Box, size: float) -> None:
    try:
        fitted = fit_text(text, REGULAR, box.w, box.h, size, 5, box.name)
    except TextDoesNotFit:
        fitted = fit_text(text[:120], REGULAR, box.w, box.h, size, 4, box.name)
    tx.setFont(REGULAR, fitted.size, fitted.leading)
    tx.setTextOrigin(box.x, box.top - fitted.size)
    for line in fitted.lines:
        tx.textLine(line)


def draw_envelope(canvas: Canvas, env: EnvelopeData, size: str,
                  bits: marks.MatrixImage | None = None) -> None:
    f = _Frame.of(size)
    canvas.doForm(_static_form(canvas, size))
    width, height, scale, pad = f.width, f.height, f.scale, f.pad
    # every text of the envelope in one text object
    tx = canvas.beginText()
    _fitted_lines(tx, f"{env.sender_name}\n{env.sender_address}", f.sender(), 9 * scale)
    tx.setFont(BOLD, 9 * scale + 2)
    tx.setTextOrigin(pad, height - pad - 60 * scale)
    tx.textOut(env.sender_index)
    _fitted_lines(tx, f"{env.recipient_name}\n{env.recipient_address}", f.recipient(),
                  11 * scale)
    tx.setFont(BOLD, 11 * scale + 2)
    tx.setTextOrigin(f.half, pad + 6 * scale)
    tx.textOut(env.recipient_index)
    # the index in its boxes: tabular digits, spaced to the boxes' pitch
    digit = f.cell * 0.9
    tx.setFont(BOLD, digit)
    tx.setCharSpace(f.cell * 0.8 - stringWidth("0", BOLD, digit))
    tx.setTextOrigin(pad + (f.cell * 0.7 - stringWidth("0", BOLD, digit)) / 2,
                     pad + f.cell * 0.18)
    tx.textOut(env.recipient_index[:6])
    tx.setCharSpace(0)
    if env.tracking_number:
        tx.setFont(REGULAR, 7)
        tx.setTextOrigin(pad, height - pad - 100 * scale - 9)
        tx.textOut(env.tracking_number)
    canvas.drawText(tx)
    # the item's barcode under the sender
    if env.tracking_number:
        draw_linear(canvas, env.tracking_number, pad, height - pad - 100 * scale,
                    min(f.half - 2 * pad, 200), 28 * scale)
    # the mark, top right
    if env.mark_payload:
        side = f.mark_side
        x0, y0 = width - pad - side, height - pad - side
        cols, rows, hexdata = bits or marks.datamatrix_bits(env.mark_payload)
        cell = side / (max(cols, rows) + 2)
        # an inline image, one module a sample: one operator per mark, no per-module paths
        canvas.addLiteral(
            f"q {cols * cell:.3f} 0 0 {rows * cell:.3f} {x0 + cell:.3f} "
            f"{y0 + side - cell - rows * cell:.3f} cm BI /W {cols} /H {rows} /CS /G "
            f"/BPC 8 /I false /F /AHx ID {hexdata}> EI Q")
        tx = canvas.beginText()
        tx.setFont(BOLD, 6.5)
        for n, line in enumerate(("ЗНАК ОНЛАЙН-ОПЛАТЫ", f"{money(env.mark_amount)} ₽",
                                  env.mark_number, env.mail_type)):
            if n == 1:
                tx.setFont(REGULAR, 6.5)
            tx.setTextOrigin(x0 - 3 - stringWidth(line, BOLD if n == 0 else REGULAR, 6.5),
                             height - pad - 7 - 8 * n)
            tx.textOut(line)
        canvas.drawText(tx)


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
