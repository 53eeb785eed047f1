"""The base of every Celery task in Shipdesk, and the due-work sweep.

Every task of every domain gets :class:`ShipdeskTask` as its base (it is the Celery app's
``task_cls``): failures are logged with the task's name, arguments and the id of the
request that queued it; transient errors are retried with exponential backoff and jitter;
a message is acknowledged only after the task ran (``acks_late``), so tasks must be
idempotent. ``shipdesk_task`` is the decorator to use (``@shipdesk_task(queue="documents")``).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.db import InterfaceError, OperationalError

from shipdesk.core import duework
from shipdesk.core.errors import TransientError
from shipdesk.core.logging import request_id_var

log = logging.getLogger("shipdesk.tasks")

REQUEST_ID_HEADER = "shipdesk_request_id"
# What is worth trying again: the network, a broker hiccup, a locked/lost database connection.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError, ConnectionError, TimeoutError, OperationalError, InterfaceError,
)
try:  # carriers' own transient errors, when that package defines them
    from shipdesk.carriers.base import RateLimited

    TRANSIENT_ERRORS += (RateLimited,)
except ImportError:  # pragma: no cover
    pass


class ShipdeskTask(Task):
    acks_late = True
    reject_on_worker_lost = True
    autoretry_for = TRANSIENT_ERRORS
    retry_backoff = 5  # seconds: 5, 10, 20, ... with jitter
    retry_backoff_max = 600
    retry_jitter = True
    max_retries = 8

    def on_retry(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        log.warning("task %s retrying after %s: %s", self.name, exc.__class__.__name__, exc,
                    extra=self._context(task_id, args, kwargs))

    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        log.error("task %s failed: %s: %s", self.name, exc.__class__.__name__, exc,
                  exc_info=(type(exc), exc, exc.__traceback__),
                  extra=self._context(task_id, args, kwargs))

    def _context(self, task_id: str, args: Any, kwargs: Any) -> dict[str, Any]:
        return {"task_name": self.name, "task_id": task_id, "task_args": repr(args)[:1000],
                "task_kwargs": repr(kwargs)[:1000], "retries": self.request.retries,
                "origin_request_id": _origin_request_id(self.request)}


def _origin_request_id(request: Any) -> str:
    headers = getattr(request, "headers", None) or {}
    return (headers.get(REQUEST_ID_HEADER) if isinstance(headers, dict) else None) or getattr(
        request, REQUEST_ID_HEADER, None) or "-"


def shipdesk_task(*args: Any, **options: Any) -> Any:
    """``shared_task`` with :class:`ShipdeskTask` as base. Use bare or with options."""
    options.setdefault("base", ShipdeskTask)
    if len(args) == 1 and callable(args[0]) and not options.keys() - {"base"}:
        return shared_task(base=ShipdeskTask)(args[0])
    return shared_task(*args, **options)


@before_task_publish.connect
def _pass_request_id(headers: dict[str, Any] | None = None, **_kwargs: Any) -> None:
    """The id of the web request (or task) that queued a task travels with it."""
    if headers is not None and request_id_var.get() != "-":
        headers.setdefault(REQUEST_ID_HEADER, request_id_var.get())


_tokens: dict[str, Any] = {}


@task_prerun.connect
def _set_log_context(task_id: str | None = None, task: Any = None, **_kwargs: Any) -> None:
    if task_id is None or task is None:
        return
    origin = _origin_request_id(task.request)
    _tokens[task_id] = request_id_var.set(origin if origin != "-" else task_id)


@task_postrun.connect
def _reset_log_context(task_id: str | None = None, **_kwargs: Any) -> None:
    token = _tokens.pop(task_id or "", None)
    if token is not None:
        request_id_var.reset(token)


@shipdesk_task(name="shipdesk.core.tasks.sweep_due_work", ignore_result=True)
def sweep_due_work() -> dict[str, int]:
    return duework.sweep()



@shipdesk_task(name="shipdesk.core.tasks.purge_idempotency_records", ignore_result=True)
def purge_idempotency_records() -> int:
    from shipdesk.core.idempotency import idempotency_purge

    return idempotency_purge()
