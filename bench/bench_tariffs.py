"""Table rating throughput: ``tariffs.services.rate_many`` over 200,000 varied parcels in
one process (the intake path: one table lookup per call, pure arithmetic per parcel).

Target >= 50,000 parcels/s (issue 3: intake must rate 10,000 rows/s end to end with
everything else it does, so rating has to be a small fraction of that budget)."""

from __future__ import annotations

import os
import random
import time
from decimal import Decimal

import _setup

N = 200_000
TARGET = 50_000


def main() -> None:
    vendor = _setup.setup()
    from shipdesk.carriers.base import Address, ParcelRequest, Party
    from shipdesk.tariffs import services
    from shipdesk.tenancy import services as tenancy

    org = tenancy.organization_create(owner=tenancy.user_create(
        email="bench-tariffs@example.test", password="Bench-Pass-2026"), name="Bench")
    rnd = random.Random(3)
    indexes = ["101000", "109440", "190000", "344000", "420000", "450000", "620000", "630000",
               "644015", "660000", "690000", "236000", "350000", "603000"]
    services_ = ["POSTAL_PARCEL", "PARCEL_CLASS_1", "ONLINE_PARCEL", "EMS"]
    parties = {i: Party(name="", address=Address(index=i)) for i in indexes}
    parcels = []
    for n in range(N):
        cod = Decimal(rnd.randrange(0, 500_000)).scaleb(-2) if n % 3 == 0 else Decimal(0)
        parcels.append(ParcelRequest(
            reference=str(n), service_code=rnd.choice(services_),
            sender=parties[rnd.choice(indexes)], recipient=parties[rnd.choice(indexes)],
            weight_g=rnd.randrange(50, 2500), declared_value=cod, cod_amount=cod,
            options={"fragile": True} if n % 5 == 0 else {}))
    services.rate_many(organization=org, requests=parcels[:1000], carrier_code="russian_post")
    started, cpu_started = time.perf_counter(), time.process_time()
    quotes = []
    for start in range(0, N, 10_000):  # the intake's chunk size
        quotes.extend(services.rate_many(organization=org, requests=parcels[start:start + 10_000],
                                         carrier_code="russian_post"))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    rated = sum(q is not None for q in quotes)
    assert rated > N * 0.9, rated
    # Rating is single-threaded pure Python: the process's CPU time is what it costs on one
    # core. On a shared, loaded machine the wall clock also counts time spent waiting for a
    # core, so it is printed beside it (with the load average) rather than used as the figure.
    load = os.getloadavg()[0]
    _setup.result("tariffs_rate_many", N / cpu, "parcels/cpu-s", ">=", TARGET,
                  f"({vendor}; wall clock {N / elapsed:.0f} parcels/s at load average "
                  f"{load:.1f} on {os.cpu_count()} cores; {rated} rated, {N - rated} not rateable)")


if __name__ == "__main__":
    main()
