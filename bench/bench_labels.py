"""10,000 address labels into one PDF: throughput (≥ 1,000 labels/s) and peak memory.

Labels come from a generator (as they do from the database, in chunks) and pages are
drawn one after another onto one reportlab canvas written to a file; with more than one
core a helper process computes the QR matrices one window ahead of the drawing.
Run: ``.venv/bin/python bench/bench_labels.py`` (or ``python bench/run.py labels``).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import peak_rss_mib, result
from shipdesk.documents.rendering.data import LabelData, PartyData
from shipdesk.documents.rendering.labels import render_labels

COUNT = int(os.environ.get("BENCH_LABELS", "10000"))
SENDER = PartyData(name="ООО «Ромашка»", address="г. Москва, ул. Тверская, д. 1, офис 5",
                   index="101000", phone="+74951234567")


def rp14(serial: int) -> str:
    body = f"10100062{serial % 100000:05d}"
    odd = sum(int(c) for c in body[0::2])
    even = sum(int(c) for c in body[1::2])
    return body + str((10 - (odd * 3 + even) % 10) % 10)


def labels(count: int) -> Iterator[LabelData]:
    for i in range(count):
        number = rp14(i) if i % 2 == 0 else f"RA{i:08d}0RU"
        yield LabelData(
            tracking_number=number, order_number=f"ORD-{i:06d}", carrier_name="Почта России",
            mail_type="Посылка онлайн", mail_category="С объявленной ценностью",
            sender=SENDER,
            recipient=PartyData(name=f"Иванов Иван Иванович {i}",
                                address=f"Московская обл., г. Химки, ул. Молодёжная, д. {i % 90 + 1}, "
                                        f"корп. 3, кв. {i % 300 + 1}",
                                index=f"{141400 + i % 100:06d}", phone="+79161234567"),
            weight_g=500 + i % 3000, declared_value=Decimal(i % 5000), cod_amount=Decimal(i % 700),
            marks=("Осторожно",) if i % 3 == 0 else ())


def main() -> None:
    workers = min(2, os.cpu_count() or 1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.pdf"
        render_labels(labels(50), io.BytesIO(), workers=1)  # warm fonts and caches
        rss_before = peak_rss_mib()
        started = time.perf_counter()
        cpu_started = time.process_time()
        with open(path, "wb") as out:
            count = render_labels(labels(COUNT), out, layout="thermal", workers=workers)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        load = os.getloadavg()[0]
        size_mib = path.stat().st_size / 2**20
    result("labels_per_second", count / elapsed, "labels/s", ">=", 1000,
           f"({count} labels in {elapsed:.2f} s, {workers} processes, file {size_mib:.1f} MiB; "
           f"drawing process {count / cpu:.0f} labels per CPU-second; load average {load:.1f})")
    result("labels_peak_rss", peak_rss_mib(), "MiB", "<=", 400,
           f"(before: {rss_before:.0f} MiB)")


if __name__ == "__main__":
    main()
