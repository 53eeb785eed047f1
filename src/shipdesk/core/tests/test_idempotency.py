"""Idempotency-Key: a key whose request died is taken over after its lease; old answers
are purged."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from shipdesk.celery import periodic_entries
from shipdesk.core import idempotency
from shipdesk.core.models import IdempotencyRecord
from shipdesk.core.tasks import purge_idempotency_records
from shipdesk.tenancy.models import ApiKey

pytestmark = pytest.mark.django_db
PATH = "/api/v1/api-keys"
BODY = json.dumps({"name": "после сбоя"})


def _crashed(api_key: str, key: str, *, started_ago: timedelta) -> IdempotencyRecord:
    """The record a request leaves when its worker is killed mid-way: no answer stored."""
    record = IdempotencyRecord.objects.create(
        scope=hashlib.sha256(api_key.encode()).hexdigest(), key=key, path=PATH,
        body_hash=hashlib.sha256(BODY.encode()).hexdigest())
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        created_at=timezone.now() - started_ago)
    return record


def _post(api: Any, key: str) -> Any:
    return api.post(PATH, BODY, content_type="application/json",
                    headers={"Idempotency-Key": key})


def test_retry_after_the_lease_takes_over_a_crashed_request_and_succeeds(api: Any,
                                                                         api_key: str) -> None:
    _crashed(api_key, "k-crash", started_ago=idempotency.LEASE + timedelta(seconds=1))
    keys_before = ApiKey.objects.count()

    retry = _post(api, "k-crash")

    assert retry.status_code == 201, retry.content
    assert ApiKey.objects.count() == keys_before + 1
    record = IdempotencyRecord.objects.get(key="k-crash")
    assert record.status_code == 201
    again = _post(api, "k-crash")  # and from now on the answer is replayed
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == retry.json()
    assert ApiKey.objects.count() == keys_before + 1


def test_retry_within_the_lease_is_still_told_to_wait(api: Any, api_key: str) -> None:
    _crashed(api_key, "k-running", started_ago=idempotency.LEASE - timedelta(seconds=30))
    keys_before = ApiKey.objects.count()

    retry = _post(api, "k-running")

    assert retry.status_code == 409
    assert retry.json()["type"].endswith(":idempotency_in_progress")
    assert 1 <= int(retry["Retry-After"]) <= 5
    assert ApiKey.objects.count() == keys_before
    assert IdempotencyRecord.objects.get(key="k-running").status_code is None


def test_lease_outlasts_the_web_request_timeout() -> None:
    from shipdesk.core import gunicorn_conf

    assert idempotency.LEASE.total_seconds() > gunicorn_conf.timeout


def test_slow_original_finishing_after_a_takeover_does_not_overwrite_the_new_answer(
        api: Any, api_key: str) -> None:
    record = _crashed(api_key, "k-slow", started_ago=idempotency.LEASE + timedelta(seconds=1))
    stale = IdempotencyRecord.objects.get(pk=record.pk)  # what the slow original holds
    assert _post(api, "k-slow").status_code == 201
    stored = IdempotencyRecord.objects.get(pk=record.pk).response_body

    middleware = idempotency.IdempotencyMiddleware(lambda request: _fake_response())
    middleware._run(_fake_request(), stale)

    assert IdempotencyRecord.objects.get(pk=record.pk).response_body == stored


def _fake_request() -> Any:
    from django.test import RequestFactory

    return RequestFactory().post(PATH, BODY, content_type="application/json")


def _fake_response() -> Any:
    from django.http import HttpResponse

    return HttpResponse(b'{"late": true}', status=201, content_type="application/json")


def test_purge_deletes_answers_older_than_a_day_and_keeps_fresh_ones() -> None:
    now = timezone.now()
    for i in range(25):
        IdempotencyRecord.objects.create(scope="s", key=f"old-{i}", path=PATH, body_hash="h",
                                         status_code=201)
    IdempotencyRecord.objects.filter(key__startswith="old-").update(
        created_at=now - timedelta(hours=25))
    IdempotencyRecord.objects.create(scope="s", key="fresh", path=PATH, body_hash="h",
                                     status_code=201)
    IdempotencyRecord.objects.create(scope="s", key="running", path=PATH, body_hash="h")

    assert idempotency.idempotency_purge(now=now, chunk=10) == 25

    assert sorted(IdempotencyRecord.objects.values_list("key", flat=True)) == [
        "fresh", "running"]


def test_purge_stops_after_its_chunk_budget() -> None:
    old = timezone.now() - timedelta(days=3)
    for i in range(7):
        IdempotencyRecord.objects.create(scope="s", key=f"k{i}", path=PATH, body_hash="h",
                                         status_code=201)
    IdempotencyRecord.objects.update(created_at=old)

    assert idempotency.idempotency_purge(chunk=3, max_chunks=2) == 6
    assert IdempotencyRecord.objects.count() == 1


def test_purge_is_a_periodic_task() -> None:
    IdempotencyRecord.objects.create(scope="s", key="old", path=PATH, body_hash="h",
                                     status_code=201)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(days=2))

    assert purge_idempotency_records() == 1
    assert any(task == "shipdesk.core.tasks.purge_idempotency_records"
               for _name, _every, task in periodic_entries())
