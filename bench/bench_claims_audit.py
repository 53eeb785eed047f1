"""Claims: a first-day audit against the carriers' emulators, and the share of its time spent
waiting on the carriers' documented rate limits (the limiter of ``carriers/http.py``).

A list of ``BENCH_AUDIT_CDEK`` CDEK orders (CDEK answers one order per request, 5 requests a
second) and ``BENCH_AUDIT_RP`` Russian Post numbers (batch tickets of 3,000) is uploaded as
CSV and audited through the due-work steps (tickets answered at once here; the real
service's 15 minutes are the carrier's, not ours). The time inside the rate limiter is
summed; the rest is HTTP, parsing, judging and writing. The 100,000-number audit of the
issue is this run scaled: at 5 requests a second, 100,000 CDEK orders take 5.6 hours of
which nearly all is the limit; Russian Post's 34 tickets take seconds plus its delays.
No target of ours: the figure says how much of the audit is the carriers' limits.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

CDEK = int(os.environ.get("BENCH_AUDIT_CDEK", "150"))
RP = int(os.environ.get("BENCH_AUDIT_RP", "3000"))


def main() -> None:
    _setup.setup()
    from shipdesk.carriers import http as carrier_http
    from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
    from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator
    from shipdesk.carriers.emulation import start
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.carriers.russian_post import barcodes
    from shipdesk.carriers.russian_post import emulator as rp_emulator
    from shipdesk.carriers.tests.helpers import fast_client, parcel
    from shipdesk.claims import audits
    from shipdesk.tenancy.models import Organization, Role
    from shipdesk.tenancy.services import Actor

    waited = [0.0]
    acquire = carrier_http.RateLimiter.acquire

    def timed(self: carrier_http.RateLimiter) -> None:
        t = time.perf_counter()
        try:
            acquire(self)
        finally:
            waited[0] += time.perf_counter() - t

    carrier_http.RateLimiter.acquire = timed  # type: ignore[method-assign]
    rp = rp_emulator.serve("127.0.0.1", 0, config=rp_emulator.Config(ticket_delay_seconds=0.0),
                           speed=1.0)
    cdek = start(CdekEmulator())
    try:
        org = Organization.objects.create(name="Bench audit")
        CarrierAccount.objects.create(
            organization=org, carrier_code="russian_post", name="Почта", base_url=rp.url,
            credentials={"token": "test-token", "login": "test", "password": "test"},
            settings={"tracking_url": rp.url, "ticket_first_fetch_after": 0})
        CarrierAccount.objects.create(
            organization=org, carrier_code="cdek", name="СДЭК", base_url=f"{cdek.url}/v2",
            credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        maker = CdekAdapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                            base_url=f"{cdek.url}/v2", http=fast_client())
        made = maker.create_parcels([parcel(f"B-{i}", service_code="136") for i in range(CDEK)])
        numbers = [p.tracking_number for p in made.created]
        numbers += [barcodes.rp14_make(f"80084{i:08d}") for i in range(RP)]
        content = ("Трек-номер\n" + "\n".join(numbers)).encode()
        actor = Actor(organization=org, role=Role.OWNER)
        waited[0] = 0.0  # the orders' creation above is not the audit
        started = time.perf_counter()
        audit = audits.audit_create_from_file(actor=actor, filename="bench.csv",
                                              content=content)
        steps = 0  # (with an eager worker, the dispatch on commit has run it already)
        while audit.state != "done":
            audit = audits.audit_run(audit_id=audit.pk)
            steps += 1
        total = time.perf_counter() - started
        report = audits.audit_report(actor=actor, audit_id=audit.pk)
        note = f"{CDEK} CDEK + {RP} Russian Post numbers, {steps} steps, {total:.1f} s in all"
        print(f"INFO claims_audit_numbers_per_s {len(numbers) / total:.1f} numbers/s {note}",
              flush=True)
        print(f"INFO claims_audit_rate_limit_wait_share {100 * waited[0] / total:.1f} % "
              f"{waited[0]:.1f} s of {total:.1f} s waiting on the limiter; {note}; "
              f"totals {report.totals}", flush=True)
    finally:
        carrier_http.RateLimiter.acquire = acquire  # type: ignore[method-assign]
        rp.shutdown()
        cdek.stop()


if __name__ == "__main__":
    main()
