"""Tracking polls: 100,000 Russian Post numbers polled against the Russian Post emulator
through the real deferred path — ``tracking_poll`` requests tickets (``getTicket``, 3,000
numbers each) and keeps them as due work; ``tracking_tickets_fetch`` fetches each answer when
it is ready (``getResponseByTicket``) and ingests it (dedupe, derive, flags, next poll) — with
the adapter from the carriers registry and its resilient, rate-limited client. The figure is
numbers/s from the first request to the last ingested answer. Target >= 2,000 numbers/s.

The emulator runs in its own process (``BENCH_TRACKING_EMULATOR_PORT``, default 18600) with
its ticket delay set short (2 s instead of the real 15 minutes; the account's first fetch
after 2 s, then every 0.5 s). Worker processes, one per core as a scale-out deployment would
run on this machine, each loop as a Celery worker fed by the sweep would: in turn, a claim of
due polls (3,000) and one of due ticket fetches (2 tickets), until nothing is left. The account's
rate limit (requests per second to the carrier, shared by the workers) is 5/s: ~70 SOAP calls
for 100,000 numbers; the busiest second seen in the exchange log is printed beside the figure.
``BENCH_PROFILE=/path/prefix`` writes each worker's cProfile stats to ``prefix.<n>``.
"""

from __future__ import annotations

import cProfile
import multiprocessing
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

NUMBERS = int(os.environ.get("BENCH_TRACKING_POLL_NUMBERS", "100000"))
WORKERS = int(os.environ.get("BENCH_TRACKING_WORKERS", str(os.cpu_count() or 1)))
PORT = int(os.environ.get("BENCH_TRACKING_EMULATOR_PORT", "18600"))
PROFILE = os.environ.get("BENCH_PROFILE", "")
RATE = 5.0  # requests per second allowed on the account
TICKET_DELAY = 2.0  # seconds before the emulator has a ticket's answer (real: 15 minutes)


def main() -> None:
    vendor = _setup.setup()
    from django.db import connection
    from django.utils import timezone

    from shipdesk.carriers import registry
    from shipdesk.carriers.models import CarrierAccount, CarrierExchange
    from shipdesk.carriers.russian_post import barcodes
    from shipdesk.core import duework
    from shipdesk.shipments.models import SenderProfile, Shipment, State
    from shipdesk.tenancy.models import Organization
    from shipdesk.tracking import tasks
    from shipdesk.tracking.models import TrackingEvent, TrackingState, TrackingTicket
    from shipdesk.tracking.polling import tracking_poll, tracking_tickets_fetch, tracking_watch

    emulator = subprocess.Popen(
        [sys.executable, "-m", "shipdesk.carriers.russian_post.emulator", "--port", str(PORT),
         "--speed", "1", "--ticket-delay", str(TICKET_DELAY)], stdout=subprocess.DEVNULL,
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
            settings={"tracking_mode": "batch", "ticket_first_fetch_after": TICKET_DELAY,
                      "ticket_fetch_interval": 0.5, "rate_per_second": RATE, "timeout": 120})
        Shipment.objects.bulk_create([Shipment(
            organization=org, order_number=f"P{i}", state=State.HANDED_OVER,
            carrier_code="russian_post", carrier_account=account, sender=sender,
            index="644015", tracking_number=barcodes.rp14_make(f"8008471{i:06d}"))
            for i in range(NUMBERS)], batch_size=5000)
        Shipment.objects.update(created_at=Shipment.objects.first().created_at.replace(
            year=2020))
        tracking_watch(shipment_ids=list(Shipment.objects.values_list("id", flat=True)),
                       now=timezone.now() - timedelta(seconds=1))
        if vendor == "postgresql":
            # Statistics, as a live table has them (autovacuum would take a minute): the poll
            # claim filters by carrier (each kind has its own lease), and without them the
            # planner sorts every due row instead of walking the next_poll_at index.
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
        # A worker imports its code once at start, before any task: so do these, before the fork.
        registry.adapter_class("russian_post")
        import shipdesk.carriers.http  # noqa: F401
        connection.close()
        polls = duework.registered()["tracking.poll.ticket"]  # Russian Post: tickets
        fetches = duework.registered()["tracking.tickets"]

        def worker(n: int) -> None:
            profile = cProfile.Profile() if PROFILE else None
            if profile:
                profile.enable()
            while True:  # both kinds of task in turn, as a queue the sweep feeds both would
                polled = duework.claim_due(polls, now=timezone.now(), limit=polls.chunk_size)
                if polled:
                    tracking_poll(shipment_ids=polled)
                fetched = duework.claim_due(fetches, now=timezone.now(), limit=fetches.chunk_size)
                if fetched:
                    tracking_tickets_fetch(ticket_ids=fetched)
                if polled or fetched:
                    continue
                if not TrackingTicket.objects.exists():
                    break
                time.sleep(0.05)  # tickets pending, none ready yet
            if profile:
                profile.disable()
                profile.dump_stats(f"{PROFILE}.{n}")
            with connection.cursor() as cur:
                cur.execute("SELECT pg_backend_pid()" if vendor == "postgresql" else "SELECT 0")
                backend = cur.fetchone()[0]
            print(f"worker {n}: cpu={time.process_time():.1f}s "
                  f"database_cpu={_cpu_seconds(backend):.1f}s", flush=True)
            connection.close()

        ctx = multiprocessing.get_context("fork")
        started = time.perf_counter()
        procs = [ctx.Process(target=worker, args=(w,)) for w in range(WORKERS)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        elapsed = time.perf_counter() - started
        print(f"emulator: cpu={_cpu_seconds(emulator.pid):.1f}s", flush=True)
        assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
        polled = TrackingState.objects.exclude(last_polled_at=None).count()
        events = TrackingEvent.objects.count()
        assert polled == NUMBERS, polled
        # requests per second by when each was sent (logged at its end, minus its duration)
        sent = Counter(int((at.timestamp() * 1000 - ms) // 1000) for at, ms in
                       CarrierExchange.objects.filter(account=account)
                       .values_list("created_at", "duration_ms"))
        busiest = max(sent.values(), default=0)
        print(f"vendor={vendor} numbers={NUMBERS} events={events} seconds={elapsed:.2f} "
              f"workers={WORKERS} calls={sum(sent.values())} rate={RATE}/s "
              f"busiest_second={busiest} task={tasks.poll.name}+"
              f"{tasks.fetch_tickets.name}", flush=True)
        _setup.result("tracking_poll_numbers_per_s", NUMBERS / elapsed, "numbers/s", ">=", 2000,
                      f"{vendor}, Russian Post emulator, tickets, {WORKERS} workers")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a local process so far, 0 when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
