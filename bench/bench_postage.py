"""Postage at scale (PostgreSQL):

* 10,000 online postage marks issued in one call — validated, the balance debited by one
  conditional UPDATE, each mark signed (Ed25519) and written (binary COPY): target ≤ 2 s;
* 1,000 envelope fronts (DL) with their marks' DataMatrix as a PDF: target ≤ 2 s.

Setup (letters, the balance) is not timed."""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

MARKS = 10_000
FRONTS = 1_000


def main() -> None:
    vendor = _setup.setup()
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.postage import printing, services
    from shipdesk.shipments.models import Shipment, State
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Role

    user = tenancy.user_create(email="bench-postage@example.test", password="Bench-Postage-42")
    org = tenancy.organization_create(owner=user, name="Франкинг", inn="7707083893")
    actor = tenancy.Actor(organization=org, role=Role.OWNER, user=user)
    carrier = CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                            name="Почта", base_url="http://127.0.0.1:9/")
    account = services.account_open(actor=actor, carrier_account_id=carrier.pk)
    services.balance_correct(actor=actor, account_id=account.pk,
                             amount=Decimal("2000000.00"), reason="bench")
    ids = [s.pk for s in Shipment.objects.bulk_create([Shipment(
        organization=org, order_number=f"B{i}", tracking_number=f"8008{i:010d}",
        state=State.NUMBERED, carrier_code="russian_post", service_code="LETTER",
        carrier_account=carrier, shipping_cost=Decimal("87.50"), recipient_surname="Петров",
        recipient_given_name="Пётр", index="190000", city="Санкт-Петербург",
        street="Невский пр.", house=str(i % 200 + 1), weight_g=20)
        for i in range(MARKS)], batch_size=2000)]
    services.signing_key(org.pk)

    started, cpu = time.perf_counter(), time.process_time()
    issued = services.marks_issue(actor=actor, account_id=account.pk, shipment_ids=ids)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    account.refresh_from_db()
    assert len(issued) == MARKS
    assert account.balance == Decimal("2000000.00") - MARKS * Decimal("87.50")
    _setup.result("postage_10k_marks_issued_s", elapsed, "s", "<=", 2, vendor)
    print(f"INFO postage_10k_marks_issued_cpu_s {cpu:.3g} s this process's CPU", flush=True)

    started, cpu = time.perf_counter(), time.process_time()
    pdf = printing.envelopes_pdf(actor=actor, shipment_ids=ids[:FRONTS], size="DL")
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    _setup.result("postage_1k_envelope_fronts_s", elapsed, "s", "<=", 2,
                  f"{vendor} {len(pdf) // 1024} KiB")
    print(f"INFO postage_1k_envelope_fronts_cpu_s {cpu:.3g} s this process's CPU", flush=True)


if __name__ == "__main__":
    main()
