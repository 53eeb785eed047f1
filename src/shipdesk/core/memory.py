"""Memory habits of the bulk paths (spreadsheet intake, tracking ingest)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Bulk work makes hundreds of thousands of objects that form no reference cycles
    (reference counting frees them): the cyclic collector, run every few hundred new
    objects, would only walk them and the worker's whole heap again and again -- a fifth to
    a third of such a run's time. It runs again, as it was, once the block is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
