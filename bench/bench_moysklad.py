"""MoySklad's trigger at scale: 10,000 customer orders moved to the trigger state become
shipments registered with the carrier, numbered, and their numbers written back to the
orders — target ≤ 120 s, inside MoySklad's limits (45 requests / 3 s, 5 parallel): the
emulator, which enforces them, must count 0 refused requests.

The MoySklad emulator and the sandbox carrier run in processes of their own. MoySklad's
notifications of the 10,000 moves (100 events each, as MoySklad groups them) are handed to
the webhook service as the endpoint would (the receiving web server is not measured here);
the timed part is receiving them plus the connection's pass: orders read 100 a request with
buyer and goods, the shipments intake with the delivery rules, registration at the carrier,
numbers and states written back 1,000 orders a request. As a Celery worker does (the pass
holds a per-connection lock and takes the notifications arriving meanwhile), one pass takes
them all: the benchmark's eager mode would otherwise run a pass inside every notification."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from _setup import result, setup, shop_with_sender, start_program, wait_for_port

MS_PORT = int(os.environ.get("BENCH_MOYSKLAD_PORT", "18860"))
CARRIER_PORT = int(os.environ.get("BENCH_MOYSKLAD_CARRIER_PORT", "18861"))
COUNT = int(os.environ.get("BENCH_MOYSKLAD_ORDERS", "10000"))
PER_WEBHOOK = 100


def main() -> None:
    os.environ.setdefault("SHIPDESK_PUBLIC_URL", "http://127.0.0.1:9")  # nobody listens
    vendor = setup()
    from shipdesk.carriers import services as carriers
    from shipdesk.carriers.sandbox.emulator import SANDBOX_CREDENTIALS
    from shipdesk.integrations.models import MoySkladOrder
    from shipdesk.integrations.moysklad import services
    from shipdesk.integrations.moysklad.emulator import ACCOUNT_ID, PREFIX, SANDBOX_TOKEN
    from shipdesk.shipments.delivery_rules import delivery_rule_create
    from shipdesk.shipments.models import Registration, Shipment, State

    org, actor = shop_with_sender(email="bench-ms@example.test", name="Bench MoySklad")
    procs = [
        start_program("from shipdesk.integrations.moysklad.emulator import MoySkladEmulator; "
               "from shipdesk.carriers.emulation import serve_app; "
               f"serve_app(MoySkladEmulator(), '127.0.0.1', {MS_PORT})"),
        start_program("from shipdesk.carriers.sandbox.emulator import SandboxEmulator; "
               "from shipdesk.carriers.emulation import serve_app; "
               f"serve_app(SandboxEmulator(), '127.0.0.1', {CARRIER_PORT})"),
    ]
    try:
        wait_for_port(MS_PORT)
        wait_for_port(CARRIER_PORT)
        control = f"http://127.0.0.1:{MS_PORT}/__emulator__"
        ids = httpx.post(f"{control}/seed", json={"orders": COUNT}, timeout=300).json()["ids"]
        account = carriers.carrier_account_create(
            actor=actor, carrier_code="sandbox", name="Песочница",
            base_url=f"http://127.0.0.1:{CARRIER_PORT}", credentials=dict(SANDBOX_CREDENTIALS),
            settings={"rate_per_second": 0})
        delivery_rule_create(actor=actor, name="Все", carrier_account_id=account.pk,
                             service_code="standard")
        connection = services.connection_connect(
            actor=actor, base_url=f"http://127.0.0.1:{MS_PORT}{PREFIX}", token=SANDBOX_TOKEN)
        states = {s["name"]: s["id"] for s in connection.states}
        services.connection_configure(
            actor=actor, trigger_state_id=states["Собран"],
            problem_state_id=states["Проблема доставки"],
            state_map={"numbered": states["Передан в доставку"]},
            tracking_attribute_id=connection.tracking_attribute_id)
        # a person moves the 10,000 orders (MoySklad's webhooks to us fail: nobody listens)
        httpx.post(f"{control}/move", json={"ids": ids, "state": "Собран",
                                            "per_webhook": PER_WEBHOOK}, timeout=300)
        services._dispatch = lambda connection_id: None  # the worker's pass, run below
        before = httpx.get(f"{control}/state").json()
        base = f"http://127.0.0.1:{MS_PORT}{PREFIX}/entity/customerorder/"
        started = time.perf_counter()
        for start in range(0, COUNT, PER_WEBHOOK):
            body = {"events": [{"meta": {"type": "customerorder", "href": base + i},
                                "action": "UPDATE", "accountId": ACCOUNT_ID}
                               for i in ids[start:start + PER_WEBHOOK]]}
            services.webhook_receive(token=connection.webhook_token,
                                     request_id=str(uuid.uuid4()),
                                     body=json.dumps(body).encode())
        outcome = services.connection_run(connection_id=connection.pk)
        seconds = time.perf_counter() - started
        after = httpx.get(f"{control}/state").json()
        registered = Shipment.objects.filter(organization=org, state=State.NUMBERED,
                                             registration=Registration.REGISTERED).count()
        carried = MoySkladOrder.objects.filter(connection=connection).exclude(
            pushed_tracking="").count()
        requests = after["requests_seen"] - before["requests_seen"]
        refused = after["refused"]
        print(json.dumps({"outcome": outcome.__dict__, "requests": requests,
                          "max_parallel": after["max_parallel"]}), flush=True)
        assert registered == COUNT, f"only {registered} of {COUNT} registered"
        assert carried == COUNT, f"only {carried} of {COUNT} orders carry their number"
        result("moysklad_trigger_10k", seconds, "s", "<=", 120,
               f"{COUNT / seconds:.0f} orders/s, {requests} MoySklad requests, "
               f"{after['max_parallel']} parallel at most, {vendor}")
        result("moysklad_refused_requests", refused, "answers", "<=", 0)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
