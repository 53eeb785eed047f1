"""Shipments' background work: thin, load by id and call a service; idempotent."""

from __future__ import annotations

from shipdesk.core.tasks import shipdesk_task


@shipdesk_task
def import_job_run_task(job_id: int) -> None:
    """Runs an uploaded file's import. Run again (a redelivered message, a crashed worker)
    it skips what it already stored."""
    from shipdesk.shipments.importing import import_job_run

    import_job_run(job_id=job_id)


@shipdesk_task
def register_task(ids: list[int]) -> int:
    """Sends these shipments to their carriers (those still waiting to be sent)."""
    from shipdesk.shipments.registration import shipments_register

    return shipments_register(shipment_ids=ids).registered


@shipdesk_task
def demo_autopilot_task() -> int:
    """Embedded mode's demo only: hands over the registered demo parcels."""
    from shipdesk.shipments.demo import demo_autopilot

    return demo_autopilot()
