"""The recipient's public tracking page under load: 200 requests/s for 15 s against the
real app served by gunicorn on 127.0.0.1:18610 (PostgreSQL), 2,000 different parcels with
their events. Target p99 ≤ 20 ms.

Latency is measured from each request's *scheduled* time (open-loop: a slow answer does not
delay the next request's clock), so queueing shows in the figure.
"""

from __future__ import annotations

import http.client
import os
import random
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

PARCELS = 2000
RATE = int(os.environ.get("BENCH_TRACKING_PAGE_RATE", "200"))
SECONDS = int(os.environ.get("BENCH_TRACKING_PAGE_SECONDS", "15"))
PORT = int(os.environ.get("BENCH_TRACKING_PAGE_PORT", "18610"))
CLIENT_THREADS = 48



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

    src = str(Path(__file__).resolve().parent.parent / "src")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "shipdesk.wsgi:application", "-b",
         f"127.0.0.1:{PORT}", "-w", "3", "--threads", "2", "--log-level", "warning"],
        env={**os.environ, "PYTHONPATH": src, "SHIPDESK_DEBUG": "false",
             "DATABASE_CONN_MAX_AGE": "600",  # scale-out setting: persistent connections
             "SHIPDESK_ALLOWED_HOSTS": "127.0.0.1,localhost"})
    try:
        _setup.wait_for_port(PORT)
        local = threading.local()

        def get(path: str) -> int:
            conn = getattr(local, "conn", None)
            if conn is None:
                conn = local.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
            try:
                conn.request("GET", path, headers={"Host": "127.0.0.1"})
                resp = conn.getresponse()
                resp.read()
                return resp.status
            except (OSError, http.client.HTTPException):
                local.conn = None
                conn.close()
                return 0

        for t in tokens[:100]:  # warm-up: every worker process has imported and connected
            assert get(f"/tracking/t/{t}/") == 200
        rnd = random.Random(3)
        total = RATE * SECONDS
        plan = [rnd.choice(tokens) for _ in range(total)]
        latencies: list[float] = [0.0] * total
        statuses: list[int] = [0] * total
        t0 = time.perf_counter() + 0.5
        next_index = iter(range(total))
        lock = threading.Lock()

        def client() -> None:
            while True:
                with lock:
                    i = next(next_index, None)
                if i is None:
                    return
                due = t0 + i / RATE
                wait = due - time.perf_counter()
                if wait > 0:
                    time.sleep(wait)
                statuses[i] = get(f"/tracking/t/{plan[i]}/")
                latencies[i] = time.perf_counter() - due

        threads = [threading.Thread(target=client) for _ in range(CLIENT_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        ok = sum(1 for s in statuses if s == 200)
        ordered = sorted(latencies)
        p50, p99 = ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.99) - 1]
        print(f"vendor={vendor} requests={total} ok={ok} achieved={total / elapsed:.0f}/s "
              f"p50={p50 * 1000:.1f}ms p99={p99 * 1000:.1f}ms max={ordered[-1] * 1000:.1f}ms",
              flush=True)
        assert ok == total, f"{total - ok} requests failed"
        _setup.result("tracking_page_p99_ms", p99 * 1000, "ms", "<=", 20,
                      f"{vendor}, {RATE} req/s for {SECONDS} s, gunicorn 3x2")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
