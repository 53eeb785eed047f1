"""Batch documents from the database: F103 for a 1,000-parcel batch (≤ 1 s) and "print the
batch" for 1,000 parcels (≤ 3 s), each timed from reading the batch to the finished PDF.
Run: ``BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sd_documents_bench
.venv/bin/python bench/bench_documents.py`` (or ``python bench/run.py documents``); a
database of its own, since the shared default one is recreated by other benchmarks.
"""

from __future__ import annotations

import io
import os
import sys
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import peak_rss_mib, result, setup

PARCELS = int(os.environ.get("BENCH_PARCELS", "1000"))


def main() -> None:
    vendor = setup()
    from shipdesk.documents import selectors, services
    from shipdesk.documents.rendering.bundle import render_batch
    from shipdesk.documents.rendering.registry import render_registry_pdf
    from shipdesk.numbering.validation import rp14_compose
    from shipdesk.shipments.models import SenderProfile, Shipment, ShipmentItem, State
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Role

    user = tenancy.user_create(email="bench@example.test", password="Bench-Pass-123")
    org = tenancy.organization_create(owner=user, name="Бенч", inn="7707083893")
    actor = tenancy.Actor(organization=org, role=Role.OWNER, user=user)
    sender = SenderProfile.objects.create(organization=org, name="Склад", company="ООО «Бенч»",
                                          index="101000", city="г. Москва", street="ул. Тверская",
                                          house="1")
    shipments = Shipment.objects.bulk_create([Shipment(
        organization=org, order_number=f"B-{i:05d}", state=State.NUMBERED, sender=sender,
        carrier_code="russian_post", service_code="ONLINE_PARCEL", mail_category="ORDINARY",
        recipient_surname="Петров", recipient_given_name="Пётр", recipient_patronymic=f"№{i}",
        recipient_phone="+79161234567", index=f"{141400 + i % 100:06d}",
        region="Московская обл.", city="г. Химки", street="ул. Молодёжная", house=str(i % 90 + 1),
        apartment=str(i % 300 + 1), weight_g=500 + i, declared_value=Decimal("1000.00"),
        cod_amount=Decimal("990.00") if i % 4 == 0 else Decimal("0"),
        options={"inventory": True} if i % 10 == 0 else {},
        shipping_cost=Decimal("321.50"), tracking_number=rp14_compose("101000", "62", i))
        for i in range(PARCELS)])
    ShipmentItem.objects.bulk_create([
        ShipmentItem(shipment=s, name="Чайник", quantity=1, unit_price=Decimal("990.00"))
        for s in shipments])
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk for s in shipments],
                                  shipping_date=date(2026, 11, 23))[0]
    batch = selectors.batch_get(actor=actor, batch_id=batch.pk)

    started, cpu = time.perf_counter(), time.process_time()
    pdf = render_registry_pdf(selectors.registry_data(batch))
    f103, f103_cpu = time.perf_counter() - started, time.process_time() - cpu
    result("f103_1000_parcels", f103, "s", "<=", 1.0,
           f"({PARCELS} parcels, {len(pdf) / 2**20:.1f} MiB, {vendor}; "
           f"{f103_cpu:.2f} CPU-s in this process)")

    started, cpu = time.perf_counter(), time.process_time()
    out = io.BytesIO()
    render_batch(selectors.batch_print_data(batch), out, workers=min(2, os.cpu_count() or 1))
    whole, whole_cpu = time.perf_counter() - started, time.process_time() - cpu
    result("print_batch_1000_parcels", whole, "s", "<=", 3.0,
           f"(F103 + {PARCELS} labels + F112EP/F107 forms, {out.tell() / 2**20:.1f} MiB; "
           f"{whole_cpu:.2f} CPU-s in the drawing process; load average "
           f"{os.getloadavg()[0]:.1f})")
    result("documents_peak_rss", peak_rss_mib(), "MiB", "<=", 600)


if __name__ == "__main__":
    main()
