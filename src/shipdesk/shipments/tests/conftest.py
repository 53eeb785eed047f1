from __future__ import annotations

from collections.abc import Iterator

import pytest

from shipdesk.shipments.services import reference_data_reset


@pytest.fixture(autouse=True)
def _fresh_reference_data() -> Iterator[None]:
    """Each test sees the limits and directory of its own database state."""
    reference_data_reset()
    yield
    reference_data_reset()
