"""``Idempotency-Key`` on creating POSTs: the same key with the same body gets the same
answer without doing the work again; the same key with another body gets 409.

A record is "in progress" while its request runs. Its ``created_at`` is the start of the
attempt that holds it, and the attempt holds it for :data:`LEASE` (the web request timeout
plus a margin): a retry within the lease gets 409 with ``Retry-After``; a retry after it
takes the key over (the request that held it died: a killed worker, a lost machine) and runs
the request again. The takeover and the final write are compare-and-swap on ``created_at``,
so of two attempts only the one holding the lease stores its answer. Every record is purged
:data:`RETENTION` after its attempt started (:func:`idempotency_purge`, a periodic task).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core import gunicorn_conf
from shipdesk.core.models import IdempotencyRecord
from shipdesk.core.problems import problem_response

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# How long an unfinished attempt holds its key: gunicorn's request timeout plus a margin,
# so a request still legitimately running is never taken over by a retry.
LEASE = timedelta(seconds=gunicorn_conf.timeout + 60)
# How long an answer is replayed; a client retries within minutes, not days.
RETENTION = timedelta(hours=24)
PURGE_CHUNK = 1000


def _scope(request: HttpRequest) -> str:
    """Who is asking: the same key sent by two callers must not collide."""
    credential = request.headers.get("X-API-Key") or request.headers.get("Authorization", "")
    if not credential:
        actor = getattr(request, "actor", None)
        credential = f"user:{request.user.pk}:org:{actor.organization_id if actor else '-'}"
    return hashlib.sha256(credential.encode()).hexdigest()


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get(HEADER)
        if request.method != "POST" or not key or not request.path.startswith("/api/"):
            return self.get_response(request)
        if len(key) > MAX_KEY_LENGTH:
            return problem_response(request, status=400, code="idempotency_key_invalid",
                                    title=_("Ключ идемпотентности слишком длинный"))
        try:
            body = request.body
        except RequestDataTooBig:
            return self.get_response(request)  # the API answers 413 for it
        body_hash = hashlib.sha256(body).hexdigest()
        scope = _scope(request)
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    scope=scope, key=key, path=request.path, body_hash=body_hash)
        except IntegrityError:
            taken = self._take_over(request, scope, key, body_hash)
            if isinstance(taken, HttpResponse):
                return taken
            record = taken
        return self._run(request, record)

    def _run(self, request: HttpRequest, record: IdempotencyRecord) -> HttpResponse:
        mine = IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at,
                                                status_code__isnull=True)
        response = self.get_response(request)
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            # Not an answer worth remembering: the caller may retry with the same key.
            mine.delete()
            return response
        mine.update(status_code=response.status_code,
                    content_type=response.get("Content-Type", ""),
                    response_body=bytes(response.content))
        return response

    def _take_over(self, request: HttpRequest, scope: str, key: str,
                   body_hash: str) -> HttpResponse | IdempotencyRecord:
        """The stored answer, a 409, or the record whose expired lease this request now holds."""
        record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
        if record is None:  # purged or given up between our insert and this read
            return problem_response(
                request, status=409, code="idempotency_in_progress",
                title=_("Запрос с этим ключом ещё выполняется"), headers={"Retry-After": "1"})
        if record.body_hash != body_hash or record.path != request.path:
            return problem_response(
                request, status=409, code="idempotency_key_reused",
                title=_("Ключ идемпотентности уже использован с другим запросом"),
                detail=_("Повторите запрос с тем же телом или возьмите новый ключ"))
        if record.status_code is not None:
            response = HttpResponse(bytes(record.response_body or b""),
                                    status=record.status_code, content_type=record.content_type)
            response["Idempotent-Replayed"] = "true"
            return response
        now = timezone.now()
        if record.created_at + LEASE > now:
            return problem_response(
                request, status=409, code="idempotency_in_progress",
                title=_("Запрос с этим ключом ещё выполняется"),
                headers={"Retry-After": str(_retry_after(record.created_at, now))})
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, created_at=record.created_at, status_code__isnull=True,
        ).update(created_at=now)
        if not taken:  # another retry took it over first
            return problem_response(
                request, status=409, code="idempotency_in_progress",
                title=_("Запрос с этим ключом ещё выполняется"), headers={"Retry-After": "1"})
        record.created_at = now
        return record


def _retry_after(started: datetime, now: datetime) -> int:
    """Seconds a client should wait: short while the request may still be running, never
    more than what is left of the lease."""
    left = (started + LEASE - now).total_seconds()
    return max(1, min(5, int(left) + 1))


def idempotency_purge(*, now: datetime | None = None, chunk: int = PURGE_CHUNK,
                      max_chunks: int = 1000) -> int:
    """Deletes records whose attempt started more than :data:`RETENTION` ago, ``chunk`` rows
    per statement so that no transaction holds many locks; returns how many went."""
    cutoff = (now or timezone.now()) - RETENTION
    deleted = 0
    for _chunk in range(max_chunks):
        ids = list(IdempotencyRecord.objects.filter(created_at__lt=cutoff)
                   .order_by("created_at").values_list("pk", flat=True)[:chunk])
        if not ids:
            break
        deleted += IdempotencyRecord.objects.filter(pk__in=ids).delete()[0]
    return deleted
