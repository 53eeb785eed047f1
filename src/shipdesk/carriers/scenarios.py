"""Tracking scenarios the emulators play on their clock. Steps are generic words; each
emulator turns them into its carrier's own status codes.

Events are always stamped on the emulator's clock, which is the real time unless a test moves
it explicitly; a demo goes faster by *pacing*: with ``step_seconds`` set, a parcel reaches each
scripted step that many seconds after the one before (instead of the scripted hours or days),
so the whole journey takes minutes and every event is still in the past when it is reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

H = 1.0  # hours
D = 24.0
STORAGE_DAYS = 7  # free storage at the pickup point: "not_picked_up" runs out after it

SCENARIOS: dict[str, list[tuple[float, str]]] = {
    # the usual: accepted, moved, waits at the pickup point, collected
    "delivered": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit"),
                  (30 * H, "arrived"), (48 * H, "delivered")],
    # courier delivery with one failed attempt
    "courier": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit"),
                (30 * H, "out_for_delivery"), (34 * H, "delivery_failed"),
                (54 * H, "out_for_delivery"), (58 * H, "delivered")],
    # arrived and not picked up: storage expires, it goes back
    "not_picked_up": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit"),
                      (30 * H, "arrived"), (30 * H + STORAGE_DAYS * D, "storage_expired"),
                      (31 * H + 7 * D, "returning"), (30 * H + 12 * D, "returned")],
    # lost in sorting: in transit, then nothing, then declared lost
    "lost": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit"), (20 * D, "lost")],
    # stuck: in transit and never anything again
    "stuck": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit")],
    # held at customs for days, then released
    "customs": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit"), (20 * H, "customs"),
                (6 * D, "in_transit"), (7 * D, "arrived"), (8 * D, "delivered")],
    # the recipient keeps part of it and refuses the rest, which goes back
    "partial_refusal": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit"),
                        (30 * H, "arrived"), (50 * H, "partially_delivered"),
                        (52 * H, "returning"), (7 * D, "returned")],
    # refused entirely
    "refused": [(0, "created"), (4 * H, "accepted"), (12 * H, "in_transit"), (30 * H, "arrived"),
                (40 * H, "refused"), (42 * H, "returning"), (6 * D, "returned")],
}

# what a parcel gets when nobody chose: mostly delivered, the rest spread over the troubles
_WEIGHTED = (["delivered"] * 12 + ["courier"] * 3 + ["not_picked_up"] * 2
             + ["refused", "partial_refusal", "customs", "stuck", "lost"])


def choose(reference: str, explicit: str = "") -> str:
    if explicit in SCENARIOS:
        return explicit
    digest = hashlib.sha256(reference.encode()).digest()
    return _WEIGHTED[digest[0] % len(_WEIGHTED)]


def paced(hours: Sequence[float], step_seconds: float = 0.0) -> list[float]:
    """When each scripted step happens, in hours after the first: as scripted (realistic
    hours and days) when ``step_seconds`` is 0, else each step ``step_seconds`` after the
    step before it (the sandbox of ``make run``: tens of seconds)."""
    if step_seconds <= 0:
        return list(hours)
    return [i * step_seconds / 3600 for i in range(len(hours))]


def timeline(scenario: str, step_seconds: float = 0.0) -> list[tuple[float, str]]:
    """The scenario's steps as (hours after creation, step), paced as :func:`paced` says."""
    steps = SCENARIOS[scenario]
    return list(zip(paced([at for at, _step in steps], step_seconds), [step for _at, step in steps],
                    strict=True))


def steps_until(scenario: str, hours_since_creation: float,
                step_seconds: float = 0.0) -> list[tuple[float, str]]:
    return [(at, step) for at, step in timeline(scenario, step_seconds) if at <= hours_since_creation]
