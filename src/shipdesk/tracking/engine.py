"""The status engine: the real status of a parcel from its whole event history.

Pure and deterministic: no Django models, no database, no clock but the ``now`` passed in.
The same history in any order gives the same verdict, so it can be replayed, run in bulk
and property-tested. Every step of the derivation leaves a :class:`Reason` so the UI can
say *why* a parcel has the status it has.

The rules, in order of the events' time (ties broken by the status' rank, then the raw
code, so the input order never matters):

* duplicates (same time, raw code and place) count once;
* unknown codes (status ``None``) are kept in the timeline but never move the status;
* a final status (delivered, returned, lost, cancelled) is not moved back by a later
  "in transit" or the like — that is a contradiction, noted and ignored; exceptions:
  "returned" after "delivered" (it was handed back), anything after "lost" (found after
  all), movement after "cancelled" (the carrier has the parcel after all);
* a *later* return (refused, returning) after "delivered" wins: the carrier is sending the
  parcel back, so the money for it will not come — the parcel is "returning" (the
  contradiction is noted) and a later delivery is one to the sender → returned. Events are
  taken in order of their time, so an *older* return told late changes nothing of that;
* once the parcel is on its way back (refused, storage expired, returning), movement
  events keep it "returning" and a "delivered" is a delivery *to the sender* → returned;
* "delivered" with the sub-status ``to_sender`` is a return, not a delivery;
* statuses the carrier forgot are inferred and marked so: "accepted" when the parcel is
  seen moving without an acceptance, "arrived at the pickup point" when a later event
  (storage expiring/expired, a pickup-point delivery) proves it did;
* the storage deadline is the carrier's own date when it gave one (the latest event that
  carries it wins: an extension moves it), else our rule counted from the arrival.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import NamedTuple

from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from shipdesk.tracking.statuses import FINAL_STATUSES, STATUS_LABELS, Status, Substatus

# Progress of a parcel along its way; used to order simultaneous events and to tell a
# step back from a step forward.
RANK: dict[Status, int] = {
    Status.INFO_RECEIVED: 0,
    Status.CANCELLED: 0,
    Status.ACCEPTED: 1,
    Status.IN_TRANSIT: 2,
    Status.CUSTOMS: 2,
    Status.DAMAGED: 2,
    Status.ARRIVED_AT_PICKUP: 3,
    Status.OUT_FOR_DELIVERY: 3,
    Status.DELIVERY_FAILED: 4,
    Status.REFUSED: 5,
    Status.RETURNING: 6,
    Status.LOST: 7,
    Status.DELIVERED: 8,
    Status.RETURNED: 9,
}
_MOVEMENT = frozenset({Status.ACCEPTED, Status.IN_TRANSIT, Status.CUSTOMS,
                       Status.ARRIVED_AT_PICKUP, Status.OUT_FOR_DELIVERY,
                       Status.DELIVERY_FAILED, Status.DAMAGED})
_RETURN_FLOW = frozenset({Status.REFUSED, Status.RETURNING})
# Statuses that prove the parcel had been accepted by the carrier.
_AFTER_ACCEPTANCE = frozenset(RANK) - {Status.INFO_RECEIVED, Status.CANCELLED, Status.ACCEPTED}
_STORAGE_SUBSTATUSES = frozenset({Substatus.STORAGE_EXPIRING, Substatus.STORAGE_EXTENDED,
                                  Substatus.STORAGE_EXPIRED})


class EventFact(NamedTuple):
    """One carrier event as the engine sees it (a tuple: the bulk path makes millions)."""

    occurred_at: datetime  # aware
    status: Status | None  # None: unknown code
    substatus: str = ""
    raw_code: str = ""
    place: str = ""
    raw_text: str = ""
    storage_until: date | None = None  # the carrier's last day of free storage

    def key(self) -> tuple[datetime, str, str]:
        return (self.occurred_at, self.raw_code, self.place)


_MOSCOW = zoneinfo.ZoneInfo("Europe/Moscow")


@dataclass(frozen=True)
class Context:
    """What the engine needs to know about the parcel besides its events."""

    to_pickup_point: bool = True  # delivered at an office / pickup point (not to the door)
    storage_days: int = 30  # free storage at the pickup point
    storage_ending_days: int = 3  # flag "storage ending" this many days before the deadline
    stuck_days: int = 7  # no movement for this long → stuck
    transit_days: float | None = None  # expected days from acceptance to arrival
    control_days: int | None = None  # the carrier's control term (days from acceptance)
    shipped_at: datetime | None = None  # when we handed it over; earlier events are suspect
    zone: tzinfo = _MOSCOW  # the pickup office's calendar (delivery region's zone, else the shop's)


@dataclass(frozen=True)
class Reason:
    """One step of the derivation: a code the UI renders and the facts behind it."""

    code: str
    status: Status | None = None
    at: datetime | None = None
    other: Status | None = None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    status: Status | None
    substatus: str
    raw_code: str
    place: str
    raw_text: str
    inferred: bool = False
    ignored: bool = False  # seen, but did not move the status (contradiction/unknown)


@dataclass(frozen=True)
class Verdict:
    status: Status | None  # None: no usable event yet
    substatus: str
    status_at: datetime | None
    final: bool
    timeline: tuple[TimelineEntry, ...]
    reasons: tuple[Reason, ...]
    accepted_at: datetime | None = None
    arrived_at_pickup_at: datetime | None = None
    arrival_inferred: bool = False
    last_event_at: datetime | None = None
    last_movement_at: datetime | None = None
    storage_deadline: datetime | None = None
    expected_delivery: datetime | None = None
    unknown_codes: tuple[str, ...] = ()
    flags: frozenset[str] = field(default_factory=frozenset)


# exception flags
STUCK = "stuck"
OVERDUE = "overdue"
STORAGE_ENDING = "storage_ending"
RETURNED_FLAG = "returned"
LOST_FLAG = "lost"
FLAGS = (STUCK, OVERDUE, STORAGE_ENDING, RETURNED_FLAG, LOST_FLAG)


# Members bound to module names: reading an attribute of an enum class goes through a
# descriptor, a measurable cost in the inner loop of the bulk path.
_ACCEPTED = Status.ACCEPTED
_ARRIVED_AT_PICKUP = Status.ARRIVED_AT_PICKUP
_CANCELLED = Status.CANCELLED
_CUSTOMS = Status.CUSTOMS
_DELIVERED = Status.DELIVERED
_DELIVERY_FAILED = Status.DELIVERY_FAILED
_INFO_RECEIVED = Status.INFO_RECEIVED
_IN_TRANSIT = Status.IN_TRANSIT
_LOST = Status.LOST
_OUT_FOR_DELIVERY = Status.OUT_FOR_DELIVERY
_REFUSED = Status.REFUSED
_RETURNED = Status.RETURNED
_RETURNING = Status.RETURNING
_SUB_STORAGE_EXPIRED = Substatus.STORAGE_EXPIRED
_SUB_TO_SENDER = Substatus.TO_SENDER


_NO_DATE = date.min


def _sort_key(e: EventFact) -> tuple[datetime, int, str, str, str, str, date]:
    rank = RANK[e.status] if e.status is not None else -1
    return (e.occurred_at, rank, e.raw_code, e.place, e.substatus, e.raw_text,
            e.storage_until or _NO_DATE)


def _dedupe(events: Sequence[EventFact]) -> list[EventFact]:
    # the usual history has no two events with one key (the store dedupes them): just sort
    if len({(e[0], e[3], e[4]) for e in events}) == len(events):
        return sorted(events, key=_sort_key)
    chosen: dict[tuple[datetime, str, str], EventFact] = {}
    for e in events:
        k = (e[0], e[3], e[4])  # EventFact.key(), without the call
        seen = chosen.get(k)
        # keep one deterministic representative, whatever the input order
        if seen is None or (seen != e and _sort_key(e) < _sort_key(seen)):
            chosen[k] = e
    return sorted(chosen.values(), key=_sort_key)


_FUTURE_TOLERANCE = timedelta(hours=1)


def _skip(*_args: object) -> None:
    return None


def derive(events: Sequence[EventFact], *, now: datetime, context: Context,
           explain: bool = True) -> Verdict:
    """The real status of one parcel from all its events (in any order). With
    ``explain=False`` (the bulk path) the timeline and reasons are left empty; everything
    else is the same."""
    history = _dedupe(events)
    reasons: list[Reason] = []
    timeline: list[TimelineEntry] = []
    unknown: list[str] = []
    status: Status | None = None
    substatus = ""
    status_at: datetime | None = None
    accepted_at: datetime | None = None
    arrived_at: datetime | None = None
    arrival_inferred = False
    last_movement: datetime | None = None
    last_forward_at: datetime | None = None  # last movement before arrival, for inference
    carrier_until: date | None = None  # the carrier's storage date, latest told

    note: Callable[[Reason], None] = reasons.append if explain else _skip
    latest = now + _FUTURE_TOLERANCE
    shipped_floor = None if context.shipped_at is None else context.shipped_at - timedelta(days=1)
    to_pickup_point = context.to_pickup_point

    def entry(e: EventFact, *, ignored: bool = False) -> None:
        if explain:
            timeline.append(TimelineEntry(e.occurred_at, e.status, e.substatus, e.raw_code,
                                          e.place, e.raw_text, ignored=ignored))

    def infer(st: Status, at: datetime, why: str) -> None:
        if explain:
            timeline.append(TimelineEntry(at, st, "", "", "", "", inferred=True))
            note(Reason(why, st, at))

    for e in history:
        st = e.status
        if e.storage_until is not None and e.occurred_at <= latest:
            carrier_until = e.storage_until
        if st is None:
            unknown.append(e.raw_code)
            entry(e, ignored=True)
            note(Reason("unknown_code", None, e.occurred_at))
            continue
        if shipped_floor is not None and st is not _INFO_RECEIVED and (
                e.occurred_at < shipped_floor):
            entry(e, ignored=True)
            note(Reason("before_shipping", st, e.occurred_at))
            continue
        if e.occurred_at > latest:
            entry(e, ignored=True)
            note(Reason("in_future", st, e.occurred_at))
            continue
        # "delivered" to the sender is a return
        if st is _DELIVERED and e.substatus == _SUB_TO_SENDER:
            st = _RETURNED
            note(Reason("delivered_to_sender", st, e.occurred_at))
        # the carrier forgot the acceptance
        if accepted_at is None and (st is _ACCEPTED or st in _AFTER_ACCEPTANCE):
            if st is not _ACCEPTED and st is not _LOST:
                infer(_ACCEPTED, e.occurred_at, "inferred_accepted")
            accepted_at = e.occurred_at
        if st in _MOVEMENT or st in _RETURN_FLOW or st in FINAL_STATUSES:
            last_movement = e.occurred_at

        if status in FINAL_STATUSES:
            if status is _DELIVERED and st is _RETURNED:
                note(Reason("returned_after_delivered", st, e.occurred_at))
            elif status is _DELIVERED and st in _RETURN_FLOW:
                # later evidence wins: the carrier is taking it back after all
                entry(e)
                note(Reason("return_after_delivered", st, e.occurred_at, status))
                status, substatus, status_at = _RETURNING, e.substatus, e.occurred_at
                continue
            elif status is _LOST and st is not _LOST:
                note(Reason("found_after_lost", st, e.occurred_at))
            elif status is _CANCELLED and st in _MOVEMENT | FINAL_STATUSES and (
                    st is not _CANCELLED):
                note(Reason("moving_after_cancelled", st, e.occurred_at))
            else:
                if st is not status:
                    note(Reason("contradiction", st, e.occurred_at, status))
                entry(e, ignored=st is not status)
                continue
        elif status in _RETURN_FLOW and st in _MOVEMENT:
            # movement on the way back: still returning
            entry(e)
            note(Reason("moving_back", st, e.occurred_at))
            status, substatus, status_at = _RETURNING, e.substatus or substatus, e.occurred_at
            continue
        elif status in _RETURN_FLOW and st is _DELIVERED:
            st = _RETURNED
            note(Reason("delivered_while_returning", st, e.occurred_at))
        elif st is _INFO_RECEIVED and status is not None and (
                status is not _INFO_RECEIVED):
            entry(e, ignored=True)
            note(Reason("step_back", st, e.occurred_at, status))
            continue

        # arrival at the pickup point, told or proven
        if to_pickup_point and arrived_at is None and status not in _RETURN_FLOW:
            proves = (st is _ARRIVED_AT_PICKUP
                      or (st in (_DELIVERED, _RETURNING, _RETURNED)
                          and e.substatus in _STORAGE_SUBSTATUSES)
                      or (st is _DELIVERED and status is not None
                          and status is not _OUT_FOR_DELIVERY)
                      or (st is _RETURNING
                          and e.substatus == _SUB_STORAGE_EXPIRED))
            if proves and st is not _ARRIVED_AT_PICKUP:
                at = _inferred_arrival(accepted_at, last_forward_at, e.occurred_at, context)
                infer(_ARRIVED_AT_PICKUP, at, "inferred_arrival")
                arrived_at, arrival_inferred = at, True
            elif proves:
                arrived_at = e.occurred_at
        if st in (_ACCEPTED, _IN_TRANSIT, _CUSTOMS):
            last_forward_at = e.occurred_at

        entry(e)
        if status is not None and RANK[st] < RANK[status] and st not in FINAL_STATUSES and (
                status not in FINAL_STATUSES):
            note(Reason("went_back", st, e.occurred_at, status))
        status, substatus, status_at = st, e.substatus, e.occurred_at
        if explain and (not reasons or reasons[-1].at != e.occurred_at
                        or reasons[-1].status is not st):
            note(Reason("event", st, e.occurred_at))

    storage_deadline = None
    if status in (_ARRIVED_AT_PICKUP, _DELIVERY_FAILED):
        if carrier_until is not None:
            # the end of the carrier's last day (a calendar date, no zone of its own)
            storage_deadline = datetime.combine(carrier_until, time.max, tzinfo=context.zone)
        elif arrived_at is not None:
            storage_deadline = _storage_deadline(arrived_at, context)
    expected = None
    if accepted_at is not None and status not in FINAL_STATUSES:
        days = context.transit_days if context.transit_days is not None else context.control_days
        if days is not None:
            expected = accepted_at + timedelta(days=days)
    flags = _flags(status, now=now, context=context, last_movement=last_movement,
                   accepted_at=accepted_at, storage_deadline=storage_deadline)
    if status is not None:
        note(Reason("verdict", status, status_at))
    last_event = history[-1].occurred_at if history else None
    return Verdict(
        status=status, substatus=substatus, status_at=status_at,
        final=status in FINAL_STATUSES, timeline=tuple(sorted(
            timeline, key=lambda t: (t.at, RANK.get(t.status, -1) if t.status else -1,
                                     not t.inferred, t.raw_code, t.place, t.raw_text))),
        reasons=tuple(reasons), accepted_at=accepted_at, arrived_at_pickup_at=arrived_at,
        arrival_inferred=arrival_inferred, last_event_at=last_event,
        last_movement_at=last_movement, storage_deadline=storage_deadline,
        expected_delivery=expected, unknown_codes=tuple(sorted(set(unknown))), flags=flags)


def _inferred_arrival(accepted_at: datetime | None, last_forward_at: datetime | None,
                      proof_at: datetime, context: Context) -> datetime:
    """When the parcel most likely reached the pickup point: by the route's statistics if
    that falls between the last movement and the proof, else just before the proof."""
    lower = last_forward_at or accepted_at
    if accepted_at is not None and context.transit_days is not None:
        guess = accepted_at + timedelta(days=context.transit_days)
        if (lower is None or guess >= lower) and guess <= proof_at:
            return guess
    if lower is not None and lower <= proof_at:
        return lower + (proof_at - lower) / 2 if lower != proof_at else proof_at
    return proof_at


def _storage_deadline(arrived_at: datetime, context: Context) -> datetime:
    # Counted from the day after arrival (domain.md §8.2), on the shop's calendar like a
    # date the carrier gives: the deadline is the end of the last free day (shown as that
    # day, not as midnight of the next one).
    last_day = arrived_at.astimezone(context.zone).date() + timedelta(days=context.storage_days)
    return datetime.combine(last_day, time.max, tzinfo=context.zone)


def _flags(status: Status | None, *, now: datetime, context: Context,
           last_movement: datetime | None, accepted_at: datetime | None,
           storage_deadline: datetime | None) -> frozenset[str]:
    flags: set[str] = set()
    if status in (_RETURNING, _RETURNED, _REFUSED):
        flags.add(RETURNED_FLAG)
    if status is _LOST:
        flags.add(LOST_FLAG)
    if status is None or status in FINAL_STATUSES:
        return frozenset(flags)
    waiting = status in (_ARRIVED_AT_PICKUP, _INFO_RECEIVED)
    if not waiting and last_movement is not None and (
            now - last_movement >= timedelta(days=context.stuck_days)):
        flags.add(STUCK)
    if (accepted_at is not None and context.control_days is not None
            and status not in (_ARRIVED_AT_PICKUP, _RETURNING, _REFUSED)
            and now > accepted_at + timedelta(days=context.control_days)):
        flags.add(OVERDUE)
    if storage_deadline is not None and (
            storage_deadline - now <= timedelta(days=context.storage_ending_days)):
        flags.add(STORAGE_ENDING)
    return frozenset(flags)


def next_poll_delay(verdict: Verdict, *, now: datetime) -> timedelta | None:
    """How long until we should ask the carrier again: often near delivery, rarely in a
    long transit, never after a final status."""
    st = verdict.status
    if st in FINAL_STATUSES:
        return None
    if st is None or st is _INFO_RECEIVED:
        return timedelta(hours=12)
    if st in (_OUT_FOR_DELIVERY, _DELIVERY_FAILED):
        return timedelta(hours=1)
    if st is _ARRIVED_AT_PICKUP:
        return timedelta(hours=4)
    if st in _RETURN_FLOW:
        return timedelta(hours=12)
    if verdict.expected_delivery is not None:
        left = verdict.expected_delivery - now
        if left <= timedelta(days=1):
            return timedelta(hours=2)
        if left >= timedelta(days=5):
            return timedelta(hours=12)
    return timedelta(hours=6)


# gettext_noop: the catalogue holds these; explain() translates them when it reads them
_REASON_TEXT: dict[str, str] = {
    "event": gettext_noop("{at}: перевозчик сообщил «{status}»"),
    "unknown_code": gettext_noop("{at}: код перевозчика неизвестен — сохранён, статус не меняет"),
    "before_shipping": gettext_noop("{at}: событие «{status}» раньше передачи посылки — не учтено"),
    "in_future": gettext_noop("{at}: событие «{status}» из будущего — не учтено"),
    "delivered_to_sender": gettext_noop("{at}: вручено отправителю — это возврат, а не доставка"),
    "inferred_accepted": gettext_noop("{at}: приём не отмечен перевозчиком, но посылка уже в пути — "
                                      "считаем принятой (выведено)"),
    "inferred_arrival": gettext_noop("около {at}: прибытие в пункт выдачи не отмечено, но следующие "
                                     "события это доказывают (выведено)"),
    "returned_after_delivered": gettext_noop("{at}: после «Вручено» пришло «{status}» — посылку вернули"),
    "return_after_delivered": gettext_noop("{at}: «{status}» после «{other}» — противоречие; более позднее "
                                           "событие важнее: посылка возвращается, денег за неё не будет"),
    "found_after_lost": gettext_noop("{at}: после «Утеряно» посылка снова в движении — нашлась"),
    "moving_after_cancelled": gettext_noop("{at}: после отмены посылка в движении — статус по событиям"),
    "contradiction": gettext_noop("{at}: «{status}» после итогового «{other}» — противоречие, не учтено"),
    "moving_back": gettext_noop("{at}: «{status}» на обратном пути — посылка возвращается"),
    "delivered_while_returning": gettext_noop("{at}: вручено во время возврата — вручено отправителю"),
    "step_back": gettext_noop("{at}: «{status}» после «{other}» — шаг назад, не учтён"),
    "went_back": gettext_noop("{at}: «{status}» после «{other}»"),
    "verdict": gettext_noop("Итог: «{status}» с {at}"),
}


def explain(verdict: Verdict, *, tz: object = None) -> list[str]:
    """The derivation in plain Russian, one line per step, for "why this status"."""
    from django.utils import timezone as dj_tz

    lines = []
    for r in verdict.reasons:
        at = ""
        if r.at is not None:
            local = dj_tz.localtime(r.at, tz) if tz is not None else r.at  # type: ignore[arg-type]
            at = local.strftime("%d.%m.%Y %H:%M")
        lines.append(_(_REASON_TEXT[r.code]).format(
            at=at, status=STATUS_LABELS[r.status] if r.status else "",
            other=STATUS_LABELS[r.other] if r.other else ""))
    return lines
