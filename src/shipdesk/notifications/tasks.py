from __future__ import annotations

from celery import shared_task

from shipdesk.notifications import services


@shared_task(name="shipdesk.notifications.tasks.send_messages", ignore_result=True)
def send_messages(ids: list[int]) -> None:
    services.outbox_send_ids(ids=ids)


@shared_task(name="shipdesk.notifications.tasks.run_jobs", ignore_result=True)
def run_jobs(ids: list[int]) -> None:
    services.jobs_run(ids=ids)
