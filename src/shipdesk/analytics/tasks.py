from __future__ import annotations

from celery import shared_task

from shipdesk.analytics import reports


@shared_task(name="shipdesk.analytics.tasks.weekly_report", ignore_result=True)
def weekly_report(ids: list[int]) -> int:
    """Due work: the weekly statistics of these settings rows' organizations."""
    return reports.weekly_reports_send(settings_ids=ids)
