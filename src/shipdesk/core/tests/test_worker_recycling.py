"""Web and Celery worker processes are recycled, so no leak lives for a process's lifetime."""

from __future__ import annotations

import importlib

import pytest
from gunicorn.config import Config

from shipdesk.core import gunicorn_conf


def _gunicorn_settings() -> Config:
    """The settings gunicorn itself reads from ``-c python:shipdesk.core.gunicorn_conf``."""
    config = Config()
    for name in ("max_requests", "max_requests_jitter", "timeout"):
        config.set(name, getattr(gunicorn_conf, name))
    return config


def test_web_workers_are_recycled_with_jitter() -> None:
    config = _gunicorn_settings()
    assert config.max_requests == 5000
    assert 0 < config.max_requests_jitter < config.max_requests


def test_web_worker_recycling_can_be_tuned_and_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        monkeypatch.setenv("WEB_MAX_REQUESTS", "0")
        assert importlib.reload(gunicorn_conf).max_requests == 0
        monkeypatch.setenv("WEB_MAX_REQUESTS", "300")
        reloaded = importlib.reload(gunicorn_conf)
        assert (reloaded.max_requests, reloaded.max_requests_jitter) == (300, 30)
    finally:
        monkeypatch.delenv("WEB_MAX_REQUESTS")
        importlib.reload(gunicorn_conf)


def test_celery_children_are_recycled() -> None:
    from shipdesk.celery import app

    assert app.conf.worker_max_tasks_per_child == 1000
    assert app.conf.worker_max_memory_per_child == 1_500_000
