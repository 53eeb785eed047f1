"""100,000 due notifications rendered and handed to a real SMTP server (aiosmtpd) and the
sms.ru emulator: messages per second, and proof that none went out twice.

Half the buyers have an e-mail (one SMTP connection per batch), half get an SMS (sms.ru
``multi[...]``, 100 per request). Sending runs in worker processes, like Celery workers,
each claiming batches from the outbox; the SMTP server and the SMS emulator run in their own
processes.

    BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sd_notifications_bench \
        .venv/bin/python bench/bench_notifications.py [N]
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# BENCH_NOTIFICATIONS_PORT: the first of two free ports (SMTP server, SMS emulator)
SMTP_PORT = int(os.environ.get("BENCH_NOTIFICATIONS_PORT", "18750"))
SMS_PORT = SMTP_PORT + 1
WORKERS = int(os.environ.get("BENCH_NOTIFICATIONS_WORKERS", "3"))
# share of buyers with an e-mail (the rest get an SMS)
EMAIL_SHARE = float(os.environ.get("BENCH_NOTIFICATIONS_EMAIL_SHARE", "0.5"))
SMTP_PROCESSES = int(os.environ.get("BENCH_NOTIFICATIONS_SMTP_PROCESSES", "2"))
BATCH = 2000


def serve_smtp(port: int, out: str) -> None:
    """aiosmtpd on ``port`` with SO_REUSEPORT, so that several server processes share the
    port like the worker processes of a real MTA."""
    import asyncio
    import re

    from aiosmtpd.smtp import SMTP

    ids: list[bytes] = []
    message_id = re.compile(rb"^Message-ID: *(<[^>]+>)", re.M | re.I)

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            head = envelope.original_content[:4096]
            found = message_id.search(head)
            ids.append(found.group(1) if found else b"")
            return "250 OK"

    def stop(*_a: object) -> None:
        Path(out).write_text(json.dumps([i.decode() for i in ids]))
        sys.exit(0)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(lambda: SMTP(Handler(), hostname="bench.local"),
                                 "127.0.0.1", port, reuse_port=True)
        print("ready", flush=True)
        await asyncio.Event().wait()

    signal.signal(signal.SIGTERM, stop)
    asyncio.run(run())


def serve_sms(port: int, out: str) -> None:
    sys.path.insert(0, str(HERE.parent / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shipdesk.settings")
    import django

    django.setup()
    from shipdesk.notifications.gateways.emulators import SmsRuEmulator

    emu = SmsRuEmulator(port).start()

    def stop(*_a: object) -> None:
        Path(out).write_text(json.dumps([m["phone"] + "|" + m["text"] for m in emu.messages]))
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print("ready", flush=True)
    signal.pause()


def worker() -> None:
    sys.path.insert(0, str(HERE.parent / "src"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shipdesk.settings")
    import django

    django.setup()
    import logging

    from shipdesk.notifications import services

    logging.getLogger("httpx").setLevel(logging.WARNING)
    # BENCH_NOTIFICATIONS_PROFILE=<file>: cProfile of this worker's run, written per pid
    profile_to = os.environ.get("BENCH_NOTIFICATIONS_PROFILE")
    profiler = None
    if profile_to:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    sent = 0
    while True:
        stats = services.outbox_send_due(limit=BATCH)
        sent += stats.sent
        if not stats.claimed:
            break
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(f"{profile_to}.{os.getpid()}")
    from django.db import connection

    backend_cpu = None  # this worker's PostgreSQL backend, when it runs on this machine
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backend = cursor.fetchone()[0]
        if Path(f"/proc/{backend}/stat").exists():
            backend_cpu = _cpu_seconds(backend)
    print(json.dumps({"sent": sent, "backend_cpu": backend_cpu}), flush=True)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _spawn(*args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE,
                            text=True, env={**os.environ,
                                            "PYTHONPATH": str(HERE.parent / "src")})
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def main(n: int) -> None:
    import datetime as dt
    import tempfile
    from decimal import Decimal

    sys.path.insert(0, str(HERE))
    import _setup

    os.environ.setdefault("BENCH_DATABASE_URL",
                          "postgres://postgres@127.0.0.1:5432/sd_notifications_bench"
                          if _setup.postgres_available() else "")
    vendor = _setup.setup()
    from django.db import connection
    from django.utils import timezone

    from shipdesk.notifications.models import ChannelConfig, Message, NotificationSettings
    from shipdesk.notifications.services import settings_ensure
    from shipdesk.shipments.models import Shipment
    from shipdesk.tenancy import services as tenancy

    owner = tenancy.user_create(email="bench@example.test", password="Bench-Pass-4242")
    org = tenancy.organization_create(owner=owner, name="Ромашка")
    settings_ensure(organization=org)
    NotificationSettings.objects.filter(organization=org).update(
        window_start=dt.time(0, 0), window_end=dt.time(23, 59, 59), sms_gateway="smsru")
    ChannelConfig.objects.create(organization=org, gateway="smtp", config={
        "host": "127.0.0.1", "port": SMTP_PORT, "from_email": "shop@romashka.test"})
    ChannelConfig.objects.create(organization=org, gateway="smsru", config={
        "base_url": f"http://127.0.0.1:{SMS_PORT}", "api_id": "test-api-id"})

    now = timezone.now()
    t0 = time.perf_counter()
    for start in range(0, n, 5000):
        rows = [Shipment(organization=org, order_number=f"B-{i:07d}", state="handed_over",
                         recipient_given_name="Анна", recipient_surname="Иванова",
                         recipient_phone=f"+7900{i:07d}",
                         recipient_email=f"b{i}@example.test"
                         if i % 100 < round(EMAIL_SHARE * 100) else "",
                         index="101000", city="Москва", street="ул. Тверская", house="7",
                         cod_amount=Decimal("1490.00"), tracking_number=f"80{i:012d}",
                         tracking_status="accepted", tracking_status_at=now)
                for i in range(start, min(n, start + 5000))]
        Shipment.objects.bulk_create(rows, batch_size=5000)
    ids = list(Shipment.objects.filter(organization=org).order_by("pk")
               .values_list("pk", "recipient_email", "recipient_phone"))
    for start in range(0, n, 5000):
        Message.objects.bulk_create([
            Message(organization=org, shipment_id=pk, rule="accepted",
                    channel="email" if email else "sms", gateway="smtp" if email else "smsru",
                    recipient=email or phone[1:], due_at=now)
            for pk, email, phone in ids[start:start + 5000]], batch_size=5000)
    print(f"# {vendor}: {n} due messages prepared in {time.perf_counter() - t0:.1f} s",
          flush=True)
    connection.close()

    tmp = Path(tempfile.mkdtemp(prefix="bench-notif-"))
    cpu: dict[str, float] = {}
    smtp_servers = [_spawn("--serve-smtp", str(SMTP_PORT), str(tmp / f"smtp{i}.json"))
                    for i in range(SMTP_PROCESSES)]
    sms = _spawn("--serve-sms", str(SMS_PORT), str(tmp / "sms.json"))
    try:
        t0 = time.perf_counter()
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        workers = [subprocess.Popen([sys.executable, __file__, "--worker"], text=True,
                                    stdout=subprocess.PIPE,
                                    env={**os.environ, "PYTHONPATH": str(HERE.parent / "src")})
                   for _ in range(WORKERS)]
        sent = 0
        for w in workers:
            out, _err = w.communicate()
            assert w.returncode == 0, f"worker failed ({w.returncode})"
            report = json.loads(out.strip().splitlines()[-1])
            sent += report["sent"]
            if report["backend_cpu"] is not None:
                cpu["database backends"] = cpu.get("database backends", 0) + report["backend_cpu"]
        elapsed = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu["workers"] = (after.ru_utime + after.ru_stime
                          - children_before.ru_utime - children_before.ru_stime)
        cpu["smtp servers"] = sum(_cpu_seconds(p.pid) for p in smtp_servers)
        cpu["sms emulator"] = _cpu_seconds(sms.pid)
    finally:
        for proc in (*smtp_servers, sms):
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    mail_ids = [i for k in range(SMTP_PROCESSES)
                for i in json.loads((tmp / f"smtp{k}.json").read_text())]
    texts = json.loads((tmp / "sms.json").read_text())
    duplicates = (len(mail_ids) - len(set(mail_ids))) + (len(texts) - len(set(texts)))
    statuses = dict(Message.objects.values_list("status").annotate(
        c=__import__("django.db.models", fromlist=["Count"]).Count("id")))
    print(f"# sent={sent} e-mails received={len(mail_ids)} SMS received={len(texts)} "
          f"duplicates={duplicates} statuses={statuses} in {elapsed:.1f} s", flush=True)
    # CPU spent per message by each part (the database: the workers' own backends, when the
    # server runs on this machine; autovacuum and WAL writer not included): on a machine
    # shared with other work the wall-clock rate says little, this says what it costs
    print("# CPU ms per message: " + ", ".join(f"{k} {1000 * v / n:.3f}" for k, v in cpu.items())
          + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    assert sent == n == len(mail_ids) + len(texts), "not every message went out"
    assert duplicates == 0, "a message went out twice"
    _setup.result("notifications_send_rate", n / elapsed, "msg/s", ">=", 2000,
                  f"({vendor}, {WORKERS} workers, {SMTP_PROCESSES} SMTP server processes, "
                  f"e-mail share {EMAIL_SHARE:.0%}, "
                  f"{n} messages, duplicates={duplicates})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-smtp":
        serve_smtp(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--serve-sms":
        serve_sms(int(sys.argv[2]), sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker()
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
