"""Finance at scale (PostgreSQL):

* a 100,000-row payout report (CDEK's registry layout, XLSX) recognised, matched against
  100,000 COD receivables and posted to the ledger: target ≤ 5 s;
* the owner's money overview (debt now by age, the ageing chart over time, the forecast
  with its backtest) for an organization with 1,000,000 COD shipments: target ≤ 300 ms
  (median of 15 requests through the Django stack, after a warm-up).

Setup rows are written with INSERT … SELECT generate_series (not timed)."""

from __future__ import annotations

import datetime as dt
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _setup

REPORT_ROWS = 100_000
BIG = 1_000_000


def _insert_select(model: Any, count: int, varying: dict[str, str], start: int = 1,
                   source: str = "") -> None:
    """INSERT INTO model's table SELECT … FROM generate_series (or ``source``): ``varying``
    maps a column to an SQL expression of ``i``; every other column gets its default."""
    from django.db import connection
    from django.utils import timezone

    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        column = field.column
        columns.append(f'"{column}"')
        if column in varying:
            values.append(varying[column].replace("%", "%%"))
            continue
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            value: Any = timezone.now()
        elif field.has_default():
            value = field.get_default()
        else:
            value = None if field.null else ""
        values.append("%s")
        params.append(field.get_db_prep_save(value, connection))
    sql = (f'INSERT INTO "{model._meta.db_table}" ({", ".join(columns)}) '
           f'SELECT {", ".join(values)} FROM '
           + (source or f"generate_series({start}, {start + count - 1}) AS i"))
    with connection.cursor() as cursor:
        # set-up only: the rows are consistent by construction, so the deferred per-row
        # foreign-key checks (millions of trigger events at commit) are skipped
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        cursor.execute("SET session_replication_role = DEFAULT")


def _org(name: str) -> tuple[Any, Any]:
    from django.contrib.auth import get_user_model

    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Role

    user = get_user_model().objects.create_user(username=f"{name}@bench.test",
                                                email=f"{name}@bench.test", password="x")
    org = tenancy.organization_create(owner=user, name=name)
    return org, tenancy.Actor(organization=org, role=Role.OWNER, user=user)


