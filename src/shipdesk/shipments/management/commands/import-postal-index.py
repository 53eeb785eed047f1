"""``shipdesk import-postal-index FILE``: loads Russian Post's index directory (DBF/CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipdesk.core.errors import ServiceError
from shipdesk.shipments.postal_index import postal_index_load


class Command(BaseCommand):
    help = "Загружает справочник почтовых индексов Почты России (PIndx, DBF или CSV)"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"Нет файла {path}")
        try:
            count = postal_index_load(path=path)
        except ServiceError as exc:
            raise CommandError(str(exc.detail)) from exc
        self.stdout.write(self.style.SUCCESS(f"Загружено отделений: {count}"))
