"""Carrier adapters through the resilient client (rate limiter, retries, circuit breaker,
masked exchange log written to the database) against emulators running in their own
processes: tracking numbers per second (sandbox batch of 500, CDEK one order per call) and
plain requests per second (the client's own overhead)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import httpx

from _setup import result, setup

SANDBOX_PORT = int(os.environ.get("BENCH_SANDBOX_PORT", "18260"))
CDEK_PORT = int(os.environ.get("BENCH_CDEK_PORT", "18261"))
PARCELS = 2000
CDEK_PARCELS = 200


def _start(code: str, cls: str, port: int) -> subprocess.Popen[bytes]:
    program = (
        f"from shipdesk.carriers.{code}.emulator import {cls}; "
        f"from shipdesk.carriers.emulation import serve_app; "
        f"serve_app({cls}(), '127.0.0.1', {port})"
    )
    return subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.DEVNULL)


def _wait(url: str) -> None:
    for _ in range(300):
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"emulator at {url} did not start")


def main() -> None:
    vendor = setup()
    from shipdesk.carriers import registry
    from shipdesk.carriers.base import Address, ParcelRequest, Party
    from shipdesk.carriers.cdek.emulator import SANDBOX_CREDENTIALS as CDEK_CREDS
    from shipdesk.carriers.models import CarrierAccount, CarrierExchange
    from shipdesk.carriers.sandbox.emulator import SANDBOX_CREDENTIALS
    from shipdesk.tenancy import services as tenancy

    owner = tenancy.user_create(email="bench-carriers@example.test", password="Bench-Carriers-42")
    org = tenancy.organization_create(owner=owner, name="Bench carriers")
    procs = [_start("sandbox", "SandboxEmulator", SANDBOX_PORT), _start("cdek", "CdekEmulator", CDEK_PORT)]
    try:
        _wait(f"http://127.0.0.1:{SANDBOX_PORT}/__emulator__/state")
        _wait(f"http://127.0.0.1:{CDEK_PORT}/__emulator__/state")
        unlimited = {"rate_per_second": 0}
        sandbox = CarrierAccount.objects.create(
            organization=org,
            carrier_code="sandbox",
            name="s",
            base_url=f"http://127.0.0.1:{SANDBOX_PORT}",
            credentials=SANDBOX_CREDENTIALS,
            settings=unlimited,
        )
        cdek = CarrierAccount.objects.create(
            organization=org,
            carrier_code="cdek",
            name="c",
            base_url=f"http://127.0.0.1:{CDEK_PORT}/v2",
            credentials=CDEK_CREDS,
            settings=unlimited,
        )

        def parcel(i: int, service: str) -> ParcelRequest:
            return ParcelRequest(
                reference=f"B-{i}",
                service_code=service,
                sender=Party(name="Склад", phone="+74950000000", address=Address(index="101000")),
                recipient=Party(
                    name=f"Получатель {i}",
                    phone="+79160000000",
                    address=Address(index="644024", city="Омск", street="Ленина 1"),
                ),
                weight_g=1000,
                comment="scenario:delivered",
                options={"scenario": "delivered"},
            )

        adapter = registry.adapter_for_account(sandbox)
        numbers: list[str] = []
        for start in range(0, PARCELS, 500):
            created = adapter.create_parcels(
                [parcel(i, "standard") for i in range(start, start + 500)]
            ).created
            numbers += [c.tracking_number for c in created]
        moved = httpx.post(f"http://127.0.0.1:{SANDBOX_PORT}/__emulator__/clock", json={"advance_hours": 50})
        # 50 hours pass for the carrier and for us: the adapter takes its events as not ahead
        from shipdesk.carriers import timing

        timing.follow(datetime.fromisoformat(moved.json()["now"]))
        started = time.perf_counter()
        events = adapter.track(numbers)
        elapsed = time.perf_counter() - started
        assert len(events.events) == 5 * PARCELS, len(events.events)
        result("sandbox_track_numbers_per_s", PARCELS / elapsed, "numbers/s", ">=", 1000, f"({vendor})")

        started = time.perf_counter()
        for _ in range(200):
            adapter.test_connection()
        elapsed = time.perf_counter() - started
        result(
            "resilient_client_requests_per_s",
            200 / elapsed,
            "req/s",
            ">=",
            100,
            "(GET, limiter + breaker + exchange row)",
        )

        cdek_adapter = registry.adapter_for_account(cdek)
        cdek_numbers = [
            c.tracking_number
            for c in cdek_adapter.create_parcels([parcel(i, "136") for i in range(CDEK_PARCELS)]).created
        ]
        started = time.perf_counter()
        tracked = cdek_adapter.track(cdek_numbers)
        elapsed = time.perf_counter() - started
        assert not tracked.errors
        result(
            "cdek_track_numbers_per_s", CDEK_PARCELS / elapsed, "numbers/s", ">=", 50, "(one order per call)"
        )
        print(f"exchange rows written: {CarrierExchange.objects.count()}", flush=True)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
