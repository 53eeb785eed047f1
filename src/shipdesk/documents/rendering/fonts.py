"""The Cyrillic font, from the declared dependency ``fontpkg-pt-sans`` (never a system font)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import fontpkg_pt_sans
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

REGULAR = "PTSans"
BOLD = "PTSans-Bold"

_FILES = {
    REGULAR: "PT_Sans-Web-Regular.ttf",
    BOLD: "PT_Sans-Web-Bold.ttf",
}


def font_dir() -> Path:
    return Path(fontpkg_pt_sans.__file__).resolve().parent / "files"


@cache
def register_fonts() -> tuple[str, str]:
    """Registers PT Sans regular and bold with reportlab once per process."""
    for name, filename in _FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(font_dir() / filename)))
    pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR,
                                  boldItalic=BOLD)
    return REGULAR, BOLD
