"""Address labels (F7p-style): thermal 100×150 mm, one per page, or A4 with four per page."""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from functools import lru_cache
from itertools import islice
from typing import BinaryIO

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from shipdesk.documents.rendering.barcodes import (
    QrPath,
    draw_linear,
    draw_qr,
    human_text,
    qr_paths,
    qr_payload,
)
from shipdesk.documents.rendering.common import (
    caption,
    draw_fitted,
    kg,
    money,
    new_canvas,
)
from shipdesk.documents.rendering.data import LabelData
from shipdesk.documents.rendering.fonts import BOLD, REGULAR
from shipdesk.documents.rendering.layout import Box, LayoutRecorder, TextDoesNotFit

THERMAL = (100 * mm, 150 * mm)
LAYOUTS = ("thermal", "a4")
_GAP = 1.5 * mm
_PAD = 1.5 * mm

# (block, share of the label's height), top to bottom; "index" and "qr" share one row.
_ROWS: tuple[tuple[str, float], ...] = (
    ("header", 0.065),
    ("sender", 0.165),
    ("recipient", 0.25),
    ("index", 0.175),
    ("info", 0.11),
    ("barcode", 0.235),
)


@lru_cache(maxsize=16)
def label_boxes(frame: Box) -> dict[str, Box]:
    """The blocks of one label inside ``frame`` (computed once per frame position)."""
    usable = frame.h - _GAP * (len(_ROWS) - 1)
    boxes: dict[str, Box] = {}
    top = frame.top
    for name, share in _ROWS:
        h = usable * share
        y = top - h
        if name == "index":
            qr_side = h
            boxes["index"] = Box("index", frame.x, y, frame.w - qr_side - _GAP, h)
            boxes["qr"] = Box("qr", frame.right - qr_side, y, qr_side, h)
        else:
            boxes[name] = Box(name, frame.x, y, frame.w, h)
        top = y - _GAP
    return boxes


_BIG_CAPTIONS = {"post": "Индекс получателя", "courier": "Пункт выдачи / город"}


def _static_form(canvas: Canvas, frame: Box, boxes: dict[str, Box], style: str) -> str:
    """What every label of this style in this frame shares (block borders, captions),
    drawn once per document as a form XObject and placed on each label."""
    name = f"label-{style}-{frame.x:.0f}-{frame.y:.0f}-{frame.w:.0f}-{frame.h:.0f}"
    made: set[str] = canvas.__dict__.setdefault("_shipdesk_forms", set())
    if name not in made:
        canvas.beginForm(name)
        canvas.setLineWidth(0.6)
        for box in boxes.values():
            canvas.rect(box.x, box.y, box.w, box.h, stroke=1, fill=0)
        for block, title in (("sender", "От кого:"), ("recipient", "Кому:"),
                             ("index", _BIG_CAPTIONS[style])):
            inner = boxes[block].inset(_PAD)
            caption(canvas, title, inner.x, inner.top - 6.5)
        canvas.endForm()
        made.add(name)
    return name


def _party(canvas: Canvas, box: Box, name: str, lines: str, index: str,
           phone: str, block: str) -> None:
    inner = box.inset(_PAD)
    text_top = inner.top - 8.5
    name_box = Box(block + ".name", inner.x, text_top - inner.h * 0.3, inner.w, inner.h * 0.3)
    used = draw_fitted(canvas, name, name_box, font=BOLD, max_size=10, min_size=5.5,
                       block=block + ".name")
    rest_top = text_top - used - 1
    tail = "  ".join(p for p in (f"Индекс: {index}" if index else "",
                                 f"Тел.: {phone}" if phone else "") if p)
    tail_h = 9.0 if tail else 0.0
    addr_box = Box(block + ".address", inner.x, inner.y + tail_h, inner.w,
                   rest_top - inner.y - tail_h)
    draw_fitted(canvas, lines, addr_box, max_size=9, min_size=5, block=block + ".address")
    if tail:
        canvas.setFont(REGULAR, 7.5)
        canvas.drawString(inner.x, inner.y + 1, tail)


def label_qr_payload(label: LabelData) -> str:
    return qr_payload(label.tracking_number, label.recipient.index, label.weight_g,
                      label.declared_value, label.cod_amount, label.order_number)


