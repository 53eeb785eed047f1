"""Paged tables of a batch's parcels (form F103, a courier service's hand-over act).

Rows grow to fit their longest cell: nothing is shrunk or cut. The column header repeats on
every sheet, each sheet is numbered, and the totals and signatures follow the last row —
on a sheet of their own when they don't fit under it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfgen.canvas import Canvas

from shipdesk.documents.rendering.common import draw_block
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, LayoutRecorder, wrap

PAGE = landscape(A4)
MARGIN = 28.0
_TITLE_H = 70.0  # the first sheet's title block
_HEADER_ROW_H = 22.0

# (key, title, width pt, numeric — right-aligned)
Column = tuple[str, str, float, bool]


@dataclass(frozen=True)
class ParcelTable:
    columns: tuple[Column, ...]
    wrapped: tuple[str, ...]  # the columns whose text wraps onto more lines
    font_size: float
    leading: float
    min_lines: int  # every row is at least this many lines high
    row_padding: float
    totals_h: float
    signatures_h: float


def _sheet(canvas: Canvas, table: ParcelTable, page_no: int,
           title: Callable[[Canvas, float], None] | None,
           recorder: LayoutRecorder | None) -> float:
    """Starts a sheet: the title block on the first, its number, the column header.
    Returns where the first row goes."""
    width, height = PAGE
    canvas.setPageSize(PAGE)
    if recorder is not None:
        recorder.page(width, height)
    canvas.setLineWidth(0.5)
    top = height - MARGIN
    if title is not None:
        draw_block(canvas, Box("header", MARGIN, top - _TITLE_H, width - 2 * MARGIN, _TITLE_H),
                   recorder, border=False)
        title(canvas, top)
        top -= _TITLE_H + 6
    canvas.setFont(REGULAR, 7)
    canvas.drawRightString(width - MARGIN, MARGIN - 14, f"Лист {page_no}")
    header = Box("table.header", MARGIN, top - _HEADER_ROW_H, width - 2 * MARGIN,
                 _HEADER_ROW_H)
    draw_block(canvas, header, recorder)
    canvas.setFont(BOLD, 6.5)
    x = MARGIN
    for _key, name, w, _numeric in table.columns:
        y = header.top - 8
        for line in wrap(name, BOLD, 6.5, w - 4)[:2]:
            canvas.drawString(x + 2, y, line)
            y -= 7.5
        canvas.line(x, header.y, x, header.top)
        x += w
    return header.y


def draw_parcel_table(canvas: Canvas, table: ParcelTable, *,
                      rows: Iterable[tuple[int, dict[str, str]]],
                      title: Callable[[Canvas, float], None],
                      totals: Sequence[str],
                      signatures: Callable[[Canvas, Box], None],
                      recorder: LayoutRecorder | None = None) -> int:
    """Draws the table's sheets onto ``canvas``: ``rows`` are (position, cells by column
    key); ``title`` draws the first sheet's title block from its top edge; ``signatures``
    fills its box under the totals. Returns the number of sheets."""
    width, height = PAGE
    table_w = width - 2 * MARGIN
    widths = {key: w for key, _name, w, _numeric in table.columns}
    page_no = 1
    y = _sheet(canvas, table, page_no, title, recorder)
    for position, cells in rows:
        wrapped = {k: wrap(cells[k], REGULAR, table.font_size, widths[k] - 4)
                   for k in table.wrapped}
        lines = max(table.min_lines, *(len(v) for v in wrapped.values()))
        row_h = lines * table.leading + table.row_padding
        if y - row_h < MARGIN:
            canvas.showPage()
            page_no += 1
            y = _sheet(canvas, table, page_no, None, recorder)
        box = Box(f"row.{position}", MARGIN, y - row_h, table_w, row_h)
        draw_block(canvas, box, recorder)
        canvas.setFont(REGULAR, table.font_size)
        x = MARGIN
        for key, _name, w, numeric in table.columns:
            ty = box.top - table.font_size - 1.5
            for line in wrapped.get(key, [cells[key]]):
                if numeric:
                    canvas.drawRightString(x + w - 2, ty, line)
                else:
                    canvas.drawString(x + 2, ty, line)
                ty -= table.leading
            canvas.line(x, box.y, x, box.top)
            x += w
        y = box.y
    if y - table.totals_h - table.signatures_h < MARGIN:
        canvas.showPage()
        page_no += 1
        canvas.setPageSize(PAGE)
        if recorder is not None:
            recorder.page(width, height)
        y = height - MARGIN
    box = Box("totals", MARGIN, y - table.totals_h, table_w, table.totals_h - 4)
    draw_block(canvas, box, recorder, border=False)
    canvas.setFont(BOLD, 8)
    ty = box.top - 9
    for line in totals:
        canvas.drawString(box.x + 2, ty, line)
        ty -= 11
    sign = Box("signatures", MARGIN, box.y - table.signatures_h, table_w,
               table.signatures_h - 4)
    draw_block(canvas, sign, recorder, border=False)
    canvas.setFont(REGULAR, 8)
    signatures(canvas, sign)
    canvas.showPage()
    return page_no
