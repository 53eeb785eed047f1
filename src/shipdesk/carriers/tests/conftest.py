from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import cache

from shipdesk.carriers import http as carrier_http


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    """Rate-limit windows and circuit breakers live in the shared cache / Redis: start clean."""
    cache.clear()
    carrier_http._breakers.clear()
    if getattr(settings, "REDIS_URL", None):
        import redis

        client: Any = redis.Redis.from_url(settings.REDIS_URL)
        for key in client.scan_iter("shipdesk-cb-*"):
            client.delete(key)
    yield
