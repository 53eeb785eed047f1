"""Small drawing helpers shared by the renderers."""

from __future__ import annotations

import zlib
from decimal import Decimal

from reportlab import rl_config
from reportlab.pdfbase.pdfdoc import PDFStream
from reportlab.pdfgen.canvas import Canvas

from shipdesk.documents.rendering.fonts import BOLD, REGULAR, register_fonts
from shipdesk.documents.rendering.layout import Box, LayoutRecorder, fit_text


class _AlreadyDeflated:
    """A stream filter naming FlateDecode for content compressed when its page closed."""

    pdfname = "FlateDecode"

    def encode(self, data: bytes) -> bytes:
        return data


class CompactCanvas(Canvas):
    """reportlab keeps every page until ``save()``, and compresses page streams only then.
    This canvas compresses each page's content as soon as the page is finished and drops
    the text, so a 10,000-label document holds ~2 KB per page instead of ~20 KB."""

    def showPage(self) -> None:
        super().showPage()
        page = self._doc.Pages.pages[-1]
        if page.stream and not page.Contents:
            stream = PDFStream(content=zlib.compress(page.stream.encode("latin-1"), 1),
                               filters=[_AlreadyDeflated()])
            stream.__Comment__ = "page stream"
            page.Contents = stream
            page.stream = None


def new_canvas(out: object, pagesize: tuple[float, float], title: str) -> Canvas:
    register_fonts()
    rl_config.useA85 = 0  # binary streams: ASCII85 only bloats and slows compressed pages
    # invariant: no timestamps or random ids, so the same data gives the same bytes (hash)
    canvas = CompactCanvas(out, pagesize=pagesize, pageCompression=0, invariant=1)
    canvas.setTitle(title)
    canvas.setCreator("Shipdesk")
    return canvas


def money(value: Decimal) -> str:
    """``1 500,00`` — rubles with kopecks, Russian grouping."""
    sign = "-" if value < 0 else ""
    whole, frac = f"{abs(value):.2f}".split(".")
    groups: list[str] = []
    while whole:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    return f"{sign}{' '.join(groups)},{frac}"


def kg(weight_g: int) -> str:
    return f"{weight_g / 1000:.3f}".replace(".", ",")


def draw_fitted(canvas: Canvas, text: str, box: Box, *, font: str = REGULAR,
                max_size: float = 10, min_size: float = 5, block: str = "") -> float:
    """Draws ``text`` wrapped and shrunk into ``box`` from its top; returns the height used.
    Raises ``TextDoesNotFit`` instead of cutting anything off."""
    fitted = fit_text(text, font, round(box.w, 2), round(box.h, 2), max_size, min_size,
                      block or box.name)
    canvas.setFont(font, fitted.size)
    y = box.top - fitted.size
    for line in fitted.lines:
        canvas.drawString(box.x, y, line)
        y -= fitted.leading
    return len(fitted.lines) * fitted.leading


def draw_block(canvas: Canvas, box: Box, recorder: LayoutRecorder | None, *,
               border: bool = True) -> None:
    if border:
        canvas.rect(box.x, box.y, box.w, box.h, stroke=1, fill=0)
    if recorder is not None:
        recorder.add(box)


def caption(canvas: Canvas, text: str, x: float, y: float, size: float = 6.5) -> None:
    canvas.setFont(BOLD, size)
    canvas.drawString(x, y, text)
