"""Plans and sends due notifications from the command line (a worker without Celery)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from shipdesk.notifications import services


class Command(BaseCommand):
    help = "Отправляет уведомления, срок которых наступил (план из ленты статусов + отправка)"
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch", type=int, default=500, help="сообщений за один захват")
        parser.add_argument("--until-empty", action="store_true",
                            help="работать, пока есть что отправить, затем выйти")
        parser.add_argument("--sleep", type=float, default=5.0,
                            help="пауза, когда отправлять нечего (без --until-empty)")
        parser.add_argument("--clock-offset", type=float, default=0.0,
                            help="сдвиг часов в секундах (для проверки истёкших аренд)")
        parser.add_argument("--no-plan", action="store_true", help="не читать ленту статусов")

    def handle(self, *args: Any, **opts: Any) -> None:
        offset = dt.timedelta(seconds=opts["clock_offset"])
        total = services.SendStats()
        while True:
            now = timezone.now() + offset
            if not opts["no_plan"]:
                services.outbox_plan_from_feed(now=now)
            stats = services.outbox_send_due(now=now, limit=opts["batch"])
            for name in ("claimed", "sent", "failed", "skipped", "retry", "unknown",
                         "recovered"):
                setattr(total, name, getattr(total, name) + getattr(stats, name))
            if not stats.claimed:
                if opts["until_empty"]:
                    break
                time.sleep(opts["sleep"])
        self.stdout.write(f"sent={total.sent} failed={total.failed} skipped={total.skipped} "
                          f"unknown={total.unknown} recovered={total.recovered}")
