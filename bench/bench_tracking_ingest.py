"""Tracking ingest: 1,000,000 carrier events (normalise, dedupe, derive the real status,
flag exceptions, schedule the next poll) on PostgreSQL, target ≥ 50,000 events/s.

100,000 shipments × 10 events, arriving in two waves as polls would bring them (the first
half of each history, then the rest — so the second wave re-derives from the stored
history), in answers of 20,000 events; 3 % of the events are repeats of already seen ones
and 0.5 % carry an unknown code.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

SHIPMENTS = int(os.environ.get("BENCH_TRACKING_SHIPMENTS", "100000"))
# Tracking work runs in parallel Celery workers, each on its own share of the shipments
# (polls are per account / batch): the benchmark does the same, one process per core.
WORKERS = int(os.environ.get("BENCH_TRACKING_WORKERS", str(os.cpu_count() or 1)))
PER = 10
ANSWER = 20_000


def main() -> None:
    vendor = _setup.setup()
    from django.db import connection

    from shipdesk.carriers.base import TrackingEvent
    from shipdesk.shipments.models import SenderProfile, Shipment, State
    from shipdesk.tenancy.models import Organization
    from shipdesk.tracking.models import TrackingEvent as Stored
    from shipdesk.tracking.models import TrackingState
    from shipdesk.tracking.services import tracking_events_ingest
    from shipdesk.tracking.statuses import Status, Substatus

    org = Organization.objects.create(name="Bench")
    sender = SenderProfile.objects.create(organization=org, name="Склад", index="101000",
                                          city="Москва")
    t0 = datetime(2026, 10, 1, 9, tzinfo=UTC)
    rnd = random.Random(7)
    Shipment.objects.bulk_create([Shipment(
        organization=org, order_number=f"B{i}", state=State.HANDED_OVER, carrier_code="bench",
        sender=sender, index=f"{rnd.randint(100, 690)}000", tracking_number=f"8{i:013d}")
        for i in range(SHIPMENTS)], batch_size=5000)
    Shipment.objects.update(created_at=t0 - timedelta(days=1))

    flows = [
        [Status.ACCEPTED, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT,
         Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.ARRIVED_AT_PICKUP,
         Status.ARRIVED_AT_PICKUP, Status.DELIVERED],
        [Status.ACCEPTED, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT,
         Status.IN_TRANSIT, Status.ARRIVED_AT_PICKUP, Status.ARRIVED_AT_PICKUP,
         Status.RETURNING, Status.IN_TRANSIT, Status.DELIVERED],
        [Status.INFO_RECEIVED, Status.ACCEPTED, Status.IN_TRANSIT, Status.IN_TRANSIT,
         Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT, Status.IN_TRANSIT,
         Status.IN_TRANSIT, Status.IN_TRANSIT],
    ]
    waves: list[list[list[TrackingEvent]]] = [[[], []] for _ in range(WORKERS)]
    for i in range(SHIPMENTS):
        number = f"8{i:013d}"
        flow = flows[i % 3]
        for k, status in enumerate(flow):
            at = t0 + timedelta(hours=11 * k + i % 7, minutes=i % 60)
            sub = Substatus.STORAGE_EXPIRED if status is Status.RETURNING else ""
            unknown = rnd.random() < 0.005
            waves[i % WORKERS][k // 5].append(TrackingEvent(
                tracking_number=number, occurred_at=at,
                raw_code="99.99" if unknown else f"{k}.{status.value[:3]}",
                raw_text="Операция", status=None if unknown else status, substatus=sub,
                location=f"Сортировочный центр {k}", office_index=f"{100 + k}000"))
    # repeats: each wave resends a slice of what it already sent (overlapping polls)
    for share in waves:
        for wave in share:
            wave.extend(rnd.sample(wave, int(len(wave) * 0.03)))
    total = sum(len(w) for share in waves for w in share)
    now = t0 + timedelta(days=6)

    def work(share: list[list[TrackingEvent]]) -> None:
        for wave in share:
            for i in range(0, len(wave), ANSWER):
                tracking_events_ingest(events=wave[i:i + ANSWER], now=now)
        connection.close()

    connection.close()  # each forked worker opens its own
    ctx = multiprocessing.get_context("fork")
    started = time.perf_counter()
    procs = [ctx.Process(target=work, args=(share,)) for share in waves]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - started
    assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
    stored = Stored.objects.count()
    assert stored == SHIPMENTS * PER, stored
    by_status = dict(TrackingState.objects.values_list("status").annotate(
        n=__import__("django.db.models", fromlist=["Count"]).Count("pk")).order_by())
    print(f"vendor={vendor} events={total} stored={stored} seconds={elapsed:.2f} "
          f"states={by_status} rss={_setup.peak_rss_mib():.0f}MiB", flush=True)
    connection.close()
    _setup.result("tracking_ingest_events_per_s", total / elapsed, "events/s", ">=", 50_000,
                  f"{vendor}, {SHIPMENTS} shipments, {WORKERS} workers")


if __name__ == "__main__":
    main()
