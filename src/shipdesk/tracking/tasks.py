"""Thin Celery tasks: load by id, call a service. All idempotent."""

from __future__ import annotations

from celery import shared_task

from shipdesk.tracking import polling, services


@shared_task(name="shipdesk.tracking.tasks.poll", ignore_result=True)
def poll(ids: list[int]) -> int:
    return polling.tracking_poll(shipment_ids=ids).asked


@shared_task(name="shipdesk.tracking.tasks.fetch_tickets", ignore_result=True)
def fetch_tickets(ids: list[int]) -> int:
    return polling.tracking_tickets_fetch(ticket_ids=ids).fetched


@shared_task(name="shipdesk.tracking.tasks.webhooks_send", ignore_result=True)
def webhooks_send(ids: list[int] | None) -> int:
    return services.webhook_deliveries_send(delivery_ids=ids)


@shared_task(name="shipdesk.tracking.tasks.daily_report", ignore_result=True)
def daily_report(ids: list[int]) -> int:
    # ids of TrackingSettings rows (the due-work model), not of organizations
    return services.tracking_daily_reports_send(settings_ids=ids)


@shared_task(name="shipdesk.tracking.tasks.discover", ignore_result=True)
def discover() -> int:
    return polling.tracking_discover()


@shared_task(name="shipdesk.tracking.tasks.recheck", ignore_result=True)
def recheck() -> int:
    return services.tracking_recheck()


@shared_task(name="shipdesk.tracking.tasks.schedule_reports", ignore_result=True)
def schedule_reports() -> int:
    return services.tracking_reports_schedule()


@shared_task(name="shipdesk.tracking.tasks.sync_pickup_offices", ignore_result=True)
def sync_pickup_offices() -> int:
    return services.tracking_pickup_offices_sync()


@shared_task(name="shipdesk.tracking.tasks.fetch_pickup_offices", ignore_result=True)
def fetch_pickup_offices(ids: list[int]) -> int:
    return services.tracking_pickup_offices_fetch(office_ids=ids)
