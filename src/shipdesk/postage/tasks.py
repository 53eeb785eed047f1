from __future__ import annotations

from celery import shared_task

from shipdesk.postage import services


@shared_task(name="shipdesk.postage.tasks.marks_from_tracking", ignore_result=True)
def marks_from_tracking(ids: list[int]) -> None:
    """Tracking's feed: items accepted at the office use their marks (idempotent)."""
    services.marks_from_tracking()
