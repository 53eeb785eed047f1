"""Tracking polls: 100,000 Russian Post numbers polled against the Russian Post emulator
(batch tracking: getTicket + getResponseByTicket, 3,000 numbers a ticket) through
``tracking_poll`` — the adapter from the carriers registry with its resilient, rate-limited
client, and every answer ingested (dedupe, derive, flags, next poll). Target ≥ 2,000
numbers/s.

The emulator runs in its own process on 127.0.0.1:18600 (the tracking engineer's port
range); due work is handed out as the sweep would (claims of 3,000), to one worker process
per core. The account's rate limit (requests per second to the carrier) is set to 5/s and
respected by the client: ~70 SOAP calls for 100,000 numbers.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

NUMBERS = int(os.environ.get("BENCH_TRACKING_POLL_NUMBERS", "100000"))
WORKERS = int(os.environ.get("BENCH_TRACKING_WORKERS", str(os.cpu_count() or 1)))
PORT = int(os.environ.get("BENCH_TRACKING_EMULATOR_PORT", "18600"))
RATE = 5.0  # requests per second allowed on the account



def main() -> None:
    vendor = _setup.setup()
    from django.db import connection

    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.carriers.russian_post import barcodes
    from shipdesk.core import duework
    from shipdesk.shipments.models import SenderProfile, Shipment, State
    from shipdesk.tenancy.models import Organization
    from shipdesk.tracking import tasks
    from shipdesk.tracking.models import TrackingEvent, TrackingState
    from shipdesk.tracking.polling import tracking_poll, tracking_watch

    emulator = subprocess.Popen(
        [sys.executable, "-m", "shipdesk.carriers.russian_post.emulator", "--port", str(PORT),
         "--speed", "1"], stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")})
    try:
        _setup.wait_for_port(PORT)
        org = Organization.objects.create(name="Bench")
        sender = SenderProfile.objects.create(organization=org, name="Склад", index="101000",
                                              city="Москва")
        account = CarrierAccount.objects.create(
            organization=org, carrier_code="russian_post", name="Почта (эмулятор)",
            base_url=f"http://127.0.0.1:{PORT}",
            credentials={"token": "test-token", "login": "test", "password": "test"},
            settings={"tracking_mode": "batch", "ticket_poll_interval": 0.05,
                      "ticket_poll_attempts": 40, "rate_per_second": RATE, "timeout": 120})
        Shipment.objects.bulk_create([Shipment(
            organization=org, order_number=f"P{i}", state=State.HANDED_OVER,
            carrier_code="russian_post", carrier_account=account, sender=sender,
            index="644015", tracking_number=barcodes.rp14_make(f"8008471{i:06d}"))
            for i in range(NUMBERS)], batch_size=5000)
        Shipment.objects.update(created_at=Shipment.objects.first().created_at.replace(
            year=2020))
        tracking_watch(shipment_ids=list(Shipment.objects.values_list("id", flat=True)))
        # claim everything due, as the sweep does, in claims of 3,000
        work = duework.registered()["tracking.poll"]
        from django.utils import timezone

        claims = []
        while True:
            ids = duework.claim_due(work, now=timezone.now(), limit=3000)
            if not ids:
                break
            claims.append(ids)
        assert sum(map(len, claims)) == NUMBERS, sum(map(len, claims))
        connection.close()

        def worker(share: list[list[int]]) -> None:
            for ids in share:
                tracking_poll(shipment_ids=ids)
            connection.close()

        ctx = multiprocessing.get_context("fork")
        started = time.perf_counter()
        procs = [ctx.Process(target=worker, args=(claims[w::WORKERS],)) for w in range(WORKERS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - started
        assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
        polled = TrackingState.objects.exclude(last_polled_at=None).count()
        events = TrackingEvent.objects.count()
        assert polled == NUMBERS, polled
        print(f"vendor={vendor} numbers={NUMBERS} events={events} seconds={elapsed:.2f} "
              f"workers={WORKERS} rate={RATE}/s task={tasks.poll.name}", flush=True)
        _setup.result("tracking_poll_numbers_per_s", NUMBERS / elapsed, "numbers/s", ">=", 2000,
                      f"{vendor}, Russian Post emulator, {WORKERS} workers")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    main()
