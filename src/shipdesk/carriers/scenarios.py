"""Tracking scenarios the emulators play on their clock. Steps are generic words; each
emulator turns them into its carrier's own status codes."""

from __future__ import annotations

import hashlib

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


def steps_until(scenario: str, hours_since_creation: float) -> list[tuple[float, str]]:
    return [(at, step) for at, step in SCENARIOS[scenario] if at <= hours_since_creation]
