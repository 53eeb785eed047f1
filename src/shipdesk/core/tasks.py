from __future__ import annotations

from celery import shared_task

from shipdesk.core import duework


@shared_task(name="shipdesk.core.tasks.sweep_due_work", ignore_result=True)
def sweep_due_work() -> dict[str, int]:
    return duework.sweep()
