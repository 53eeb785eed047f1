"""Claims' background work: thin tasks that load by id and call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="shipdesk.claims.tasks.send_reminders", ignore_result=True)
def send_reminders(ids: list[int]) -> None:
    from shipdesk.claims import services

    services.reminders_send(claim_ids=ids)


@shared_task(name="shipdesk.claims.tasks.detect", ignore_result=True)
def detect(ids: list[int]) -> None:
    from shipdesk.claims import services

    services.detection_run_due(settings_ids=ids)


@shared_task(name="shipdesk.claims.tasks.run_audits", ignore_result=True)
def run_audits(ids: list[int]) -> None:
    from shipdesk.claims import audits

    for audit_id in ids:
        audits.audit_run(audit_id=audit_id)
