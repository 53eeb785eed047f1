""""Print the batch": one PDF with everything, in the order the operator works —
the F103 list (or a courier service's hand-over act) first (it goes to the counter with the
parcels), then every label (A4, four per page, in batch order), then each parcel's forms in
batch order: customs declaration, COD money transfer (F112EP), inventory (F107)."""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

from reportlab.lib.pagesizes import A4

from shipdesk.documents.rendering.act import draw_act
from shipdesk.documents.rendering.common import new_canvas
from shipdesk.documents.rendering.data import BatchPrintData
from shipdesk.documents.rendering.forms import draw_cod_transfer, draw_customs, draw_inventory
from shipdesk.documents.rendering.labels import draw_labels
from shipdesk.documents.rendering.layout import LayoutRecorder
from shipdesk.documents.rendering.registry import draw_registry


def render_batch(data: BatchPrintData, out: BinaryIO, *, label_layout: str = "a4",
                 recorder: LayoutRecorder | None = None,
                 progress: Callable[[int], None] | None = None, workers: int = 1) -> None:
    number = data.registry.number if data.registry else data.act.number if data.act else ""
    canvas = new_canvas(out, A4, f"Партия {number}")
    if data.registry is not None:
        draw_registry(canvas, data.registry, recorder)
    if data.act is not None:
        draw_act(canvas, data.act, recorder)
    draw_labels(canvas, data.labels, layout=label_layout, recorder=recorder, progress=progress,
                workers=workers)
    for forms in data.forms:
        if forms.customs is not None:
            draw_customs(canvas, forms.customs, recorder)
        if forms.cod_transfer is not None:
            draw_cod_transfer(canvas, forms.cod_transfer, recorder)
        if forms.inventory is not None:
            draw_inventory(canvas, forms.inventory, recorder)
    canvas.save()
