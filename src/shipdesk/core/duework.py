"""Due work: the database says what must be done and when; a periodic sweep hands it out.

A domain registers a :class:`DueWork` naming the model, its "due at" column and the task
that does the work for a list of ids. The sweep *claims* due rows by pushing their due time
forward by a lease before dispatching, so two sweeps never dispatch the same row twice, and
a row whose worker crashed comes due again once its lease runs out. The task sets the next
due time (or clears it) when it is done. Tasks must therefore be idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.db import models, transaction
from django.utils import timezone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueWork:
    name: str
    model: type[models.Model]
    due_field: str
    task: Any  # a Celery task taking ``ids: list[int]``
    lease: timedelta = timedelta(minutes=10)
    chunk_size: int = 500
    max_per_sweep: int = 50_000
    extra_filter: Callable[[], models.Q] = field(default=lambda: models.Q())


_registry: dict[str, DueWork] = {}


def register(work: DueWork) -> DueWork:
    _registry[work.name] = work
    return work


def registered() -> dict[str, DueWork]:
    return dict(_registry)


def claim_due(work: DueWork, *, now: datetime, limit: int) -> list[int]:
    """Takes up to ``limit`` due ids and pushes their due time past the lease."""
    with transaction.atomic():
        qs = work.model._default_manager.filter(
            models.Q(**{f"{work.due_field}__lte": now}) & work.extra_filter()
        ).order_by(work.due_field)
        ids = list(qs.select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit])
        if ids:
            work.model._default_manager.filter(pk__in=ids).update(
                **{work.due_field: now + work.lease})
    return ids


def sweep(*, now: datetime | None = None, names: list[str] | None = None) -> dict[str, int]:
    """Dispatches everything due; returns how many rows each kind of work handed out."""
    now = now or timezone.now()
    dispatched: dict[str, int] = {}
    for name, work in _registry.items():
        if names and name not in names:
            continue
        total = 0
        while total < work.max_per_sweep:
            ids = claim_due(work, now=now, limit=work.chunk_size)
            if not ids:
                break
            transaction.on_commit(partial(work.task.delay, ids))
            total += len(ids)
            if len(ids) < work.chunk_size:
                break
        if total:
            log.info("due work %s: dispatched %d", name, total)
        dispatched[name] = total
    return dispatched
