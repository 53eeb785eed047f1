"""Layout boxes as data, and fitting text into a box (wrap, then shrink; never cut)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from reportlab.pdfbase.pdfmetrics import stringWidth


@dataclass(frozen=True)
class Box:
    """A rectangle in PDF points, origin bottom-left."""

    name: str
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def top(self) -> float:
        return self.y + self.h

    def inset(self, pad: float) -> Box:
        return Box(self.name, self.x + pad, self.y + pad, self.w - 2 * pad, self.h - 2 * pad)

    def overlaps(self, other: Box, tolerance: float = 0.01) -> bool:
        return (self.x + tolerance < other.right and other.x + tolerance < self.right
                and self.y + tolerance < other.top and other.y + tolerance < self.top)

    def inside(self, other: Box, tolerance: float = 0.01) -> bool:
        return (self.x >= other.x - tolerance and self.y >= other.y - tolerance
                and self.right <= other.right + tolerance and self.top <= other.top + tolerance)


@dataclass
class PageLayout:
    width: float
    height: float
    boxes: list[Box] = field(default_factory=list)

    @property
    def page(self) -> Box:
        return Box("page", 0, 0, self.width, self.height)


@dataclass
class LayoutRecorder:
    """Collects the blocks drawn on each page. Renderers call ``page()`` when they start a
    page and ``add()`` for every block; ``None`` recorders cost nothing."""

    pages: list[PageLayout] = field(default_factory=list)

    def page(self, width: float, height: float) -> None:
        self.pages.append(PageLayout(width, height))

    def add(self, box: Box) -> None:
        self.pages[-1].boxes.append(box)


class TextDoesNotFit(ValueError):
    """Text that does not fit its box even wrapped at the smallest allowed size."""

    def __init__(self, block: str, text: str) -> None:
        super().__init__(f"{block}: {text}")
        self.block = block
        self.text = text


@dataclass(frozen=True)
class FittedText:
    size: float
    leading: float
    lines: tuple[str, ...]


def _break_word(word: str, font: str, size: float, width: float) -> list[str]:
    """A word wider than the box (an address pasted without spaces) split between
    characters, so that it wraps instead of running out of the box."""
    pieces: list[str] = []
    current = ""
    for char in word:
        if current and stringWidth(current + char, font, size) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    pieces.append(current)
    return pieces


def wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Greedy word wrap; a word wider than the box is broken between characters."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split():
            candidate = f"{current} {word}" if current else word
            if stringWidth(candidate, font, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            if stringWidth(word, font, size) > width:
                *full, current = _break_word(word, font, size, width)
                lines.extend(full)
            else:
                current = word
        lines.append(current)
    return lines


@lru_cache(maxsize=4096)
def fit_text(text: str, font: str, width: float, height: float, max_size: float,
             min_size: float, block: str = "text") -> FittedText:
    """The largest size (stepping down by 0.5 pt) at which ``text`` wraps into the box.

    Raises :class:`TextDoesNotFit` rather than cutting anything off."""
    size = max_size
    while size >= min_size - 1e-9:
        leading = size * 1.15
        lines = wrap(text, font, size, width)
        if len(lines) * leading <= height + 1e-6:
            return FittedText(size, leading, tuple(lines))
        size -= 0.5
    raise TextDoesNotFit(block, text)
