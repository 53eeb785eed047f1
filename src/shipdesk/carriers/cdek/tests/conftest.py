from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipdesk.carriers.cdek.adapter import Adapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.tests.conftest import _fresh_limits  # noqa: F401 (the autouse fixture)
from shipdesk.carriers.tests.helpers import fast_client


@pytest.fixture
def emulator() -> Iterator[Running]:
    running = start(CdekEmulator())
    yield running
    running.stop()


@pytest.fixture
def adapter(emulator: Running) -> Adapter:
    Adapter.tokens._local.clear()
    return Adapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                   base_url=f"{emulator.url}/v2", http=fast_client())