def draw_label(canvas: Canvas, label: LabelData, frame: Box,
               recorder: LayoutRecorder | None = None,
               qr: QrPath | None = None) -> None:
    boxes = label_boxes(frame)
    canvas.doForm(_static_form(canvas, frame, boxes, label.style))
    if recorder is not None:
        for box in boxes.values():
            recorder.add(box)

    header = boxes["header"].inset(_PAD)
    canvas.setFont(BOLD, 8)
    head = " · ".join(p for p in (label.carrier_name, label.mail_type, label.mail_category) if p)
    draw_fitted(canvas, head, Box("header.text", header.x, header.y, header.w - 30, header.h),
                font=BOLD, max_size=8, min_size=5, block="header")
    canvas.setFont(BOLD, 9)
    canvas.drawRightString(header.right, header.y + 2, label.form_code)

    # abroad, the last line of the address is the country (UPU): "GERMANY DE"
    recipient_lines = "\n".join(p for p in (label.recipient.address, label.destination) if p)
    try:
        _party(canvas, boxes["sender"], label.sender.name, label.sender.address,
               label.sender.index, label.sender.phone, "sender")
        _party(canvas, boxes["recipient"], label.recipient.name,
               recipient_lines, label.recipient.index, label.recipient.phone,
               "recipient")
    except TextDoesNotFit as exc:
        raise TextDoesNotFit(f"{label.tracking_number}: {exc.block}", exc.text) from exc

    index_box = boxes["index"].inset(_PAD)
    if label.style == "courier":
        big = label.pickup_point or label.city or label.recipient.index or "—"
        text_h = index_box.h - 9
        address = label.pickup_point_address if label.pickup_point else ""
        big_h = text_h * 0.5 if address else text_h
        draw_fitted(canvas, big, Box("index.text", index_box.x, index_box.top - 9 - big_h,
                                     index_box.w, big_h), font=BOLD, max_size=28, min_size=8,
                    block=f"{label.tracking_number}: index")
        if address:
            draw_fitted(canvas, address, Box("index.address", index_box.x, index_box.y,
                                             index_box.w, text_h - big_h),
                        max_size=8, min_size=4.5,
                        block=f"{label.tracking_number}: pickup point address")
    else:
        digits = label.recipient.index or "—"
        size = min(index_box.h - 10, index_box.w / (0.62 * max(len(digits), 6)))
        canvas.setFont(BOLD, size)
        canvas.drawString(index_box.x, index_box.y + 2, digits)

    qr_box = boxes["qr"].inset(1)
    draw_qr(canvas, label_qr_payload(label), qr_box.x, qr_box.y, min(qr_box.w, qr_box.h), qr)

    info = boxes["info"].inset(_PAD)
    canvas.setFont(REGULAR, 8)
    line_h = info.h / 3
    canvas.drawString(info.x, info.top - line_h + 2, f"Вес: {kg(label.weight_g)} кг")
    canvas.drawString(info.x + info.w / 2, info.top - line_h + 2, f"Заказ: {label.order_number}")
    canvas.drawString(info.x, info.top - 2 * line_h + 2,
                      f"Объявленная ценность: {money(label.declared_value)} руб.")
    canvas.setFont(BOLD, 8)
    canvas.drawString(info.x, info.top - 3 * line_h + 2,
                      f"Наложенный платёж: {money(label.cod_amount)} руб.")
    if label.marks:
        canvas.setFont(REGULAR, 7)
        canvas.drawRightString(info.right, info.top - 3 * line_h + 2, ", ".join(label.marks))

    bar = boxes["barcode"].inset(_PAD)
    text_h = 12
    bar_x, bar_w = draw_linear(canvas, label.tracking_number, bar.x, bar.y + text_h, bar.w,
                               bar.h - text_h, label.symbology)
    if recorder is not None:
        recorder.add(Box("barcode.bars", bar_x, bar.y + text_h, bar_w, bar.h - text_h))
    canvas.setFont(BOLD, 10)
    shown = human_text(label.tracking_number) if label.style == "post" else label.tracking_number
    canvas.drawCentredString(bar.x + bar.w / 2, bar.y + 1.5, shown)


def _frames(layout: str) -> tuple[tuple[float, float], list[Box]]:
    if layout == "thermal":
        w, h = THERMAL
        return THERMAL, [Box("label", 3 * mm, 3 * mm, w - 6 * mm, h - 6 * mm)]
    if layout == "a4":
        w, h = A4
        cw, ch = w / 2, h / 2
        frames = [Box("label", col * cw + 5 * mm, (1 - row) * ch + 5 * mm, cw - 10 * mm,
                      ch - 10 * mm) for row in range(2) for col in range(2)]
        return A4, frames
    raise ValueError(f"unknown label layout {layout!r}")


_WINDOW = 256


def _with_qr(labels: Iterable[LabelData], workers: int
             ) -> Iterator[tuple[LabelData, QrPath | None]]:
    """Pairs each label with its QR code. With ``workers > 1`` the codes (the costliest
    part of a label) are computed in a helper process one window ahead of the drawing, so
    both cores work; at most two windows are in flight (bounded memory). Daemonic
    processes (a Celery prefork child) cannot have children: they compute in-line."""
    if workers <= 1 or multiprocessing.current_process().daemon:
        for label in labels:
            yield label, None
        return
    source = iter(labels)
    # forkserver: a clean helper (no copied threads, locks or database connections)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=context) as pool:
        pending: deque[tuple[list[LabelData], Future[list[QrPath]]]] = deque()

        def submit() -> None:
            chunk = list(islice(source, _WINDOW))
            if chunk:
                pending.append((chunk, pool.submit(qr_paths,
                                                   [label_qr_payload(x) for x in chunk])))

        submit()
        submit()
        while pending:
            chunk, future = pending.popleft()
            submit()
            yield from zip(chunk, future.result(), strict=True)


def draw_labels(canvas: Canvas, labels: Iterable[LabelData], *, layout: str = "thermal",
                recorder: LayoutRecorder | None = None,
                progress: Callable[[int], None] | None = None, workers: int = 1) -> int:
    """Draws the labels as pages onto ``canvas`` (pages are finished as they go); returns
    how many were drawn."""
    pagesize, frames = _frames(layout)
    count = 0
    slot = len(frames)
    for label, qr in _with_qr(labels, workers):
        if slot == len(frames):
            if count:
                canvas.showPage()
            canvas.setPageSize(pagesize)
            canvas.setLineWidth(0.6)
            if recorder is not None:
                recorder.page(*pagesize)
            slot = 0
        draw_label(canvas, label, frames[slot], recorder, qr)
        slot += 1
        count += 1
        if progress is not None and count % 100 == 0:
            progress(count)
    if count:
        canvas.showPage()
    return count


def render_labels(labels: Iterable[LabelData], out: BinaryIO, *, layout: str = "thermal",
                  recorder: LayoutRecorder | None = None,
                  progress: Callable[[int], None] | None = None, workers: int = 1) -> int:
    pagesize = _frames(layout)[0]
    canvas = new_canvas(out, pagesize, "Адресные ярлыки")
    count = draw_labels(canvas, labels, layout=layout, recorder=recorder, progress=progress,
                        workers=workers)
    canvas.save()
    return count
