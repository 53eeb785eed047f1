"""Registration of shipments with their carriers, as the due-work task does it, against the
carriers' emulators in their own processes:

- 10,000 Russian Post shipments: backlog orders (500 per PUT) and the carrier's batch that
  gives them their barcodes, stored as NUMBERED — target 30 s;
- 1,000 CDEK orders (one order per request, created asynchronously and read back) under a
  rate the emulator enforces (CDEK_RATE requests/s, HTTP 429 beyond), with the account's
  limiter set just under it — target 60 s and no 429 answer.

The shipments are stored first through the intake (not timed); the timed part is
``shipments_register`` over chunks of 1,000 ids, as the sweep dispatches them."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _setup import result, setup, shop_with_sender, start_program, wait_for_port

RP_PORT = int(os.environ.get("BENCH_RP_PORT", "18270"))
CDEK_PORT = int(os.environ.get("BENCH_CDEK_REG_PORT", "18271"))
RP_COUNT = 10_000
CDEK_COUNT = 1_000
CDEK_RATE = 50  # what the CDEK emulator lets through per second
CHUNK = 1_000


def _rows(prefix: str, count: int, **extra: object) -> list[tuple[int, dict[str, object]]]:
    return [(n, {"order_number": f"{prefix}-{n}", "recipient_name": "Иванов Иван Иванович",
                 "recipient_phone": "+79123456789", "index": "644010", "region": "Омская обл",
                 "city": "Омск", "street": "ул. Ленина", "house": str(n % 200 + 1),
                 "apartment": str(n % 90 + 1), "weight_g": 1200, "declared_value": "2500",
                 "cod_amount": "2500", **extra}) for n in range(count)]


def main() -> None:
    vendor = setup()
    from django.db.models import Q

    from shipdesk.carriers import services as carriers
    from shipdesk.carriers.cdek.emulator import SANDBOX_CREDENTIALS as CDEK_CREDENTIALS
    from shipdesk.carriers.models import CarrierAccount, CarrierExchange
    from shipdesk.carriers.russian_post.emulator import SANDBOX_CREDENTIALS as RP_CREDENTIALS
    from shipdesk.shipments.models import Registration, Shipment, State
    from shipdesk.shipments.registration import shipments_register
    from shipdesk.shipments.services import shipments_intake

    org, actor = shop_with_sender(email="bench-reg@example.test", name="Bench registration")
    procs = [
        start_program(f"from shipdesk.carriers.russian_post import emulator; import time; "
               f"emulator.serve('127.0.0.1', {RP_PORT}, speed=1.0); time.sleep(10**6)"),
        start_program(f"from shipdesk.carriers.cdek.emulator import CdekEmulator; "
               f"from shipdesk.carriers.emulation import serve_app; app = CdekEmulator(); "
               f"app.rate_limit_per_second = {CDEK_RATE}; serve_app(app, '127.0.0.1', {CDEK_PORT})"),
    ]
    try:
        wait_for_port(RP_PORT)
        wait_for_port(CDEK_PORT)

        def stored(prefix: str, count: int, **extra: object) -> list[int]:
            shipments_intake(actor=actor, rows=_rows(prefix, count, **extra))
            return list(Shipment.objects.filter(organization=org, order_number__startswith=prefix)
                        .values_list("id", flat=True))

        def register(account: CarrierAccount, ids: list[int]) -> float:
            # as intake would have marked them had the account existed when they came in
            Shipment.objects.filter(pk__in=ids).update(
                carrier_account=account, registration=Registration.PENDING)
            started = time.perf_counter()
            for i in range(0, len(ids), CHUNK):
                shipments_register(shipment_ids=ids[i:i + CHUNK])
            return time.perf_counter() - started

        rp_ids = stored("RP", RP_COUNT)
        rp = carriers.carrier_account_create(
            actor=actor, carrier_code="russian_post", name="Почта", credentials=RP_CREDENTIALS,
            base_url=f"http://127.0.0.1:{RP_PORT}", settings={"rate_per_second": 0})
        seconds = register(rp, rp_ids)
        numbered = Shipment.objects.filter(pk__in=rp_ids, state=State.NUMBERED,
                                           registration=Registration.REGISTERED).count()
        assert numbered == RP_COUNT, f"only {numbered} of {RP_COUNT} registered"
        result("registration_russian_post_10k", seconds, "s", "<=", 30,
               f"{RP_COUNT / seconds:.0f} shipments/s, backlog + batch, {vendor}")

        cdek_ids = stored("CD", CDEK_COUNT, carrier_code="cdek", service_code="136",
                          pickup_point_code="OMS3")
        cdek = carriers.carrier_account_create(
            actor=actor, carrier_code="cdek", name="СДЭК", credentials=CDEK_CREDENTIALS,
            base_url=f"http://127.0.0.1:{CDEK_PORT}/v2",
            settings={"rate_per_second": CDEK_RATE - 5})
        seconds = register(cdek, cdek_ids)
        registered = Shipment.objects.filter(pk__in=cdek_ids,
                                             registration=Registration.REGISTERED).count()
        refused = CarrierExchange.objects.filter(Q(status=429), account=cdek).count()
        assert registered == CDEK_COUNT, f"only {registered} of {CDEK_COUNT} registered"
        result("registration_cdek_1k", seconds, "s", "<=", 60,
               f"{CDEK_COUNT / seconds:.1f} orders/s at a {CDEK_RATE} req/s limit, "
               f"{refused} HTTP 429, {vendor}")
        result("registration_cdek_429_answers", refused, "answers", "<=", 0)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
