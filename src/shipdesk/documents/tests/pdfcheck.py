"""Reading generated PDFs as a person and a scanner would."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp
from PIL import Image

from shipdesk.documents.rendering.layout import LayoutRecorder


def page_texts(pdf: bytes) -> list[str]:
    doc = pdfium.PdfDocument(pdf)
    try:
        texts = []
        for page in doc:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
            page.close()
        return texts
    finally:
        doc.close()


def rasterise(pdf: bytes, dpi: int = 300, pages: list[int] | None = None) -> list[Image.Image]:
    doc = pdfium.PdfDocument(pdf)
    try:
        wanted = range(len(doc)) if pages is None else pages
        return [doc[i].render(scale=dpi / 72).to_pil() for i in wanted]
    finally:
        doc.close()


def decode(image: Image.Image) -> list[tuple[str, str]]:
    """(format, text) of every barcode found on the image."""
    return [(r.format.name, r.text) for r in zxingcpp.read_barcodes(image)]


def save_png(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


def assert_layout_sane(recorder: LayoutRecorder, *, ignore_prefixes: tuple[str, ...] = ()) -> int:
    """Every recorded block inside its page; no two top-level blocks on a page overlap
    (a block named ``a.b`` lives inside ``a`` and is only checked against the page).
    Returns the number of boxes checked."""
    checked = 0
    for n, page in enumerate(recorder.pages):
        top_level = []
        for box in page.boxes:
            assert box.inside(page.page), f"page {n}: {box} is outside the page"
            checked += 1
            if "." not in box.name and not box.name.startswith(ignore_prefixes):
                top_level.append(box)
        for i, a in enumerate(top_level):
            for b in top_level[i + 1:]:
                assert not a.overlaps(b), f"page {n}: {a} overlaps {b}"
    return checked