def _report_xlsx(rows: int) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(["Реестр наложенных платежей № 9001 от 05.12.2026"])
    ws.append([])
    ws.append(["№ п/п", "Номер заказа СДЭК", "Номер отправления ИМ", "Дата доставки",
               "Сумма наложенного платежа", "Агентское вознаграждение", "Сумма к перечислению"])
    for i in range(1, rows + 1):
        cod = 1000 + i % 4000
        ws.append([i, f"15{i:08d}", f"R-{i}", 46360, cod, round(cod * 0.03, 2),
                   round(cod * 0.97, 2)])
    ws.append(["", "Итого"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds used so far by this process and by its PostgreSQL backend (read from
    /proc: the bench runs beside the database). On a machine shared with other work the wall
    time counts their turns on the CPU too; this does not."""
    from django.db import connection

    client = time.process_time()
    if connection.vendor != "postgresql":
        return client, 0.0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return client, 0.0
    return client, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _phase_cpu() -> dict[str, float]:
    """The PostgreSQL backend's CPU seconds per step of the match (steps as timed)."""
    from shipdesk.finance import matching

    spent: dict[str, float] = {}
    last = [_cpu_seconds()[1]]
    tick = matching._Clock.tick

    def counting(clock: Any, name: str) -> None:
        tick(clock, name)
        now = _cpu_seconds()[1]
        spent[name] = spent.get(name, 0) + now - last[0]
        last[0] = now

    matching._Clock.tick = counting  # type: ignore[method-assign]
    return spent


def bench_report(vendor: str) -> None:
    from django.db import connection

    from shipdesk.finance import ledger, services
    from shipdesk.finance.models import Receivable
    from shipdesk.shipments.models import Shipment

    org, actor = _org("report")
    _insert_select(Shipment, REPORT_ROWS, {
        "organization_id": str(org.pk), "order_number": "'R-' || i",
        "tracking_number": "'15' || lpad(i::text, 8, '0')", "cod_amount": "1000 + i % 4000",
        "carrier_code": "'cdek'", "state": "'delivered'"})
    _insert_select(Receivable, REPORT_ROWS, {
        "organization_id": str(org.pk), "shipment_id": "s.id",
        "carrier_code": "'cdek'", "tracking_number": "'15' || lpad(i::text, 8, '0')",
        "order_number": "'R-' || i", "cod_amount": "1000 + i % 4000", "state": "'collected'",
        "collected_on": "DATE '2026-11-28'", "expected_on": "DATE '2026-12-05'"},
        source=f"(SELECT id, substr(order_number, 3)::int AS i FROM shipments_shipment "
               f"WHERE organization_id = {org.pk}) s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    content = _report_xlsx(REPORT_ROWS)
    timings: dict[str, float] = {}
    server_cpu = _phase_cpu()
    cpu = _cpu_seconds()
    started = time.perf_counter()
    result = services.report_import(actor=actor, filename="registry.xlsx", content=content,
                                    timings=timings)
    elapsed = time.perf_counter() - started
    client, server = (after - before for after, before in zip(_cpu_seconds(), cpu, strict=True))
    print("phases (wall): " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()),
          flush=True)
    print("postgres CPU by phase: " + ", ".join(f"{k} {v:.2f} s" for k, v in
                                                server_cpu.items()), flush=True)
    print(f"INFO finance_payout_report_100k_cpu_s {client + server:.3g} s "
          f"CPU spent (python {client:.2f} + postgres backend {server:.2f}): "
          "what the wall time would be on an idle machine", flush=True)
    counts = result.counts
    print(f"seconds={elapsed:.2f}", flush=True)
    assert counts == {"matched": REPORT_ROWS}, counts
    balances = ledger.balances(org.pk)
    # the receivables were written collected without their demands: 62 holds only payments
    assert sum(balances.values()) == 0 and balances["51"] + balances["44"] == -balances["62"]
    print(f"vendor={vendor} rows={REPORT_ROWS} counts={counts} seconds={elapsed:.2f} "
          f"bank={balances['51']}", flush=True)
    _setup.result("finance_payout_report_100k_s", elapsed, "s", "<=", 5,
                  f"{vendor}, XLSX {len(content) // 1024} KiB, recognised+matched+posted")
    started = time.perf_counter()
    again = services.report_import(actor=actor, filename="again.xlsx", content=content)
    assert not again.created
    print(f"INFO finance_same_report_again_s {time.perf_counter() - started:.3g} s {vendor}",
          flush=True)


def bench_overview(vendor: str) -> None:
    from django.db import connection
    from django.test import Client

    from shipdesk.carriers.names import carrier_name
    from shipdesk.finance import services
    from shipdesk.finance.models import CashDaily, Receivable
    from shipdesk.shipments.models import Shipment

    org, actor = _org("big")
    today = dt.date(2026, 12, 1)
    _insert_select(Shipment, BIG, {
        "organization_id": str(org.pk), "order_number": "'B-' || i",
        "tracking_number": "'B' || lpad(i::text, 9, '0')", "cod_amount": "500 + i % 3000",
        "carrier_code": "(ARRAY['cdek','russian_post','pickpoint'])[1 + i % 3]",
        "state": "'delivered'"})
    # a year of deliveries (≈2,740 a day); paid 7 days later, the last week's still owed,
    # one in 500 older ones overdue
    collected = f"DATE '{today}' - (i % 365)"
    _insert_select(Receivable, BIG, {
        "organization_id": str(org.pk),
        "shipment_id": "s.id",
        "carrier_code": "(ARRAY['cdek','russian_post','pickpoint'])[1 + i % 3]",
        "tracking_number": "'B' || lpad(i::text, 9, '0')", "order_number": "'B-' || i",
        "cod_amount": "500 + i % 3000",
        "state": "CASE WHEN i % 365 < 7 THEN 'collected' WHEN i % 500 = 0 THEN 'overdue' "
                 "ELSE 'paid' END",
        "collected_on": collected, "expected_on": f"{collected} + 7",
        "paid_on": f"CASE WHEN i % 365 < 7 OR i % 500 = 0 THEN NULL ELSE {collected} + 7 END"},
        source=f"(SELECT id, substr(order_number, 3)::int AS i FROM shipments_shipment "
               f"WHERE organization_id = {org.pk}) s")
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO finance_cashdaily (organization_id, carrier_code, day, collected, paid,
                                           paid_count, lag_days)
            SELECT organization_id, carrier_code, d, sum(c), sum(p), sum(n), sum(n) * 7 FROM (
              SELECT organization_id, carrier_code, collected_on AS d, cod_amount AS c,
                     0 AS p, 0 AS n FROM finance_receivable WHERE organization_id = {org.pk}
              UNION ALL
              SELECT organization_id, carrier_code, paid_on, 0, cod_amount, 1
              FROM finance_receivable WHERE organization_id = {org.pk} AND paid_on IS NOT NULL
            ) x GROUP BY organization_id, carrier_code, d""")
        cursor.execute("ANALYZE")
    for k in range(90, -1, -1):
        services.debt_snapshot_take(day=today - dt.timedelta(days=k))
    print(f"receivables={Receivable.objects.filter(organization=org).count()} "
          f"rollup days={CashDaily.objects.filter(organization=org).count()}", flush=True)

    from unittest import mock

    client = Client()
    client.force_login(actor.user)
    with mock.patch("django.utils.timezone.localdate", return_value=today):
        for _ in range(3):
            assert client.get("/finance/").status_code == 200
        times = []
        for _ in range(15):
            started = time.perf_counter()
            response = client.get("/finance/")
            times.append(time.perf_counter() - started)
            assert response.status_code == 200
    page = response.content.decode()
    assert "<svg" in page and carrier_name("russian_post") in page  # the page names carriers
    median = statistics.median(times) * 1000
    print(f"vendor={vendor} overview median={median:.1f}ms max={max(times) * 1000:.1f}ms",
          flush=True)
    _setup.result("finance_overview_1m_ms", median, "ms", "<=", 300,
                  f"{vendor}, debt ageing + 90-day chart + forecast with backtest")


def main() -> None:
    vendor = _setup.setup()
    part = os.environ.get("BENCH_FINANCE_PART", "")
    if part in ("", "report"):
        bench_report(vendor)
    if part in ("", "overview"):
        bench_overview(vendor)


if __name__ == "__main__":
    main()
