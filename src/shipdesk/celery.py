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
# Worker recycling (prefork pool, as scale-out workers run): a child process is replaced after
# this many tasks, or after a task that left it above this resident size (KiB), so that one
# large import or document batch does not keep its memory for the child's lifetime.
# ``celery worker --max-tasks-per-child/--max-memory-per-child`` override them; the
# embedded mode's thread pool has no children to replace.
app.conf.worker_max_tasks_per_child = 1000
app.conf.worker_max_memory_per_child = 1_500_000  # KiB, about 1.4 GiB
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


# Each app owns its schedules: an AppConfig may declare ``periodic_tasks``, a sequence of
# (entry name, every, task name) where ``every`` is seconds or the name of a Django setting
# holding seconds. Beat collects them all here when the app is finalized.


def periodic_entries() -> list[tuple[str, float, str]]:
    """Every app's declared beat entries as (name, seconds, task name), in app order."""
    from django.apps import apps
    from django.conf import settings

    entries: list[tuple[str, float, str]] = []
    for config in apps.get_app_configs():
        for name, every, task in getattr(config, "periodic_tasks", ()):
            seconds = float(getattr(settings, every) if isinstance(every, str) else every)
            if seconds <= 0:
                raise ValueError(f"{config.label}: periodic task {name!r} every {seconds} s")
            entries.append((name, seconds, task))
    names = [e[0] for e in entries]
    if len(names) != len(set(names)):  # beat keys entries by name: one would vanish
        raise ValueError(f"periodic task names are not unique: {sorted(names)}")
    return entries


@app.on_after_finalize.connect
def _schedule_periodic(sender: Celery, **kwargs: object) -> None:
    for name, seconds, task in periodic_entries():
        sender.add_periodic_task(seconds, sender.signature(task), name=name)
