from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shipdesk.core"
    label = "core"
    verbose_name = "Shipdesk core"
    # Beat entries (collected by shipdesk.celery): the sweep that hands out every app's due work.
    periodic_tasks = (
        ("sweep due work", "SHIPDESK_SWEEP_SECONDS", "shipdesk.core.tasks.sweep_due_work"),
        # Idempotency-Key answers older than 24 h, deleted in bounded chunks.
        ("purge idempotency records", 3600, "shipdesk.core.tasks.purge_idempotency_records"),
    )
