"""Carrier times against our clock: no adapter hands tracking a moment in the future.

A carrier's event can only have happened before we heard of it. When a payload says
otherwise, the carrier's clock is off (a server a little fast, a local time sent as UTC, a
test emulator moved ahead), and the tracking ingest would refuse the event anyway. So, per
event, every adapter's tracking path runs :func:`not_ahead`:

* ahead of our clock by at most ``CLOCK_SKEW``: **clamped** to our "now". The news is real
  and current; its time is off by less than the skew. Holding it back would delay a fresh
  status until the next poll, hours later. (Seen again once the carrier's stamp is past, the
  same event is stored once more at that stamp, a minute or two apart: the status does not
  change, the history shows the step twice.)
* further ahead: **flagged and held back**. Clamping would stamp it with the time of each
  poll, so every poll would store it again; a date that far off is no time to show either.
  The number gets an error saying so (the poll reports it and asks again later), the
  warning is logged, and once the carrier's stamp is past the event comes in at that stamp.

Tests that move an emulator's clock forward move ours with it (:func:`follow`); nothing
else does, so outside tests ``now()`` is the real time.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from shipdesk.carriers.base import TrackingEvent, TrackResult

log = logging.getLogger(__name__)

CLOCK_SKEW = timedelta(minutes=5)
AHEAD_ERROR = ("Перевозчик прислал событие «{text}» с датой в будущем ({at:%d.%m.%Y %H:%M} UTC): "
               "оно будет учтено, когда это время наступит")

_shift = timedelta(0)  # test hook: how far tests moved the emulators' clocks (see follow)


def now() -> datetime:
    """Our clock as the adapters see it: the real time (plus a test's explicit shift)."""
    return datetime.now(UTC) + _shift


def follow(emulator_now: datetime) -> None:
    """Test hook: an emulator's clock was moved to ``emulator_now``; our clock follows, so
    that its events are not ahead of us. It only ever moves forward; :func:`reset` ends it."""
    global _shift
    _shift = max(_shift, emulator_now - datetime.now(UTC))


def reset() -> None:
    global _shift
    _shift = timedelta(0)


def not_ahead(events: Iterable[TrackingEvent], *, carrier: str,
              at: datetime | None = None) -> tuple[list[TrackingEvent], dict[str, str]]:
    """The events no later than ``at`` (our now): those up to ``CLOCK_SKEW`` ahead clamped to
    it (the carrier's own stamp kept in ``raw["carrier_time"]``), those further ahead held
    back, with a message per tracking number."""
    reference = at or now()
    latest = reference + CLOCK_SKEW
    kept: list[TrackingEvent] = []
    held: dict[str, str] = {}
    for event in events:
        when = event.occurred_at
        if when <= reference:
            kept.append(event)
        elif when <= latest:
            raw = {**event.raw, "carrier_time": when.isoformat()}
            kept.append(dataclasses.replace(event, occurred_at=reference, raw=raw))
        else:
            log.warning("%s: event %s of %s is dated %s, ahead of our clock (%s): held back",
                        carrier, event.raw_code, event.tracking_number, when.isoformat(),
                        reference.isoformat())
            held.setdefault(event.tracking_number, AHEAD_ERROR.format(
                text=event.raw_text or event.raw_code, at=when.astimezone(UTC)))
    return kept, held


def result_not_ahead(result: TrackResult, *, carrier: str) -> TrackResult:
    """:func:`not_ahead` over a tracking answer; held events become errors of their numbers
    (the carrier's own error for a number, if any, is the one kept)."""
    events, held = not_ahead(result.events, carrier=carrier)
    return TrackResult(events=tuple(events), errors={**held, **result.errors})


def events_not_ahead(events: Iterable[TrackingEvent], *, carrier: str) -> list[TrackingEvent]:
    """:func:`not_ahead` where there is no per-number error to give (a webhook, a single
    number's history): the events held back are in the log, and the next poll brings them."""
    return not_ahead(events, carrier=carrier)[0]
