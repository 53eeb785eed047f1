"""The base of every Celery task: retries transient errors, logs failures with context."""

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from celery.signals import task_retry

import shipdesk
from shipdesk.core.errors import TransientError
from shipdesk.core.logging import request_id_var
from shipdesk.core.tasks import ShipdeskTask, shipdesk_task, sweep_due_work

calls: list[int] = []


@shipdesk_task(name="shipdesk.core.tests.flaky")
def flaky(fail_times: int) -> str:
    calls.append(1)
    if len(calls) <= fail_times:
        raise TransientError("carrier timed out")
    return "done"


@shipdesk_task(name="shipdesk.core.tests.broken")
def broken(shipment_ids: list[int]) -> None:
    raise ValueError("bad data")


def test_every_task_is_acked_late_and_retries_transient_errors():
    assert isinstance(sweep_due_work, ShipdeskTask)
    assert sweep_due_work.acks_late and flaky.acks_late
    assert TransientError in flaky.autoretry_for and ConnectionError in flaky.autoretry_for
    assert flaky.retry_jitter


def test_transient_error_is_retried_with_backoff_until_it_passes():
    calls.clear()
    delays: list[float] = []

    def on_retry(sender, reason, **kwargs):
        delays.append(reason.when)

    task_retry.connect(on_retry, sender=flaky)
    propagates = flaky.app.conf.task_eager_propagates
    flaky.app.conf.task_eager_propagates = False  # the eager retries are nested apply() calls
    try:
        # Eagerly (throw=False), Celery runs each retry at once instead of after the delay.
        assert flaky.apply(args=[2], throw=False).get() == "done"
    finally:
        flaky.app.conf.task_eager_propagates = propagates
        task_retry.disconnect(on_retry, sender=flaky)
    assert len(calls) == 3  # failed twice, passed the third time
    # Exponential backoff with full jitter: up to 5 s, then up to 10 s.
    assert len(delays) == 2 and 0 <= delays[0] <= 5 and 0 <= delays[1] <= 10


def test_other_errors_are_not_retried():
    with pytest.raises(ValueError):
        broken.apply(args=[[1]])


def test_failure_is_logged_with_name_arguments_and_request_id(caplog):
    token = request_id_var.set("req-42")
    try:
        with caplog.at_level(logging.ERROR, logger="shipdesk.tasks"):
            result = broken.apply(args=[[7, 8]], headers={"shipdesk_request_id": "req-42"},
                                  throw=False)
        assert result.failed()
    finally:
        request_id_var.reset(token)
    record = next(r for r in caplog.records if r.name == "shipdesk.tasks")
    assert "shipdesk.core.tests.broken" in record.getMessage() and "bad data" in record.getMessage()
    assert record.task_args == "[[7, 8]]"
    assert record.origin_request_id == "req-42"
    assert record.exc_info is not None


def test_worker_logs_are_json_in_scale_out_format(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_"))}
    env.update(SHIPDESK_DATA_DIR=str(tmp_path), SHIPDESK_LOG_FORMAT="json", SHIPDESK_SECRET_KEY="t",
               SHIPDESK_FIELD_ENCRYPTION_KEYS="t", PYTHONPATH=str(Path(shipdesk.__file__).parents[1]))
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "shipdesk", "worker", "--pool", "solo",
         "--loglevel", "INFO", "--without-gossip", "--without-mingle", "-Q", "default"],
        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 60
        assert process.stderr is not None
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            if not line:
                break
            lines.append(line)
            if "ready." in line:
                break
    finally:
        process.terminate()
        process.wait(timeout=30)
    ready = [line for line in lines if "ready." in line]
    assert ready, "".join(lines)
    record = json.loads(ready[0])
    assert record["level"] == "INFO" and record["logger"].startswith("celery")
