"""Claims: candidate detection (every rule) over 1,000,000 shipments with 10,000,000 tracking
events on PostgreSQL, target ≤ 10 s.

The data is generated in the database (INSERT … SELECT over generate_series): shipments over
two carrier accounts, ten events each, a derived tracking state each, three status changes
each, a COD receivable for every third parcel and a payout report row for a tenth of those.
The outcomes are spread by ``id % 1000``: 1 % stuck, 0.5 % lost, 0.3 % damaged, 0.2 %
partly delivered, 0.8 % COD unpaid, 0.3 % returns never back, 0.2 % overcharged; the rest
healthy. Detection (the whole ``detection.detect`` for the organization, all seven rules
and the replacement of the open candidates) is timed three times; the found counts are
checked against the generated ones.

``BENCH_CLAIMS_SHIPMENTS`` scales the data (events follow at ten per shipment).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

SHIPMENTS = int(os.environ.get("BENCH_CLAIMS_SHIPMENTS", "1000000"))
EVENTS_PER = 10
TARGET_S = 10.0

# id % 1000 buckets
STUCK, LOST, DAMAGED, PARTIAL, UNPAID, RETURN, OVER = (
    (0, 10), (10, 15), (15, 18), (18, 20), (20, 28), (28, 31), (31, 33))


def _in(bucket: tuple[int, int], col: str = "s.id") -> str:
    return f"({col} %% 1000 >= {bucket[0]} AND {col} %% 1000 < {bucket[1]})"


def _generate(org: Any, accounts: list[int], now: datetime) -> None:
    from django.db import connection

    from shipdesk.shipments.models import Shipment, State

    template = Shipment.objects.create(
        organization=org, order_number="A-template", state=State.HANDED_OVER,
        carrier_code="russian_post", index="630000", tracking_number="8" + "9" * 13)
    account_ids = "'{" + ",".join(map(str, accounts)) + "}'::bigint[]"
    until = f"'{now.isoformat()}'::timestamptz"
    own = {
        "order_number": "'A' || g", "tracking_number": "'8' || lpad(g::text, 13, '0')",
        "created_at": f"{until} - ((40 + g %% 60) || ' days')::interval",
        "carrier_account_id": f"({account_ids})[1 + g %% 2]",
        "carrier_code": "(ARRAY['russian_post','cdek'])[1 + g %% 2]",
        "declared_value": "1000", "cod_amount": "CASE WHEN g %% 3 = 0 THEN 1500 ELSE 0 END",
        "shipping_cost": "(150 + (g %% 300))::numeric + 0.5",
    }
    cols = [f.column for f in Shipment._meta.concrete_fields if not f.primary_key]
    names = ", ".join(f'"{c}"' for c in cols)
    values = ", ".join(own.get(c, f't."{c}"') for c in cols)
    table = Shipment._meta.db_table
    with connection.cursor() as cur:
        # generated rows need no foreign-key checks (their per-row triggers and row locks
        # on a million shipments cost minutes): off for this session's generation only
        cur.execute("SET session_replication_role = replica")
        cur.execute(f'INSERT INTO "{table}" ({names}) SELECT {values} FROM "{table}" t, '
                    "generate_series(0, %s) g WHERE t.id = %s", [SHIPMENTS - 1, template.pk])
        template.delete()
        started = time.perf_counter()
        cur.execute(
            "INSERT INTO tracking_trackingevent (organization_id, shipment_id, tracking_number,"
            " occurred_at, utc_offset_minutes, raw_code, raw_text, status, substatus, place,"
            " office_index, unknown_code, source, raw, created_at) "
            "SELECT s.organization_id, s.id, s.tracking_number, s.created_at + k * interval "
            "'11 hours', 180, '8.' || k, 'operation', CASE WHEN k = 0 THEN 'accepted' "
            "WHEN k = %s THEN 'delivered' ELSE 'in_transit' END, '', 'Office ' || k, '', "
            "false, 'poll', '{}'::jsonb, now() "
            f'FROM "{table}" s CROSS JOIN generate_series(0, %s) k',
            [EVENTS_PER - 1, EVENTS_PER - 1])
        print(f"events made in {time.perf_counter() - started:.1f} s", flush=True)
        status = (f"CASE WHEN {_in(STUCK)} THEN 'in_transit' WHEN {_in(LOST)} THEN 'lost' "
                  f"WHEN {_in(RETURN)} THEN 'returning' ELSE 'delivered' END")
        moved = (f"CASE WHEN {_in(STUCK)} THEN s.created_at + interval '1 day' "
                 "ELSE s.created_at + interval '9 days' END")
        cur.execute(
            "INSERT INTO tracking_trackingstate (shipment_id, organization_id, created_at, "
            "updated_at, public_token, carrier_code, route, status, substatus, status_at, "
            "final, poll_failures, last_movement_at, last_event_at, accepted_at, "
            "arrival_inferred, expected_delivery, transit_recorded, is_stuck, is_overdue, "
            "is_storage_ending, is_returned, is_lost, has_unknown_codes) "
            f"SELECT s.id, s.organization_id, now(), now(), md5(s.id::text), s.carrier_code, "
            f"'101-630', {status}, '', {moved}, "
            f"NOT ({_in(STUCK)} OR {_in(RETURN)}), 0, {moved}, {moved}, s.created_at, false, "
            "s.created_at + interval '6 days', true, false, false, false, false, "
            f"{_in(LOST)}, false FROM \"{table}\" s", [])
        for previous, st, sub, at in (
                ("''", "'accepted'", "''", "interval '11 hours'"),
                ("'accepted'", f"CASE WHEN {_in(DAMAGED)} THEN 'damaged' ELSE 'in_transit' END",
                 "''", "interval '2 days'"),
                ("'in_transit'", status,
                 f"CASE WHEN {_in(PARTIAL)} THEN 'partial' ELSE '' END", "interval '9 days'")):
            cur.execute(
                "INSERT INTO tracking_shipmentstatuschange (organization_id, shipment_id, "
                "previous_status, status, substatus, changed_at, created_at, updated_at) "
                f"SELECT s.organization_id, s.id, {previous}, {st}, {sub}, "
                f"s.created_at + {at}, now(), now() FROM \"{table}\" s ORDER BY s.id", [])
        # receivables of the COD parcels: paid, except the unpaid bucket
        unpaid = _in(UNPAID)
        cur.execute(
            "INSERT INTO finance_receivable (organization_id, shipment_id, carrier_code, "
            "carrier_account_id, tracking_number, order_number, cod_amount, fee_commission, "
            "fee_delivery, fee_insurance, fee_return, fees_mode, state, order_state, "
            "collected_on, paid_on, paid_amount, refused_amount, return_reason, created_at, "
            "updated_at) "
            "SELECT s.organization_id, s.id, s.carrier_code, s.carrier_account_id, "
            "s.tracking_number, s.order_number, s.cod_amount, 0, 100, 0, 0, 'deducted', "
            f"CASE WHEN {unpaid} THEN 'collected' ELSE 'paid' END, '', "
            "(s.created_at + interval '9 days')::date, "
            f"CASE WHEN {unpaid} THEN NULL ELSE (s.created_at + interval '15 days')::date END, "
            f"CASE WHEN {unpaid} THEN 0 ELSE s.cod_amount END, 0, '', now(), now() "
            f"FROM \"{table}\" s WHERE s.cod_amount > 0 AND {_in(STATUS_DELIVERED)}", [])
        cur.execute(
            "INSERT INTO finance_payoutreport (organization_id, source, filename, sha256, "
            "content, status, format_code, format_name, carrier_code, confidence, "
            "registry_number, header_row, headers, error, totals, created_at, updated_at) "
            "VALUES (%s, 'upload', 'bench.xlsx', '', '', 'posted', '', '', '', 1, '', 0, "
            "'[]', '', '{}', now(), now()) RETURNING id", [org.pk])
        report_id = cur.fetchone()[0]
        over = "r.shipment_id %% 1000 >= 31 AND r.shipment_id %% 1000 < 33"
        cur.execute(
            "INSERT INTO finance_payoutrow (organization_id, report_id, row_number, "
            "tracking_number, order_number, cod_amount, fee, paid_amount, returned_amount, "
            "paid_on, outcome, receivable_id, expected_amount, difference, message) "
            "SELECT r.organization_id, %s, row_number() OVER (), r.tracking_number, "
            f"r.order_number, CASE WHEN {over} THEN r.cod_amount - 50 ELSE r.cod_amount END, "
            f"100, r.cod_amount - 100, 0, r.paid_on, CASE WHEN {over} THEN 'amount_differs' "
            f"ELSE 'matched' END, r.id, NULL, CASE WHEN {over} THEN -50 ELSE NULL END, '' "
            "FROM finance_receivable r WHERE r.state = 'paid' AND r.shipment_id %% 10 < 4",
            [report_id])
        cur.execute("SET session_replication_role = DEFAULT")
        cur.execute("VACUUM ANALYZE")


# delivered parcels: everything outside the stuck, lost and return buckets
STATUS_DELIVERED = (20, 1000)


def main() -> None:
    vendor = _setup.setup()
    if vendor != "postgresql":
        print("INFO claims_detection skipped: the target is PostgreSQL's", flush=True)
        return
    from django.db.models import Count

    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.claims import detection
    from shipdesk.claims.models import Candidate
    from shipdesk.tenancy.models import Organization

    org = Organization.objects.create(name="Bench")
    accounts = [CarrierAccount.objects.create(
        organization=org, carrier_code=code, name=code, base_url="http://127.0.0.1:9/",
        credentials={}).pk for code in ("russian_post", "cdek")]
    now = datetime.now(UTC)
    started = time.perf_counter()
    _generate(org, accounts, now)
    print(f"data made in {time.perf_counter() - started:.1f} s", flush=True)
    runs = []
    counts: dict[str, int] = {}
    for _ in range(3):
        t = time.perf_counter()
        counts = detection.detect(organization_id=org.pk, now=now)
        runs.append(time.perf_counter() - t)
    found = dict(Candidate.objects.filter(organization=org).values_list("kind").annotate(
        n=Count("id")).values_list("kind", "n"))
    print(f"INFO claims_detection_found {sum(found.values())} candidates {counts}", flush=True)
    note = (f"{SHIPMENTS} shipments, {SHIPMENTS * EVENTS_PER} events, median of 3 "
            f"(runs {', '.join(f'{r:.1f}' for r in runs)} s)")
    _setup.result("claims_detection_s", statistics.median(runs), "s", "<=", TARGET_S, note)


if __name__ == "__main__":
    main()
