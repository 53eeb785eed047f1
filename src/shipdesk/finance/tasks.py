from __future__ import annotations

from celery import shared_task

from shipdesk.finance import mailin, services


@shared_task(name="shipdesk.finance.tasks.poll_mailboxes", ignore_result=True)
def poll_mailboxes(ids: list[int]) -> None:
    for mailbox_id in ids:
        mailin.mailbox_poll(mailbox_id=mailbox_id)


@shared_task(name="shipdesk.finance.tasks.pull_registries", ignore_result=True)
def pull_registries(ids: list[int]) -> None:
    for terms_id in ids:
        services.registries_pull_due(terms_id=terms_id)


@shared_task(name="shipdesk.finance.tasks.run_jobs", ignore_result=True)
def run_jobs(ids: list[int]) -> None:
    import datetime as dt

    from django.utils import timezone

    from shipdesk.finance.models import FinanceJob

    services.daily_job()
    FinanceJob.objects.filter(pk__in=ids).update(
        due_at=timezone.now() + dt.timedelta(minutes=15))
