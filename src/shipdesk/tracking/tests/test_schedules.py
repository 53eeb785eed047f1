"""Beat's schedule is collected from the apps' own declarations (``periodic_tasks`` on their
AppConfig), not written in celery.py."""

from __future__ import annotations

import pytest
from django.apps import apps

from shipdesk.celery import app as celery_app
from shipdesk.celery import periodic_entries
from shipdesk.core import duework


@pytest.fixture
def beat_schedule() -> dict:
    celery_app.loader.import_default_modules()  # the tasks, as a worker or beat loads them
    celery_app.finalize(auto=True)  # runs the after-finalize hook that adds the entries
    return celery_app.conf.beat_schedule


def test_beat_schedule_holds_every_apps_declared_entries(beat_schedule, settings):
    declared = {config.label: config.periodic_tasks for config in apps.get_app_configs()
                if getattr(config, "periodic_tasks", ())}
    assert set(declared) >= {"core", "tracking"}
    for label, entries in declared.items():
        for name, every, task in entries:
            entry = beat_schedule[name]
            assert entry["task"] == task, label
            seconds = getattr(settings, every) if isinstance(every, str) else every
            assert entry["schedule"] == float(seconds), name
            assert task in celery_app.tasks, f"{label}: {task} is not a registered task"


def test_the_schedules_that_lived_in_celery_py_are_all_kept(beat_schedule, settings):
    by_task = {e["task"]: e["schedule"] for e in beat_schedule.values()}
    assert by_task["shipdesk.core.tasks.sweep_due_work"] == float(settings.SHIPDESK_SWEEP_SECONDS)
    assert by_task["shipdesk.tracking.tasks.schedule_reports"] == 3600.0
    assert by_task["shipdesk.tracking.tasks.recheck"] == 86400.0
    assert by_task["shipdesk.tracking.tasks.sync_pickup_offices"] == 86400.0
    # numbered shipments start being tracked without anyone pressing "refresh now"
    assert by_task["shipdesk.tracking.tasks.discover"] == 600.0


def test_notifications_periodic_jobs_still_run_through_the_sweep():
    # notifications own no beat entry: their jobs are due work the sweep hands out
    work = duework.registered()
    assert {"notifications.send", "notifications.jobs"} <= set(work)
    assert {"tracking.poll.ticket", "tracking.poll.sync", "tracking.tickets"} <= set(work)


def test_the_sweep_period_follows_its_setting(settings):
    settings.SHIPDESK_SWEEP_SECONDS = 7
    assert ("sweep due work", 7.0, "shipdesk.core.tasks.sweep_due_work") in periodic_entries()


def test_a_bad_declaration_is_refused_with_the_apps_name(monkeypatch):
    tracking = apps.get_app_config("tracking")
    monkeypatch.setattr(tracking, "periodic_tasks",
                        (("sweep due work", 60.0, "shipdesk.tracking.tasks.recheck"),))
    with pytest.raises(ValueError, match="not unique"):
        periodic_entries()
    monkeypatch.setattr(tracking, "periodic_tasks", (("x", 0, "shipdesk.tracking.tasks.recheck"),))
    with pytest.raises(ValueError, match="tracking: periodic task 'x'"):
        periodic_entries()
