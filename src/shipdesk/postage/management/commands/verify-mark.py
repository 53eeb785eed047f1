"""``shipdesk verify-mark IMAGE``: reads the DataMatrix of an online postage mark from a photo,
scan or PDF and checks its Ed25519 signature with the organization's public key from this
installation's database — no network. Exit status 0 when every mark found is valid."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipdesk.postage import marks, selectors


class Command(BaseCommand):
    help = "Проверяет знак онлайн-оплаты по снимку (PNG, JPEG) или PDF, без сети"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("image", help="файл со снимком знака или PDF")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["image"])
        if not path.is_file():
            raise CommandError(f"нет файла {path}")
        try:
            codes = marks.read_codes(path.read_bytes())
        except Exception as exc:
            raise CommandError(f"не удалось прочитать {path}: {exc}") from exc
        if not codes:
            raise CommandError("на изображении не найден код DataMatrix")
        bad = 0
        for code in codes:
            verdict = selectors.mark_verify(code)
            d = verdict.data
            head = "OK " if verdict.valid else "BAD"
            details = (f" {d.number} {d.tracking_number} ИНН {d.sender_inn} {d.amount:.2f} ₽ "
                       f"{d.issued_on:%d.%m.%Y}") if d else ""
            self.stdout.write(f"{head}{details}: {verdict.message}")
            bad += not verdict.valid
        if bad:
            raise CommandError(f"не прошли проверку: {bad} из {len(codes)}")
