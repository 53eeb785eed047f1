"""Numbering's background work: thin, load by id and call a service."""

from __future__ import annotations

from shipdesk.core.tasks import shipdesk_task


@shipdesk_task
def pool_low_notify_task(pool_id: int, left: int) -> None:
    """Tells the organization's owners that a carrier's tracking numbers run low. Sent once
    per crossing of the threshold (the issuing transaction marks the pool)."""
    from shipdesk.numbering.services import pool_low_notify

    pool_low_notify(pool_id=pool_id, left=left)
