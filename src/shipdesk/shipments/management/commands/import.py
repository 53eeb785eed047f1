"""``shipdesk import FILE --org ORG [--mode valid_rows|all_or_nothing] [--weight-unit kg|g]
[--json]``: the same import as the upload page, with a progress line on stderr and a
machine-readable summary. Exit codes: 0 every row stored (or skipped as stored before),
2 partial (some rows rejected, the others stored), 1 failure (the file refused, nothing
stored, or an all-or-nothing file with errors)."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from django.core.files import File
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q

from shipdesk.core.errors import ServiceError
from shipdesk.shipments import importing
from shipdesk.shipments.models import ImportJob
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.services import system_actor

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_PARTIAL = 0, 1, 2


def exit_code(job: ImportJob) -> int:
    """0 success, 2 partial (some rows rejected), 1 failure (nothing stored because of
    errors: the file refused, or all or nothing with errors)."""
    if job.status == ImportJob.Status.FAILED:
        return EXIT_FAILED
    if not job.rejected_count:
        return EXIT_OK
    if job.created_count or job.skipped_count:
        return EXIT_PARTIAL if job.mode == ImportJob.Mode.VALID_ROWS else EXIT_FAILED
    return EXIT_FAILED


class Command(BaseCommand):
    help = ("Загружает отправления из XLSX/XLS/ODS/CSV в организацию. Коды выхода: 0 — все "
            "строки загружены (или уже были загружены), 2 — часть строк отклонена, остальные "
            "загружены, 1 — ничего не загружено (файл отклонён или в режиме «всё или ничего» "
            "есть ошибки)")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--org", required=True, help="id, ИНН или название организации")
        parser.add_argument("--mode", choices=["valid_rows", "all_or_nothing"],
                            default="valid_rows")
        parser.add_argument("--weight-unit", choices=["kg", "g"], default=None,
                            help="единица веса, если ни заголовок, ни значения её не говорят")
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
        tty = sys.stderr.isatty()
        started = time.monotonic()
        shown = [0.0]

        def line(done: int, total: int) -> None:
            # a progress line on stderr: rewritten in place on a terminal, one per chunk
            # elsewhere (a log); stdout keeps the summary alone
            now = time.monotonic()
            if not tty and done < total and now - shown[0] < 1:
                return
            shown[0] = now
            rate = done / max(now - started, 0.001)
            left = int((total - done) / rate) if rate and total > done else 0
            text = (f"{done}/{total} строк, {rate:.0f} строк/с, осталось ~{left} с"
                    if total else f"{done} строк")
            sys.stderr.write(f"\r{text}\033[K" if tty else f"{text}\n")
            sys.stderr.flush()

        try:
            with path.open("rb") as stream:
                job, created = importing.import_job_create(
                    actor=actor, upload=File(stream, name=path.name), mode=options["mode"],
                    weight_unit=options["weight_unit"], dispatch=False)
            if created or job.status != job.Status.DONE:
                job = importing.import_job_run(job_id=job.pk, actor=actor, progress=line)
        except ServiceError as exc:
            self._refused(as_json, str(exc.detail), [e.as_dict() for e in exc.errors])
        except Exception as exc:  # the caller gets a summary, not a traceback
            log.exception("import of %s failed", path)
            self._refused(as_json, f"Загрузка прервана: {exc}", [], status="failed")
        if tty:
            sys.stderr.write("\n")
        summary = {
            "job_id": job.pk, "status": job.status, "file": job.filename,
            "already_imported": not created, "mode": job.mode, "rows": job.total_rows,
            "created": job.created_count, "skipped": job.skipped_count,
            "rejected": job.rejected_count, "unnumbered": job.unnumbered_count,
            "message": job.message,
            "error_report": job.error_report.path if job.error_report else None,
            "error_list": job.error_list.path if job.error_list else None,
            "errors": job.errors,
        }
        if as_json:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, default=str))
        else:
            self.stdout.write(job.message)
            for error in job.errors[:50]:
                self.stdout.write(f"  строка {error['row']}, {error['column'] or '-'} "
                                  f"({error['header'] or error['field']}): {error['message']}")
            if job.error_list:
                self.stdout.write(f"Все ошибки: {job.error_list.path}")
            if job.error_report:
                self.stdout.write(f"Строки с ошибками: {job.error_report.path}")
        code = exit_code(job)
        if code:
            raise SystemExit(code)

    def _refused(self, as_json: bool, message: str, errors: list[dict[str, Any]],
                 status: str = "rejected") -> None:
        if as_json:
            self.stdout.write(json.dumps({"status": status, "message": message,
                                          "errors": errors}, ensure_ascii=False))
        else:
            self.stderr.write(message)
            for error in errors[:50]:
                self.stderr.write(f"  {error.get('message', '')}")
        raise SystemExit(EXIT_FAILED)
