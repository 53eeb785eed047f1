"""Statistics: every dashboard chart over 1,000,000 shipments and 10,000,000 tracking events
on PostgreSQL, target ≤ 300 ms each, over the page's default range (the last 30 days,
compared with the 30 before) and over a whole year (365 days, compared with the year
before's same days). A region filter's figures are printed as information.

The data is generated in the database (INSERT … SELECT over generate_series, the server-side
form of COPY): a year of shipments over three carrier accounts, four kinds, two senders and
every region's index prefixes (uniform: the worst case for the rollups' size), ten events
each, a tracking state and three status changes each (15 % of the outcomes returns). The
rollups are then rebuilt from scratch (``analytics_rebuild``: set-based SQL, its time shown
as information), and each chart's figures read.

``BENCH_ANALYTICS_SHIPMENTS`` scales the data (events follow at ten per shipment).
Run: ``BENCH_DATABASE_URL=postgres://…/yourdb .venv/bin/python bench/run.py bench_analytics``
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

SHIPMENTS = int(os.environ.get("BENCH_ANALYTICS_SHIPMENTS", "1000000"))
EVENTS_PER = 10
DAYS = 365
TARGET_MS = 300


def _generate(org: Any, accounts: list[int], senders: list[int], end: datetime) -> None:
    from django.db import connection

    from shipdesk.shipments.models import Shipment, State
    from shipdesk.shipments.regions import PREFIX_REGION

    template = Shipment.objects.create(
        organization=org, order_number="A-template", state=State.DELIVERED,
        carrier_code="russian_post", index="630000", tracking_number="8" + "9" * 13)
    # literals written into the statement (generated here, digits only): the columns'
    # order, not this dict's, decides where each expression goes
    prefixes = "'{" + ",".join(sorted(PREFIX_REGION)) + "}'::text[]"
    account_ids = "'{" + ",".join(map(str, accounts)) + "}'::bigint[]"
    sender_ids = "'{" + ",".join(map(str, senders)) + "}'::bigint[]"
    until = f"'{end.isoformat()}'::timestamptz"
    own = {
        "order_number": "'A' || g", "tracking_number": "'8' || lpad(g::text, 13, '0')",
        "index": f"({prefixes})[1 + (g::bigint * 7919) %% cardinality({prefixes})] || '000'",
        "created_at": f"{until} - ((g %% {DAYS}) || ' days')::interval "
                      "- ((g %% 1440) || ' minutes')::interval",
        "carrier_account_id": f"({account_ids})[1 + g %% 3]",
        "service_code": "(ARRAY['POSTAL_PARCEL','ONLINE_PARCEL','EMS','COURIER'])[1 + g %% 4]",
        "sender_id": f"({sender_ids})[1 + (g / 7) %% 2]",
        "shipping_cost": "(150 + (g %% 300))::numeric + 0.5",
        "state": "CASE WHEN g %% 20 < 3 THEN 'returned' ELSE 'delivered' END",
    }
    cols = [f.column for f in Shipment._meta.concrete_fields if not f.primary_key]
    names = ", ".join(f'"{c}"' for c in cols)
    values = ", ".join(own.get(c, f't."{c}"') for c in cols)
    table = Shipment._meta.db_table
    with connection.cursor() as cur:
        cur.execute(f'INSERT INTO "{table}" ({names}) SELECT {values} FROM "{table}" t, '
                    "generate_series(0, %s) g WHERE t.id = %s",
                    [SHIPMENTS - 1, template.pk])
        template.delete()
        started = time.perf_counter()
        cur.execute(
            "INSERT INTO tracking_trackingevent (organization_id, shipment_id, tracking_number,"
            " occurred_at, utc_offset_minutes, raw_code, raw_text, status, substatus, place,"
            " office_index, unknown_code, source, raw, created_at) "
            f"SELECT s.organization_id, s.id, s.tracking_number, s.created_at + k * interval "
            "'11 hours', 180, '8.' || k, 'operation', CASE WHEN k = 0 THEN 'accepted' "
            "WHEN k = %s THEN 'delivered' ELSE 'in_transit' END, '', 'Office ' || k, '', "
            "false, 'poll', '{}'::jsonb, now() "
            f'FROM "{table}" s CROSS JOIN generate_series(0, %s) k',
            [EVENTS_PER - 1, EVENTS_PER - 1])
        print(f"events made in {time.perf_counter() - started:.1f} s", flush=True)
        cur.execute(
            "INSERT INTO tracking_trackingstate (shipment_id, organization_id, created_at, "
            "updated_at, public_token, carrier_code, route, status, substatus, status_at, "
            "final, poll_failures, accepted_at, arrived_at_pickup_at, arrival_inferred, "
            "expected_delivery, transit_recorded, is_stuck, is_overdue, is_storage_ending, "
            "is_returned, is_lost, has_unknown_codes) "
            "SELECT s.id, s.organization_id, now(), now(), md5(s.id::text), s.carrier_code, "
            "'101-' || left(s.\"index\", 3), 'delivered', '', s.created_at + interval '9 days', "
            "true, 0, s.created_at + interval '11 hours', "
            "s.created_at + ((2 + s.id % 7) || ' days')::interval, false, "
            "s.created_at + interval '6 days', true, false, false, false, "
            f"s.state = 'returned', false, false FROM \"{table}\" s")
        for previous, status, substatus, at in (
                ("''", "'accepted'", "''", "interval '11 hours'"),
                ("'accepted'", "'arrived_at_pickup'", "''",
                 "((2 + s.id % 7) || ' days')::interval"),
                ("'arrived_at_pickup'", "'delivered'",
                 "CASE WHEN s.state = 'returned' THEN 'to_sender' ELSE '' END",
                 "interval '9 days'")):
            cur.execute(
                "INSERT INTO tracking_shipmentstatuschange (organization_id, shipment_id, "
                "previous_status, status, substatus, changed_at, created_at, updated_at) "
                f"SELECT s.organization_id, s.id, {previous}, {status}, {substatus}, "
                f"s.created_at + {at}, now(), now() FROM \"{table}\" s ORDER BY s.id")
        cur.execute("VACUUM ANALYZE")


def main() -> None:
    vendor = _setup.setup()
    if vendor != "postgresql":
        print("INFO analytics_dashboard skipped: the target is PostgreSQL's", flush=True)
        return
    from django.utils import translation

    from shipdesk.analytics import selectors, views
    from shipdesk.analytics.models import ShipmentRollup, TransitRollup
    from shipdesk.analytics.services import analytics_rebuild
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.shipments.models import SenderProfile
    from shipdesk.tenancy.models import Organization, Role
    from shipdesk.tenancy.services import Actor

    org = Organization.objects.create(name="Bench")
    accounts = [CarrierAccount.objects.create(
        organization=org, carrier_code=code, name=code, base_url="http://127.0.0.1:9/",
        credentials={}).pk for code in ("russian_post", "cdek", "boxberry")]
    senders = [SenderProfile.objects.create(organization=org, name=f"Склад {i}",
                                            index="101000", city="Москва").pk for i in (1, 2)]
    end = datetime.now(UTC).replace(hour=20, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    _generate(org, accounts, senders, end)
    print(f"data made in {time.perf_counter() - started:.1f} s", flush=True)
    started = time.perf_counter()
    done = analytics_rebuild()
    rebuilt = time.perf_counter() - started
    print(f"INFO analytics_rebuild_s {rebuilt:.1f} s {done}", flush=True)
    actor = Actor(organization=org, role=Role.OWNER)
    note = f"{SHIPMENTS} shipments, {SHIPMENTS * EVENTS_PER} events"
    rows = {m.__name__: m.objects.count() for m in (ShipmentRollup, TransitRollup)}
    translation.activate("ru")
    print(f"INFO analytics_rollup_rows {sum(rows.values())} rows {rows}", flush=True)
    charts: dict[str, Any] = {
        "totals": selectors.totals, "volume_and_cost": selectors.volume_by_day,
        "volume_compared": selectors.volume_compared,
        "carriers": selectors.by_carrier, "on_time": selectors.on_time_by_carrier,
        "regions_map": selectors.by_region,
        "transit_percentiles": selectors.transit_by_route, "periods": selectors.by_period,
        "return_reasons": selectors.return_reasons, "notified": selectors.notified_effect,
        "users": selectors.users_activity, "cod": selectors.cod_by_day}
    today = selectors.local_today(actor)
    for label, days, extra in (("30d", 30, {"compare": "previous"}),
                               ("365d", 365, {"compare": "year"}),
                               ("30d_region", 30, {"region": "Омская область"}),
                               ("365d_region", 365, {"region": "Омская область"})):
        f = selectors.filters_parse({"date_from": (today - timedelta(days=days - 1))
                                     .isoformat(), "date_to": today.isoformat(), **extra})
        for name, fn in charts.items():
            runs = []
            for _ in range(5):
                t = time.perf_counter()
                fn(actor=actor, f=f)
                runs.append((time.perf_counter() - t) * 1000)
            ms = statistics.median(runs)
            if "region" in label:
                print(f"INFO analytics_chart_{name}_{label}_ms {ms:.1f} ms {note}, "
                      "one region filtered", flush=True)
            else:
                _setup.result(f"analytics_chart_{name}_{label}_ms", ms, "ms", "<=", TARGET_MS,
                              f"{note}, the last {days} days with the comparison")
        drawn = []
        for _ in range(3):  # every chart, figures read and SVG drawn (the first warms up)
            t = time.perf_counter()
            views.dashboard_charts(actor, f)
            drawn.append((time.perf_counter() - t) * 1000)
        whole = statistics.median(drawn[1:])
        print(f"INFO analytics_dashboard_all_charts_{label}_ms {whole:.1f} ms {note}", flush=True)


if __name__ == "__main__":
    main()
