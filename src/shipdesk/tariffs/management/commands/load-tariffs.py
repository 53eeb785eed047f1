"""``shipdesk load-tariffs FILE [FILE ...] [--org ID]``: loads tariff tables."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipdesk.core.errors import ServiceError
from shipdesk.tariffs.services import tariff_table_load_file


class Command(BaseCommand):
    help = ("Загружает тарифные таблицы (JSON, формат shipdesk-tariff/1) из файлов. Таблица "
            "перевозчика с той же датой начала действия заменяется; таблица с более поздней "
            "датой вступит в силу с этой даты.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="файл таблицы (JSON)")
        parser.add_argument("--org", type=int, default=None,
                            help="id организации, если это таблица её договора")

    def handle(self, *args: Any, **options: Any) -> None:
        organization = None
        if options["org"] is not None:
            from shipdesk.tenancy.models import Organization

            organization = Organization.objects.filter(pk=options["org"]).first()
            if organization is None:
                raise CommandError(f"Организация {options['org']} не найдена")
        for path in options["files"]:
            try:
                row = tariff_table_load_file(path=path, organization=organization)
            except ServiceError as exc:
                raise CommandError(f"{path}: {exc.detail}") from exc
            self.stdout.write(f"{path}: {row.carrier_code}, действует с "
                              f"{row.effective_from:%d.%m.%Y} — загружена")
