"""``Idempotency-Key`` on creating POSTs: the same key with the same body gets the same
answer without doing the work again; the same key with another body gets 409."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from shipdesk.core.models import IdempotencyRecord
from shipdesk.core.problems import problem_response

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


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
            return self._replay(request, scope, key, body_hash)

        response = self.get_response(request)
        if response.status_code >= 500 or response.status_code in (401, 403, 429):
            # Not an answer worth remembering: the caller may retry with the same key.
            IdempotencyRecord.objects.filter(pk=record.pk).delete()
            return response
        IdempotencyRecord.objects.filter(pk=record.pk).update(
            status_code=response.status_code,
            content_type=response.get("Content-Type", ""),
            response_body=bytes(response.content),
        )
        return response

    def _replay(self, request: HttpRequest, scope: str, key: str, body_hash: str) -> HttpResponse:
        record = IdempotencyRecord.objects.get(scope=scope, key=key)
        if record.body_hash != body_hash or record.path != request.path:
            return problem_response(
                request, status=409, code="idempotency_key_reused",
                title=_("Ключ идемпотентности уже использован с другим запросом"),
                detail=_("Повторите запрос с тем же телом или возьмите новый ключ"))
        if record.status_code is None:
            return problem_response(
                request, status=409, code="idempotency_in_progress",
                title=_("Запрос с этим ключом ещё выполняется"), headers={"Retry-After": "1"})
        response = HttpResponse(bytes(record.response_body or b""), status=record.status_code,
                                content_type=record.content_type)
        response["Idempotent-Replayed"] = "true"
        return response
