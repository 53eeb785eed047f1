"""Label PDFs drawn by emulators (what a carrier would send back): one A6 page per parcel
with the tracking number as a Code 128 barcode and the addresses in Cyrillic."""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import fontpkg_pt_sans
from reportlab.graphics.barcode import code128
from reportlab.lib.pagesizes import A4, A5, A6, A7
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

FONT = "CarrierLabelSans"


@cache
def _font() -> str:
    path = Path(fontpkg_pt_sans.__file__).resolve().parent / "files" / "PT_Sans-Web-Regular.ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(path)))
    return FONT


PAGE_SIZES = {"A4": A4, "A5": A5, "A6": A6, "A7": A7}


def label_pdf(carrier: str, labels: Sequence[tuple[str, Sequence[str]]], *, pagesize: str = "A6") -> bytes:
    """``labels``: (barcode value, lines of text) per page; ``pagesize``: A4, A5, A6 or A7."""
    font = _font()
    out = io.BytesIO()
    size = PAGE_SIZES[pagesize]
    pdf = canvas.Canvas(out, pagesize=size)
    _width, height = size
    for value, lines in labels:
        pdf.setFont(font, 12)
        pdf.drawString(8 * mm, height - 12 * mm, carrier)
        barcode = code128.Code128(value, barHeight=18 * mm, barWidth=0.33 * mm, quiet=True)
        barcode.drawOn(pdf, 8 * mm, height - 38 * mm)
        pdf.setFont(font, 11)
        pdf.drawString(8 * mm, height - 44 * mm, value)
        y = height - 54 * mm
        pdf.setFont(font, 9)
        for line in lines:
            pdf.drawString(8 * mm, y, line[:70])
            y -= 5 * mm
        pdf.showPage()
    if not labels:
        pdf.showPage()
    pdf.save()
    return out.getvalue()
