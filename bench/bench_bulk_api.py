"""Bulk API: 10,000 shipments in one POST /api/v1/shipments/bulk (target <= 2 s), and single
creates paced at 100 requests/s (target p99 <= 50 ms). Through the whole Django stack
(middleware, API key auth, idempotency, schemas) with the test client, on PostgreSQL.

    .venv/bin/python bench/bench_bulk_api.py
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _setup  # noqa: E402

URL = os.environ.get("BENCH_BULK_API_DB",
                     "postgres://postgres@127.0.0.1:5432/sd_shipments_bulk_bench")
BULK = 10_000
SINGLES = int(os.environ.get("BENCH_SINGLES", "1000"))
RATE = 100.0  # requests per second


def item(n: int, rng: random.Random) -> dict[str, object]:
    value = rng.choice(("0", "990.00", "2500.50"))
    return {
        "order_number": f"API-{n:07d}", "service_code": "POSTAL_PARCEL",
        "recipient_name": "Иванов Иван Иванович", "recipient_phone": f"+79{rng.randrange(10**9):09d}",
        "index": "644010", "region": "Омская обл.", "city": "Омск", "street": "ул. Ленина",
        "house": str(rng.randrange(1, 100)), "apartment": str(rng.randrange(1, 300)),
        "weight_g": rng.randrange(100, 10000), "declared_value": value, "cod_amount": value,
        "items": [{"name": "Книга", "quantity": 1, "unit_price": value}],
    }


def main() -> None:
    vendor = _setup.setup(URL if _setup.postgres_available(URL) else None)
    from django.test import Client

    from shipdesk.numbering.services import pool_create
    from shipdesk.numbering.validation import rp14_compose
    from shipdesk.shipments.models import SenderProfile, Shipment
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.services import system_actor

    user = tenancy.user_create(email="bench@example.test", password="Bench-Password-42")
    org = tenancy.organization_create(owner=user, name="Bench")
    actor = system_actor(org)
    SenderProfile.objects.create(organization=org, name="Склад", index="101000", city="Москва",
                                 is_default=True)
    pool_create(actor=actor, carrier_code="russian_post",
                first_number=rp14_compose("800998", "01", 0),
                last_number=rp14_compose("800998", "01", 99999))
    _key, plain = tenancy.api_key_create(actor=actor, name="bench")
    client = Client(headers={"X-API-Key": plain})
    rng = random.Random(5)

    body = json.dumps({"items": [item(n, rng) for n in range(BULK)]})
    client.post("/api/v1/shipments/bulk", json.dumps({"items": [item(10**6, rng)]}),
                content_type="application/json")  # warm up: imports, caches, connection
    started, cpu = time.perf_counter(), time.process_time()
    response = client.post("/api/v1/shipments/bulk", body, content_type="application/json")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = response.json()
    assert response.status_code == 200 and result["created"] == BULK, (response.status_code,
                                                                      str(result)[:500])
    print(f"{vendor}: {BULK} shipments in one call: {elapsed:.2f} s (this process's CPU "
          f"{cpu:.2f} s; load average {os.getloadavg()[0]:.1f})", flush=True)
    _setup.result("bulk_api_10k_seconds", elapsed, "s", "<=", 2)

    latencies = []
    cpu = time.process_time()
    start = time.perf_counter()
    for n in range(SINGLES):
        due = start + n / RATE
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        body = json.dumps(item(2 * 10**6 + n, rng))
        t0 = time.perf_counter()
        response = client.post("/api/v1/shipments/", body, content_type="application/json")
        latencies.append(time.perf_counter() - t0)
        assert response.status_code == 201, response.content[:300]
    achieved = SINGLES / (time.perf_counter() - start)
    cpu_ms = (time.process_time() - cpu) / SINGLES * 1000
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    print(f"{SINGLES} single creates at {achieved:.0f} req/s: p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"CPU {cpu_ms:.1f} ms per request (load average {os.getloadavg()[0]:.1f}); "
          f"stored {Shipment.objects.count()}",
          flush=True)
    _setup.result("api_single_create_p99_ms", p99, "ms", "<=", 50, f"at {achieved:.0f} req/s")


if __name__ == "__main__":
    main()
