"""Bulk API: 10,000 shipments in one POST /api/v1/shipments/bulk (target <= 2 s), through the
whole Django stack (middleware, API key auth, idempotency, schemas) with the test client; and
single creates offered at 100 requests/s (target p99 <= 50 ms) to the app served by gunicorn
as deployed, open loop: each latency runs from the request's scheduled time, so queueing
counts. On PostgreSQL.

    .venv/bin/python bench/bench_bulk_api.py
"""

from __future__ import annotations

import asyncio
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
RATE = float(os.environ.get("BENCH_SINGLES_RATE", "100"))  # requests per second
PORT = int(os.environ.get("BENCH_BULK_API_PORT", "18620"))
# gunicorn worker processes: as deployed (one per core) unless set
WORKERS = os.environ.get("WEB_CONCURRENCY") or str(os.cpu_count() or 2)


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
    from django.db import connection
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

    connection.close()  # the server's workers open their own
    server = _setup.start_gunicorn(PORT, WORKERS)
    try:
        headers = (("X-API-Key", plain), ("Content-Type", "application/json"))

        def creates(first: int, count: int) -> list[_setup.Request]:
            return [_setup.Request("/api/v1/shipments/", "POST",
                                   json.dumps(item(first + n, rng)).encode(), headers)
                    for n in range(count)]

        _setup.wait_until_answers(PORT, "/healthz")
        # warm-up, several at once so that every worker has imported, connected and cached
        warm = asyncio.run(_setup.open_loop(PORT, creates(3 * 10**6, 100), rate=200))[1]
        assert set(warm) == {201}, f"warm-up answers: {set(warm)}"
        started = time.perf_counter()
        latencies, statuses = asyncio.run(_setup.open_loop(PORT, creates(2 * 10**6, SINGLES),
                                                           rate=RATE))
        achieved = SINGLES / (time.perf_counter() - started)
    finally:
        server.terminate()
        server.wait(timeout=30)
    failed = [s for s in statuses if s != 201]
    assert not failed, f"{len(failed)} creates failed: {set(failed)}"
    p50 = statistics.median(latencies) * 1000
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000
    print(f"{SINGLES} single creates offered at {RATE:.0f} req/s (achieved {achieved:.0f}): "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, gunicorn {WORKERS} workers "
          f"(load average {os.getloadavg()[0]:.1f}); stored {Shipment.objects.count()}",
          flush=True)
    _setup.result("api_single_create_p99_ms", p99, "ms", "<=", 50,
                  f"open loop at {RATE:.0f} req/s, gunicorn {WORKERS} workers")


if __name__ == "__main__":
    main()
