from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TrackingConfig(AppConfig):
    name = "shipdesk.tracking"
    label = "tracking"
    verbose_name = _("Отслеживание")
    nav_items = [(40, "tracking:dashboard", _("Отслеживание"))]
    tenant_walker_exempt = {
        "tracking:public": "the recipient's public page, reached by an unguessable token",
    }

    def ready(self) -> None:
        from datetime import timedelta

        from django.db.models import Q

        from shipdesk.core import duework
        from shipdesk.tracking import tasks
        from shipdesk.tracking.models import (
            TrackingSettings,
            TrackingState,
            TrackingTicket,
            WebhookDelivery,
        )

        # The lease outlasts a Russian Post ticket's 15 minutes before its first fetch, so a
        # requested ticket needs no extra write to keep its shipments from being polled again.
        duework.register(duework.DueWork(
            name="tracking.poll", model=TrackingState, due_field="next_poll_at",
            task=tasks.poll, chunk_size=3000, max_per_sweep=200_000,
            lease=timedelta(minutes=30), extra_filter=lambda: Q(final=False)))
        # Tickets a carrier answers later: a few per task, each answer is thousands of events.
        duework.register(duework.DueWork(
            name="tracking.tickets", model=TrackingTicket, due_field="next_fetch_at",
            task=tasks.fetch_tickets, chunk_size=2))
        duework.register(duework.DueWork(
            name="tracking.webhooks", model=WebhookDelivery, due_field="next_attempt_at",
            task=tasks.webhooks_send, extra_filter=lambda: Q(state=WebhookDelivery.PENDING)))
        duework.register(duework.DueWork(
            name="tracking.daily_report", model=TrackingSettings, due_field="next_report_at",
            task=tasks.daily_report, chunk_size=100))
