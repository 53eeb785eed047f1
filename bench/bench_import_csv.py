"""A 100,000-row CSV in Windows-1251 imported end to end, its peak memory beside the same
rows' in UTF-8: the 8-bit file is decoded as a stream (a block at a time), so it costs no
more than the UTF-8 one. Targets: peak RSS <= 1024 MiB, and the cp1251 import's peak at most
twice the file's size above the UTF-8 import's. Run on SQLite (each import in a process of
its own, reader child included); rows/s printed as information.

    .venv/bin/python bench/bench_import_csv.py
    BENCH_ROWS=20000 .venv/bin/python bench/bench_import_csv.py
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
HEADERS = ["Номер заказа", "Вид отправления", "ФИО получателя", "Телефон", "Индекс", "Регион",
           "Населённый пункт", "Улица", "Дом", "Квартира", "Вес, г", "Объявленная ценность, руб.",
           "Наложенный платёж, руб.", "Товар", "Количество", "Цена за единицу, руб.",
           "Комментарий"]
CITIES = [("101000", "г. Москва", "Москва"), ("190000", "", "Санкт-Петербург"),
          ("644010", "Омская обл.", "г Омск"), ("630099", "Новосибирская область", "Новосибирск"),
          ("620014", "Свердловская обл", "Екатеринбург"), ("420111", "Респ. Татарстан", "Казань")]


def build_text(rows: int) -> str:
    rng = random.Random(42)
    lines = [";".join(HEADERS)]
    for n in range(rows):
        index, region, city = CITIES[n % len(CITIES)]
        value = rng.choice(("0", "990", "2500", "4990,50"))
        lines.append(";".join([
            f"ORD-{n:07d}", rng.choice(("POSTAL_PARCEL", "ONLINE_PARCEL", "EMS")),
            rng.choice(("Иванов Иван Иванович", "ПЕТРОВА АННА", "Сидоров Пётр")),
            f"8 9{rng.randrange(10**9):09d}", index, region, city,
            rng.choice(("улица Ленина", "пр-т Мира", "ул. Гагарина")), str(rng.randrange(1, 200)),
            f"кв. {rng.randrange(1, 400)}", str(rng.randrange(100, 15000)), value,
            value if rng.random() < 0.4 else "0", "Книга «Война и мир»", "1",
            value if value != "0" else "100", "позвонить за час — домофон не работает"]))
    return "\r\n".join(lines) + "\r\n"


def run(url: str, path: Path) -> None:
    vendor = _setup.setup(url)
    from django.core.files import File

    from shipdesk.shipments import importing
    from shipdesk.shipments.models import SenderProfile
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.services import system_actor

    user = tenancy.user_create(email="bench@example.test", password="Bench-Password-42")
    org = tenancy.organization_create(owner=user, name="Bench")
    actor = system_actor(org)
    SenderProfile.objects.create(organization=org, name="Склад", index="101000",
                                 region="г. Москва", city="Москва", is_default=True)
    started = time.perf_counter()
    with path.open("rb") as stream:
        job, _created = importing.import_job_create(
            actor=actor, upload=File(stream, name=path.name), run=True, dispatch=False)
    job = importing.import_job_run(job_id=job.pk)
    elapsed = time.perf_counter() - started
    rss = _setup.peak_rss_mib() + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{vendor} {path.name}: {job.created_count} stored, {job.rejected_count} rejected "
          f"in {elapsed:.1f} s", flush=True)
    if job.rejected_count:
        print("first errors:", job.errors[:3], flush=True)
    print(f"PEAK {rss:.1f} {job.created_count / elapsed:.0f}", flush=True)


def measure(tmp: Path, path: Path) -> tuple[float, float]:
    data_dir = tempfile.mkdtemp(prefix="bench-csv-", dir=tmp)
    env = {**os.environ, "PYTHONPATH": str(HERE.parent / "src"), "SHIPDESK_DATA_DIR": data_dir}
    for name in ("DATABASE_URL", "BENCH_DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, __file__, "--run",
                          f"sqlite:///{data_dir}/bench.sqlite3", str(path)],
                         check=True, env=env, capture_output=True, text=True).stdout
    print(out.rstrip(), flush=True)
    peak = next(line for line in out.splitlines() if line.startswith("PEAK "))
    rss, rate = peak.split()[1:]
    return float(rss), float(rate)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--run":
        run(sys.argv[2], Path(sys.argv[3]))
        return
    with tempfile.TemporaryDirectory(prefix="bench-import-csv-") as tmp_name:
        tmp = Path(tmp_name)
        text = build_text(ROWS)
        utf8, cp1251 = tmp / "orders-utf8.csv", tmp / "orders-cp1251.csv"
        utf8.write_text(text, encoding="utf-8", newline="")
        cp1251.write_text(text, encoding="cp1251", newline="")
        del text
        size = cp1251.stat().st_size / 2**20
        print(f"{ROWS} rows: cp1251 {size:.1f} MiB, UTF-8 {utf8.stat().st_size / 2**20:.1f} MiB",
              flush=True)
        utf8_rss, utf8_rate = measure(tmp, utf8)
        rss, rate = measure(tmp, cp1251)
    print(f"INFO import_csv_utf8_peak_rss {utf8_rss:.6g} MiB {ROWS} rows, SQLite", flush=True)
    print(f"INFO import_csv_utf8_rows_per_s {utf8_rate:.6g} rows/s SQLite", flush=True)
    print(f"INFO import_csv_cp1251_rows_per_s {rate:.6g} rows/s SQLite", flush=True)
    _setup.result("import_csv_cp1251_peak_rss", rss, "MiB", "<=", 1024, f"{ROWS} rows")
    _setup.result("import_csv_cp1251_over_utf8", rss - utf8_rss, "MiB", "<=",
                  round(2 * size, 1), "2x the file's size")


if __name__ == "__main__":
    main()
