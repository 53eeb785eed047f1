"""The Celery app, for both modes. Queues are split by kind of work so each scales and
rate-limits on its own: ``default``, ``tracking``, ``documents``, ``notifications``.

Every task's base class is :class:`shipdesk.core.tasks.ShipdeskTask` (retries with backoff,
failures logged with context, ``acks_late``). Workers log through Django's ``LOGGING``
(JSON in scale-out mode, readable text in embedded mode)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import setup_logging

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shipdesk.settings")

app = Celery("shipdesk", task_cls="shipdesk.core.tasks:ShipdeskTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_default_queue = "default"
app.conf.task_routes = {
    "shipdesk.tracking.*": {"queue": "tracking"},
    "shipdesk.documents.*": {"queue": "documents"},
    "shipdesk.notifications.*": {"queue": "notifications"},
}
app.autodiscover_tasks()


@setup_logging.connect
def _django_logging(**_kwargs: Any) -> None:
    """Use the project's logging configuration instead of Celery's own."""
    import logging.config

    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@app.on_after_finalize.connect
def _schedule_sweep(sender: Celery, **kwargs: object) -> None:
    from django.conf import settings

    sender.add_periodic_task(float(settings.SHIPDESK_SWEEP_SECONDS),
                             sender.signature("shipdesk.core.tasks.sweep_due_work"),
                             name="sweep due work")
    # Tracking's periodic chores: the first daily-report time of new organizations, and
    # flags that depend on the clock alone (stuck, overdue, storage ending).
    sender.add_periodic_task(3600.0, sender.signature("shipdesk.tracking.tasks.schedule_reports"),
                             name="tracking: schedule first reports")
    sender.add_periodic_task(86400.0, sender.signature("shipdesk.tracking.tasks.recheck"),
                             name="tracking: recheck clock-driven flags")
    sender.add_periodic_task(86400.0,
                             sender.signature("shipdesk.tracking.tasks.sync_pickup_offices"),
                             name="tracking: load carriers' pickup points")
