"""The Celery app, for both modes. Queues are split by kind of work so each scales and
rate-limits on its own: ``default``, ``tracking``, ``documents``, ``notifications``."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shipdesk.settings")

app = Celery("shipdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "shipdesk.tracking.*": {"queue": "tracking"},
    "shipdesk.documents.*": {"queue": "documents"},
    "shipdesk.notifications.*": {"queue": "notifications"},
}
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_sweep(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sender.add_periodic_task(float(settings.SHIPDESK_SWEEP_SECONDS),
                             sender.signature("shipdesk.core.tasks.sweep_due_work"),
                             name="sweep due work")
