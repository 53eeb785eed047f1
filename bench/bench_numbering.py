"""Number issuance: 1,000,000 tracking numbers issued by 8 concurrent processes, each with
its own database connection, in calls of 1,000 (an intake chunk), each call in its own
transaction; then every number is checked: no duplicate, every check digit valid.

Target >= 50,000 numbers/s: the intake target is 10,000 rows/s end to end (issue 3), so
numbering must cost at most a fifth of that budget even when 8 workers contend for the
same pool rows. Run on PostgreSQL (row locks across processes): on SQLite it reports the
figure for a single process instead."""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import time

import _setup

TOTAL = 1_000_000
PROCESSES = 8
CHUNK = 1_000
TARGET = 50_000


def worker(args: tuple[int, int]) -> list[str]:
    org_id, count = args
    from django.db import connections, transaction

    from shipdesk.numbering.services import numbers_issue
    from shipdesk.tenancy.models import Organization

    connections.close_all()  # never share the parent's connection
    organization = Organization.objects.get(pk=org_id)
    out: list[str] = []
    while len(out) < count:
        with transaction.atomic():
            out.extend(numbers_issue(organization=organization, carrier_code="russian_post",
                                     count=min(CHUNK, count - len(out))))
    connections.close_all()
    return out


def main() -> None:
    vendor = _setup.setup()
    from django.db import connections

    from shipdesk.numbering import services
    from shipdesk.numbering.validation import rp14_compose, validate_tracking_number
    from shipdesk.tenancy import services as tenancy

    owner = tenancy.user_create(email="bench-numbering@example.test", password="Bench-Pass-2026")
    org = tenancy.organization_create(owner=owner, name="Bench")
    actor = tenancy.system_actor(org)
    # Eleven Russian Post ranges of 100,000 (the 5-digit serial): issuing 1,000,000 walks
    # across pools, as a big sender's allotments do.
    for code in range(11):
        services.pool_create(actor=actor, carrier_code="russian_post",
                             first_number=rp14_compose("800990", f"{code:02d}", 0),
                             last_number=rp14_compose("800990", f"{code:02d}", 99_999),
                             low_threshold=0)
    processes = PROCESSES if vendor == "postgresql" else 1
    total = TOTAL if vendor == "postgresql" else TOTAL // 10
    connections.close_all()
    share = [total // processes] * processes
    share[0] += total - sum(share)
    started = time.perf_counter()
    pool = multiprocessing.get_context("fork").Pool(processes)
    results = pool.map(worker, [(org.pk, n) for n in share])
    elapsed = time.perf_counter() - started
    pool.close()
    pool.join()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    client_cpu = children.ru_utime + children.ru_stime
    every = [n for part in results for n in part]
    unique = set(every)
    if len(every) != total or len(unique) != total:
        print(f"DUPLICATES: {len(every)} issued, {len(unique)} distinct", file=sys.stderr)
        sys.exit(1)
    for number in every[:: max(1, total // 10_000)]:
        validate_tracking_number(number)
    load = os.getloadavg()[0]
    _setup.result("numbering_issue", total / elapsed, "numbers/s", ">=", TARGET,
                  f"({vendor}, {total} numbers by {processes} processes in calls of {CHUNK}, "
                  f"no duplicate; load average {load:.1f} on {os.cpu_count()} cores; "
                  f"issuing processes used {client_cpu:.1f} CPU-s = "
                  f"{total / max(client_cpu, 1e-9):.0f} numbers per client CPU-s)")


if __name__ == "__main__":
    main()
