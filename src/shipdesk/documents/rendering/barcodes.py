"""Barcodes: Interleaved 2 of 5 for Russian Post's 14-digit numbers and Code 128 for S10 and
everything else through ``reportlab.graphics.barcode``; the QR matrix of the parcel's data
through the ``qrcode`` library (declared dependency), drawn as vector runs.

Why ``qrcode`` for the matrix: with a fixed mask pattern (any mask is valid for a reader;
the eight-way "best mask" search is what makes encoders slow) it encodes a label's payload
in ~0.5 ms, about 2.5× faster than reportlab's pure-Python ``qrencoder``, and the QR was
the largest cost of a label (see ``bench/bench_labels.py``)."""

from __future__ import annotations

import re
from decimal import Decimal

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_8BIT_BYTE, MODE_ALPHA_NUM, QRData
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.common import I2of5
from reportlab.pdfgen.canvas import Canvas

_S10 = re.compile(r"^[A-Z]{2}\d{9}[A-Z]{2}$")
_QR_UNSAFE = re.compile(r"[^0-9A-Z $%*+\-./:]")
_DARK_RUN = re.compile(rb"\x01+")
QUIET_MODULES = 10


def symbology(tracking_number: str) -> str:
    if len(tracking_number) == 14 and tracking_number.isdigit():
        return "I2of5"
    return "Code128"


def human_text(tracking_number: str) -> str:
    """The grouping printed under the bars: ``IIIIII MM NNNNN C`` / ``AA 123 456 785 BB``."""
    n = tracking_number
    if len(n) == 14 and n.isdigit():
        return f"{n[:6]} {n[6:8]} {n[8:13]} {n[13]}"
    if _S10.match(n):
        return f"{n[:2]} {n[2:5]} {n[5:8]} {n[8:11]} {n[11:]}"
    return n


def linear_barcode(tracking_number: str, *, bar_height: float, bar_width: float,
                   kind: str = "") -> I2of5 | Code128:
    """``kind``: "I2of5" or "Code128"; "" = by the number's format (:func:`symbology`).
    A courier service's 14-digit number is Code 128, not Russian Post's ITF."""
    if (kind or symbology(tracking_number)) == "I2of5":
        # The 14th digit is the number's own check digit: no extra I2of5 checksum.
        return I2of5(tracking_number, barHeight=bar_height, barWidth=bar_width, ratio=3.0,
                     checksum=0, bearers=0, quiet=0)
    return Code128(tracking_number, barHeight=bar_height, barWidth=bar_width, quiet=0)


def draw_linear(canvas: Canvas, tracking_number: str, x: float, y: float, width: float,
                height: float, kind: str = "") -> tuple[float, float]:
    """Draws the bars centred in the box, as wide as fits with a quiet zone of 10 modules
    each side (module 0.6–2 pt); returns the (x, width) of the bars. One barcode object per
    label: it is built with a 1-pt module and stretched horizontally."""
    bars = linear_barcode(tracking_number, bar_height=height, bar_width=1.0, kind=kind)
    module = min(width / (bars.width + 2 * QUIET_MODULES), 2.0)
    if module < 0.6:
        raise ValueError(f"barcode box too narrow for {tracking_number}")
    used = bars.width * module
    left = x + (width - used) / 2
    canvas.saveState()
    canvas.translate(left, y)
    canvas.scale(module, 1)
    bars.drawOn(canvas, 0, 0)
    canvas.restoreState()
    return left, used


def qr_payload(tracking_number: str, index: str, weight_g: int, declared_value: Decimal,
               cod_amount: Decimal, order_number: str) -> str:
    """``SD*<number>*<index>*<weight g>*<declared>*<cod>*<order>`` in the QR alphanumeric set
    (compact and fast to encode); characters outside it in the order number become ``-``."""
    order = _QR_UNSAFE.sub("-", order_number.upper())
    return f"SD*{tracking_number}*{index}*{weight_g}*{declared_value:.2f}*{cod_amount:.2f}*{order}"


def qr_matrix(payload: str) -> list[list[bool]]:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0, mask_pattern=0)
    mode = MODE_8BIT_BYTE if _QR_UNSAFE.search(payload) else MODE_ALPHA_NUM
    code.add_data(QRData(payload.encode(), mode=mode))
    code.make(fit=True)
    return code.modules


QrPath = tuple[int, str]  # (modules per side, PDF path of the dark runs in module units)


def qr_path(payload: str) -> QrPath:
    """The code as a filled path of horizontal runs in module units (integers: compact and
    fast to write), with the module count to scale it by."""
    modules = qr_matrix(payload)
    runs = [f"{m.start()} {r} {m.end() - m.start()} 1 re"
            for r, row in enumerate(modules) for m in _DARK_RUN.finditer(bytes(row))]
    return len(modules), " ".join(runs) + " f"


def qr_paths(payloads: list[str]) -> list[QrPath]:
    """Many at once (what a helper process computes for a window of labels)."""
    return [qr_path(p) for p in payloads]


def draw_qr(canvas: Canvas, payload: str, x: float, y: float, size: float,
            path: QrPath | None = None) -> None:
    """Draws the code in a ``size``×``size`` square, a 2-module quiet zone included.
    ``path``: the code computed ahead (see :func:`qr_paths`)."""
    count, ops = path or qr_path(payload)
    cell = size / (count + 4)
    canvas.saveState()
    # module (0, 0) is the top-left corner of the symbol, rows grow downwards
    canvas.transform(cell, 0, 0, -cell, x + 2 * cell, y + size - 2 * cell)
    canvas.addLiteral(ops)
    canvas.restoreState()
