"""Integrations' Celery tasks: thin, by id, idempotent."""

from __future__ import annotations

from celery import shared_task


# MoySklad
@shared_task(name="shipdesk.integrations.tasks.moysklad_run", ignore_result=True)
def moysklad_run(ids: list[int]) -> None:
    """A pass over each MoySklad connection's due work (see moysklad/services.py)."""
    from shipdesk.integrations.moysklad.services import connections_run

    connections_run(ids)
