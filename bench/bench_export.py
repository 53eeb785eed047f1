"""The shipments list exported with its filters: 50,000 rows as CSV and XLSX, rows per
second (targets: CSV ≥ 5,000 rows/s, XLSX ≥ 1,000 rows/s — openpyxl's write-only
mode costs about a millisecond a row) and the peak memory growth
(the rows are streamed, never all in memory).
Run: ``.venv/bin/python bench/bench_export.py`` (or ``python bench/run.py export``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import peak_rss_mib, result, setup

ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "50000"))


def main() -> None:
    vendor = setup()
    from shipdesk.shipments import export
    from shipdesk.shipments.models import Shipment, State
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Role

    user = tenancy.user_create(email="bench@example.test", password="Bench-Pass-123")
    org = tenancy.organization_create(owner=user, name="Бенч")
    actor = tenancy.Actor(organization=org, role=Role.OWNER, user=user)
    for start in range(0, ROWS, 5000):
        Shipment.objects.bulk_create([Shipment(
            organization=org, order_number=f"E-{i:06d}", state=State.READY,
            carrier_code="russian_post", service_code="POSTAL_PARCEL",
            recipient_surname="Петров", recipient_given_name="Пётр",
            recipient_phone="+79161234567", index="644010", region="Омская обл.", city="г. Омск",
            street="ул. Ленина", house=str(i % 90 + 1), weight_g=500 + i % 3000,
            declared_value=Decimal("1000.00"), cod_amount=Decimal("990.00"),
            shipping_cost=Decimal("321.50"), comment="=1+1" if i % 100 == 0 else "")
            for i in range(start, min(start + 5000, ROWS))])
    filters = {"state": "ready"}
    rss = peak_rss_mib()
    started = time.perf_counter()
    size = sum(len(chunk) for chunk in export.csv_chunks(actor=actor, filters=filters))
    csv_rate = ROWS / (time.perf_counter() - started)
    csv_growth = peak_rss_mib() - rss
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        export.write_xlsx(actor=actor, filters=filters, out=out)
        xlsx_rate = ROWS / (time.perf_counter() - started)
    growth = peak_rss_mib() - rss
    note = f"{vendor}, {ROWS} rows, csv {size // 1024} KiB"
    result("export_csv_rows_per_s", csv_rate, "rows/s", ">=", 5_000, note)
    result("export_xlsx_rows_per_s", xlsx_rate, "rows/s", ">=", 1_000, note)
    print(f"INFO export_csv_peak_rss_growth {csv_growth:.1f} MiB {note}", flush=True)
    print(f"INFO export_peak_rss_growth {growth:.1f} MiB {note}", flush=True)


if __name__ == "__main__":
    main()
