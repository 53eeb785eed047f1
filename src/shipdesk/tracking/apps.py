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
    # Beat entries (collected by shipdesk.celery); polls, tickets, webhooks and reports are
    # due work handed out by core's sweep. Clock-only chores: start tracking numbered
    # shipments, first daily-report times of new organizations, flags that depend on the
    # clock alone (stuck, overdue, storage ending), carriers' pickup points.
    periodic_tasks = (
        ("tracking: start tracking new numbers", 600.0, "shipdesk.tracking.tasks.discover"),
        ("tracking: schedule first reports", 3600.0, "shipdesk.tracking.tasks.schedule_reports"),
        ("tracking: recheck clock-driven flags", 86400.0, "shipdesk.tracking.tasks.recheck"),
        ("tracking: load carriers' pickup points", 86400.0,
         "shipdesk.tracking.tasks.sync_pickup_offices"),
    )

    def ready(self) -> None:
        from django.db.models import Q

        from shipdesk.core import duework
        from shipdesk.tracking import polling, services, tasks
        from shipdesk.tracking.models import (
            PickupOffice,
            TrackingSettings,
            TrackingState,
            TrackingTicket,
            WebhookDelivery,
        )

        # Polls are claimed with a lease per kind of carrier (polling's leases): long enough
        # for a ticket's first fetch, or minutes for carriers that answer within the call.
        def tickets() -> Q:
            return Q(carrier_code__in=sorted(polling.ticket_carrier_codes()))

        duework.register(duework.DueWork(
            name="tracking.poll.ticket", model=TrackingState, due_field="next_poll_at",
            task=tasks.poll, chunk_size=3000, max_per_sweep=200_000,
            lease=polling.TICKET_POLL_LEASE, extra_filter=lambda: Q(final=False) & tickets()))
        duework.register(duework.DueWork(
            name="tracking.poll.sync", model=TrackingState, due_field="next_poll_at",
            task=tasks.poll, chunk_size=3000, max_per_sweep=200_000,
            lease=polling.SYNC_POLL_LEASE, extra_filter=lambda: Q(final=False) & ~tickets()))
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
        # Offices parcels arrived at, loaded one by one from carriers that have too many to
        # list (services.tracking_pickup_offices_note makes them due): one call each.
        duework.register(duework.DueWork(
            name="tracking.pickup_offices", model=PickupOffice, due_field="next_fetch_at",
            task=tasks.fetch_pickup_offices, chunk_size=services.OFFICE_FETCH_CHUNK,
            lease=services.OFFICE_FETCH_LEASE))
