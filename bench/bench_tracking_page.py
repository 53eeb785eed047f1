"""The recipient's public tracking page under load: 200 requests/s for 15 s against the
real app served by gunicorn on 127.0.0.1:18610 (PostgreSQL), 2,000 different parcels with
their events. Target p99 ≤ 20 ms.

Latency is measured from each request's *scheduled* time to the last byte of its answer
(open loop: a slow answer does not delay the next request's clock), so queueing shows in the
figure. The load comes from one asyncio thread (not dozens of Python threads fighting for
the GIL on the cores the server needs), over keep-alive connections as a browser or a
load balancer would use them.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

PARCELS = 2000
RATE = int(os.environ.get("BENCH_TRACKING_PAGE_RATE", "200"))
SECONDS = int(os.environ.get("BENCH_TRACKING_PAGE_SECONDS", "15"))
PORT = int(os.environ.get("BENCH_TRACKING_PAGE_PORT", "18610"))
# gunicorn worker processes: as deployed (shipdesk.core.gunicorn_conf: one per core) unless set
WORKERS = os.environ.get("BENCH_TRACKING_PAGE_WORKERS") or os.environ.get("WEB_CONCURRENCY") or str(
    os.cpu_count() or 2)


def main() -> None:
    vendor = _setup.setup()
    from django.db import connection
    from django.utils import timezone

    from shipdesk.carriers.base import TrackingEvent
    from shipdesk.shipments.models import SenderProfile, Shipment, State
    from shipdesk.tenancy.models import Organization
    from shipdesk.tracking.models import PickupOffice, TrackingState
    from shipdesk.tracking.services import tracking_events_ingest
    from shipdesk.tracking.statuses import Status

    org = Organization.objects.create(name="Цветочный магазин")
    sender = SenderProfile.objects.create(organization=org, name="Склад", index="101000",
                                          city="Москва")
    Shipment.objects.bulk_create([Shipment(
        organization=org, order_number=f"W{i}", state=State.HANDED_OVER, carrier_code="bench",
        sender=sender, index="630099", tracking_number=f"7{i:013d}",
        cod_amount=f"{1000 + i}.50") for i in range(PARCELS)])
    start = timezone.now() - timedelta(days=6)
    Shipment.objects.update(created_at=start - timedelta(days=1))
    PickupOffice.objects.create(carrier_code="bench", code="630099", name="Отделение 630099",
                                address="Новосибирск, ул. Ленина, 1", work_hours="пн–пт 8–20")
    flow = [Status.ACCEPTED, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT,
            Status.ARRIVED_AT_PICKUP]
    tracking_events_ingest(events=[TrackingEvent(
        tracking_number=f"7{i:013d}", occurred_at=start + timedelta(hours=20 * k),
        raw_code=f"{k}", raw_text="операция", status=s, location=f"Пункт {k}",
        office_index="630099") for i in range(PARCELS) for k, s in enumerate(flow)])
    tokens = list(TrackingState.objects.values_list("public_token", flat=True))
    assert len(tokens) == PARCELS
    connection.close()

    server = _setup.start_gunicorn(PORT, WORKERS)
    try:
        _setup.wait_until_answers(PORT, f"/tracking/t/{tokens[0]}/")
        # warm-up, many at once so that every worker process has imported and connected
        warm = asyncio.run(_setup.open_loop(PORT, [f"/tracking/t/{t}/" for t in tokens[:200]],
                                            rate=400))
        assert all(s == 200 for s in warm[1]), f"warm-up answers: {set(warm[1])}"
        rnd = random.Random(3)
        plan = [f"/tracking/t/{rnd.choice(tokens)}/" for _ in range(RATE * SECONDS)]
        started = time.perf_counter()
        latencies, statuses = asyncio.run(_setup.open_loop(PORT, plan, rate=RATE))
        elapsed = time.perf_counter() - started
        total = len(plan)
        ok = sum(1 for s in statuses if s == 200)
        ordered = sorted(latencies)
        p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99) - 1]
        print(f"vendor={vendor} requests={total} ok={ok} achieved={total / elapsed:.0f}/s "
              f"p50={p50 * 1000:.1f}ms p99={p99 * 1000:.1f}ms max={ordered[-1] * 1000:.1f}ms "
              f"load={os.getloadavg()[0]:.2f}", flush=True)
        assert ok == total, f"{total - ok} requests failed"
        _setup.result("tracking_page_p99_ms", p99 * 1000, "ms", "<=", 20,
                      f"{vendor}, {RATE} req/s for {SECONDS} s, gunicorn {WORKERS} workers")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
