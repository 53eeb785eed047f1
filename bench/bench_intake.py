"""Spreadsheet intake end to end: a 100,000-row XLSX becomes validated, rated, numbered and
stored shipments. Prints rows/s (target >= 10,000) and peak RSS (<= 1024 MiB) on PostgreSQL,
and the same figures on SQLite as information (INFO lines: the target is PostgreSQL's).

    .venv/bin/python bench/bench_intake.py            # PostgreSQL (if it answers) + SQLite
    BENCH_DATABASE_URL=postgres://.../db_of_mine .venv/bin/python bench/bench_intake.py
    BENCH_ROWS=20000 .venv/bin/python bench/bench_intake.py
"""

from __future__ import annotations

import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _setup  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
PG_URL = (os.environ.get("BENCH_INTAKE_PG") or os.environ.get("BENCH_DATABASE_URL")
          or "postgres://postgres@127.0.0.1:5432/sd_shipments_bench")
HEADERS = ["Номер заказа", "Вид отправления", "ФИО получателя", "Телефон", "Индекс", "Регион",
           "Населённый пункт", "Улица", "Дом", "Квартира", "Вес, г", "Объявленная ценность, ₽",
           "Наложенный платёж, ₽", "Товар", "Количество", "Цена за единицу, ₽", "Комментарий"]
CITIES = [("101000", "г. Москва", "Москва"), ("190000", "", "Санкт-Петербург"),
          ("644010", "Омская обл.", "г Омск"), ("630099", "Новосибирская область", "Новосибирск"),
          ("620014", "Свердловская обл", "Екатеринбург"), ("420111", "Респ. Татарстан", "Казань")]


def build_xlsx(path: Path, rows: int) -> None:
    from openpyxl import Workbook

    rng = random.Random(42)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Заказы")
    sheet.append(HEADERS)
    for n in range(rows):
        index, region, city = CITIES[n % len(CITIES)]
        value = rng.choice((0, 990, 2500, 4990.5))
        sheet.append([
            f"ORD-{n:07d}", rng.choice(("POSTAL_PARCEL", "ONLINE_PARCEL", "EMS")),
            rng.choice(("Иванов Иван Иванович", "ПЕТРОВА АННА", "Сидоров Пётр")),
            f"8 9{rng.randrange(10**9):09d}", index, region, city,
            rng.choice(("улица ленина", "пр-т Мира", "ул. Гагарина")), str(rng.randrange(1, 200)),
            f"кв. {rng.randrange(1, 400)}", rng.randrange(100, 15000), value,
            value if rng.random() < 0.4 else 0, "Товар", 1, value or 100, ""])
    workbook.save(path)


def run(vendor_url: str | None, path: Path) -> None:
    vendor = _setup.setup(vendor_url)
    from django.core.files import File

    from shipdesk.numbering.services import pool_create
    from shipdesk.numbering.validation import rp14_compose
    from shipdesk.shipments import importing
    from shipdesk.shipments.models import SenderProfile, Shipment, State
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.services import system_actor

    user = tenancy.user_create(email="bench@example.test", password="Bench-Password-42")
    org = tenancy.organization_create(owner=user, name="Bench")
    actor = system_actor(org)
    SenderProfile.objects.create(organization=org, name="Склад", index="101000",
                                 region="г. Москва", city="Москва", is_default=True)
    pool_create(actor=actor, carrier_code="russian_post",
                first_number=rp14_compose("800997", "01", 0),
                last_number=rp14_compose("800997", "01", 99999))
    if ROWS > 100000:
        pool_create(actor=actor, carrier_code="russian_post",
                    first_number=rp14_compose("800997", "02", 0),
                    last_number=rp14_compose("800997", "02", 99999))
    from shipdesk.celery import app

    app.loader.import_default_modules()  # what a Celery worker has loaded before any job
    started, cpu, children = time.perf_counter(), time.process_time(), _children_cpu()
    with path.open("rb") as stream:
        job, _created = importing.import_job_create(actor=actor,
                                                    upload=File(stream, name=path.name),
                                                    run=False)
    job = importing.import_job_run(job_id=job.pk)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    children = _children_cpu() - children
    stored = Shipment.objects.filter(organization=org)
    numbered = stored.filter(state=State.NUMBERED).count()
    rated = stored.exclude(shipping_cost=None).count()
    print(f"{vendor}: {job.created_count} stored ({numbered} numbered, {rated} rated), "
          f"{job.rejected_count} rejected in {elapsed:.2f} s (CPU: this process {cpu:.2f} s, "
          f"its reader child {children:.2f} s; load average {os.getloadavg()[0]:.1f})",
          flush=True)
    if job.rejected_count:
        print("first errors:", job.errors[:3], flush=True)
    # the reader child's peak added to this process's: an upper bound (pages they share
    # after the fork are counted twice)
    rss = _setup.peak_rss_mib() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    rate = job.created_count / elapsed
    if vendor == "postgresql":  # the target is PostgreSQL's; SQLite's figure is reported
        _setup.result("intake_xlsx_rows_per_s", rate, "rows/s", ">=", 10000, f"{ROWS} rows")
        _setup.result("intake_xlsx_peak_rss", rss, "MiB", "<=", 1024)
    else:
        print(f"INFO intake_xlsx_rows_per_s_{vendor} {rate:.6g} rows/s {ROWS} rows", flush=True)
        print(f"INFO intake_xlsx_peak_rss_{vendor} {rss:.6g} MiB", flush=True)


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--run":
        run(sys.argv[2] or None, Path(sys.argv[3]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-intake-") as tmp:
        path = Path(tmp) / "orders.xlsx"
        started = time.perf_counter()
        build_xlsx(path, ROWS)
        print(f"built {ROWS}-row XLSX ({path.stat().st_size // 1024} KiB) in "
              f"{time.perf_counter() - started:.1f} s", flush=True)
        targets = []
        if _setup.postgres_available(PG_URL):
            targets.append(PG_URL)
        targets.append("")  # SQLite
        for url in targets:
            env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
            env.pop("DATABASE_URL", None)
            env.pop("BENCH_DATABASE_URL", None)
            if not url:
                data_dir = tempfile.mkdtemp(prefix="bench-intake-sqlite-", dir=tmp)
                env["SHIPDESK_DATA_DIR"] = data_dir
                url = f"sqlite:///{data_dir}/bench.sqlite3"
            subprocess.run([sys.executable, __file__, "--run", url, str(path)], check=True,
                           env=env)


if __name__ == "__main__":
    main()
