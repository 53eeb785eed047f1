"""``shipdesk import FILE --org ORG [--mode valid_rows|all_or_nothing] [--json]``: the same
import as the upload page, with a progress bar on a terminal and a machine-readable summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from shipdesk.core.errors import ServiceError
from shipdesk.shipments import importing
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.services import system_actor


class Command(BaseCommand):
    help = "Загружает отправления из XLSX/XLS/ODS/CSV в организацию"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, help="id, ИНН или название организации")
        parser.add_argument("--mode", choices=["valid_rows", "all_or_nothing"],
                            default="valid_rows")
        parser.add_argument("--json", action="store_true", help="итог в JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        as_json: bool = options["json"]
        if not path.is_file():
            raise CommandError(f"Нет файла {path}")
        org_ref = str(options["org"])
        query = Q(inn=org_ref) | Q(name=org_ref)
        if org_ref.isdigit():
            query |= Q(pk=int(org_ref))
        organizations = list(Organization.objects.filter(query)[:2])
        if len(organizations) != 1:
            raise CommandError(f"Организация «{org_ref}» не найдена или не одна")
        actor = system_actor(organizations[0])
        tty = sys.stderr.isatty() and not as_json

        def bar(done: int, total: int) -> None:
            if not tty:
                return
            width = 40
            filled = int(width * done / total) if total else width
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            sys.stderr.flush()

        try:
            with path.open("rb") as stream:
                job, created = importing.import_job_create(
                    actor=actor, upload=File(stream, name=path.name), mode=options["mode"],
                    run=False)
            if created or job.status != job.Status.DONE:
                job = importing.import_job_run(job_id=job.pk, actor=actor, progress=bar)
        except ServiceError as exc:
            if as_json:
                self.stdout.write(json.dumps({
                    "status": "rejected", "message": str(exc.detail),
                    "errors": [e.as_dict() for e in exc.errors]}, ensure_ascii=False))
                raise SystemExit(2) from exc
            raise CommandError(f"{exc.detail}") from exc
        if tty:
            sys.stderr.write("\n")
        summary = {
            "job_id": job.pk, "status": job.status, "file": job.filename,
            "already_imported": not created, "mode": job.mode, "rows": job.total_rows,
            "created": job.created_count, "skipped": job.skipped_count,
            "rejected": job.rejected_count, "message": job.message,
            "error_report": job.error_report.path if job.error_report else None,
            "errors": job.errors,
        }
        if as_json:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
        else:
            self.stdout.write(job.message)
            for error in job.errors[:50]:
                self.stdout.write(f"  строка {error['row']}, {error['column'] or '-'} "
                                  f"({error['header'] or error['field']}): {error['message']}")
            if job.error_report:
                self.stdout.write(f"Отчёт об ошибках: {job.error_report.path}")
        if job.status == job.Status.FAILED:
            raise SystemExit(2)
