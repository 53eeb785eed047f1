"""Tracking: polling the carriers as due work. Each active shipment has a next-poll time
(adapted to its state, moved into the organization's polling window); polls go out in each
adapter's batch size within the account's daily quota, and the answers go to ingest.

Carriers that answer a batch later (Russian Post's tickets: ``tracks_by_ticket``) get the
request now; the ticket is kept as a :class:`TrackingTicket`, due work of its own that fetches
the answer when the carrier allows it and ingests it. Its shipments are held until then."""

from __future__ import annotations

import contextlib
import enum
import functools
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from shipdesk.carriers import base as carrier_base
from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.shipments.models import Shipment
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor
from shipdesk.tracking import engine
from shipdesk.tracking.models import TrackingState, TrackingTicket
from shipdesk.tracking.services import (
    _STATUS,
    IngestResult,
    _copy_into_temp,
    _dt,
    _ids_filter,
    _poll_windows,
    into_window,
    tracking_events_ingest,
)
from shipdesk.tracking.statuses import STATUS_LABELS, Status

log = logging.getLogger(__name__)

def tracking_watch(*, shipment_ids: Sequence[int], now: datetime | None = None) -> int:
    """Starts tracking these shipments (idempotent): creates their tracking state with a
    public token and schedules the first poll. Returns how many were new."""
    now = now or timezone.now()
    have = set(TrackingState.objects.filter(shipment_id__in=shipment_ids)
               .values_list("shipment_id", flat=True))
    rows = Shipment.objects.filter(pk__in=[i for i in shipment_ids if i not in have]).exclude(
        tracking_number=None).values_list("id", "organization_id", "carrier_code")
    windows = _poll_windows({r[1] for r in rows})
    states = [TrackingState(shipment_id=sid, organization_id=org, carrier_code=carrier,
                            public_token=secrets.token_urlsafe(24),
                            next_poll_at=into_window(now, windows.get(org)))
              for sid, org, carrier in rows]
    TrackingState.objects.bulk_create(states, ignore_conflicts=True, batch_size=2000)
    return len(states)


def tracking_poll_soon(*, shipment_ids: Sequence[int], at: datetime) -> int:
    """Brings the next poll of these shipments forward to ``at`` (never later than it was):
    when they are handed over, the carrier's first events come soon. Shipments not tracked
    yet start being tracked."""
    tracking_watch(shipment_ids=shipment_ids, now=at)
    return TrackingState.objects.filter(shipment_id__in=list(shipment_ids), final=False).filter(
        Q(next_poll_at__isnull=True) | Q(next_poll_at__gt=at)).update(next_poll_at=at)


def tracking_discover(*, limit: int = 50_000) -> int:
    """Starts tracking every numbered shipment that is not tracked yet."""
    ids = list(Shipment.objects.exclude(tracking_number=None).filter(
        tracking_state__isnull=True).exclude(state__in=["draft", "ready", "cancelled"])
        .values_list("id", flat=True)[:limit])
    return tracking_watch(shipment_ids=ids) if ids else 0


_adapters: dict[tuple[int, Any], carrier_base.CarrierAdapter] = {}


def _adapter_for(account: Any) -> carrier_base.CarrierAdapter:
    """The account's adapter, kept per worker process while the account is unchanged
    (building one loads WSDLs and a client with its rate limiter)."""
    from shipdesk.carriers import registry  # the carriers domain's factory

    key = (account.pk, account.updated_at)
    adapter = _adapters.get(key)
    if adapter is None:
        for old in [k for k in _adapters if k[0] == account.pk or len(_adapters) > 256]:
            _adapters.pop(old).close()  # an edited account's old client, or too many kept
        adapter = _adapters[key] = registry.adapter_for_account(account)
    return adapter


QUOTA_SETTING = "daily_track_quota"  # CarrierAccount.settings key: numbers per day


def _quota_key(account: Any, now: datetime) -> str:
    return f"tracking:quota:{account.pk}:{now.date().isoformat()}"


def _take_quota(account: Any, wanted: int, now: datetime) -> int:
    quota = (account.settings or {}).get(QUOTA_SETTING)
    if not quota:
        return wanted
    key = _quota_key(account, now)
    cache.add(key, 0, timeout=2 * 86400)
    used = cache.incr(key, wanted)
    granted = max(0, min(wanted, int(quota) - (used - wanted)))
    if granted < wanted:
        cache.decr(key, wanted - granted)
    return granted


def _give_back_quota(account: Any, count: int, now: datetime) -> None:
    """Returns numbers taken from the day's quota that the carrier never tracked."""
    if (account.settings or {}).get(QUOTA_SETTING):
        with contextlib.suppress(ValueError):  # the day's key is gone: nothing to give back
            cache.decr(_quota_key(account, now), count)


@dataclass
class PollResult:
    asked: int = 0
    calls: int = 0
    events: int = 0
    failed: int = 0
    deferred: int = 0
    tickets: int = 0  # tickets requested (their answers come later)
    fetched: int = 0  # ticket answers fetched and ingested
    ingest: IngestResult = field(default_factory=IngestResult)
    errors: dict[str, str] = field(default_factory=dict)  # number -> why it failed
    requested: list[tuple[str, datetime]] = field(default_factory=list)  # (ticket, first fetch)


def tracking_poll(*, shipment_ids: Sequence[int], now: datetime | None = None) -> PollResult:
    """Polls the carriers for these shipments, grouped by account, in each adapter's batch
    size, within each account's daily quota; ingests what comes back, or keeps the ticket
    of a carrier that answers later. Numbers the carrier failed on, or that the quota leaves
    out, are rescheduled."""
    now = now or timezone.now()
    started = time.monotonic()
    from shipdesk.carriers.models import CarrierAccount

    out = PollResult()
    rows = _poll_rows(shipment_ids)
    due_at = {r[0]: _dt(r[3]) for r in rows}
    by_account: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for sid, number, account_id, _due in rows:
        if number and account_id:
            by_account[account_id].append((sid, number))
    accounts = CarrierAccount.objects.in_bulk(list(by_account))
    retry: dict[int, datetime] = {}
    held: dict[int, datetime] = {}  # in a pending ticket: not polled again until it expires
    for account_id, items in by_account.items():
        account = accounts.get(account_id)
        if account is None or not account.is_active:
            for sid, _n in items:
                retry[sid] = now + timedelta(hours=24)
            continue
        granted = _take_quota(account, len(items), now)
        for sid, _n in items[granted:]:
            retry[sid] = _next_day(now)
            out.deferred += 1
        items = items[:granted]
        adapter = _adapter_for(account)
        by_ticket = adapter.tracks_by_ticket()
        size = max(1, adapter.track_batch_size)
        for i in range(0, len(items), size):
            part = items[i:i + size]
            numbers = [n for _s, n in part]
            out.asked += len(numbers)
            out.calls += 1
            try:
                if by_ticket:
                    ticket = adapter.track_request(numbers)
                else:
                    answer = adapter.track(numbers)
            except carrier_base.RateLimited as exc:
                wait = timedelta(seconds=exc.retry_after or 60)
                for sid, _n in items[i:]:
                    retry[sid] = now + wait
                out.deferred += len(items) - i
                break
            except carrier_base.CarrierError as exc:
                log.warning("tracking poll failed for account %s: %s", account_id, exc)
                for sid, n in part:
                    retry[sid] = now + timedelta(minutes=30 if exc.transient else 360)
                    out.errors[n] = str(exc)
                out.failed += len(part)
                continue
            if by_ticket:
                # The carrier counts its wait from when it issued the ticket, not from when
                # this task started (rate limits and earlier calls may lie between).
                issued = now + timedelta(seconds=time.monotonic() - started)
                _ticket_keep(account, part, ticket, now=issued, due_at=due_at, retry=retry,
                             held=held, out=out)
                continue
            res = tracking_events_ingest(events=list(answer.events), account=account,
                                         requested=numbers, now=now)
            out.events += len(answer.events)
            _merge(out.ingest, res)
            for sid, number in part:
                if number in answer.errors:
                    retry[sid] = now + timedelta(hours=6)
                    out.errors[number] = answer.errors[number]
                    out.failed += 1
    _finish_polls([r[0] for r in rows if r[0] not in held], retry, now=now)
    _hold(held, due_at)
    return out


def _poll_rows(shipment_ids: Sequence[int]) -> list[tuple[Any, ...]]:
    """(shipment id, tracking number, carrier account id, next poll at) of the shipments
    still tracked, in one query of arrays (not thousands of placeholders) on PostgreSQL;
    in id order, so that the numbers a carrier is asked for come in the same batches
    whatever plan the database picks."""
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(shipment_ids), 5000):
        where, params = _ids_filter("t.shipment_id", shipment_ids[i:i + 5000])
        with connection.cursor() as cur:
            tables = f"{TrackingState._meta.db_table} t JOIN {Shipment._meta.db_table} s"
            sql = ("SELECT t.shipment_id, s.tracking_number, s.carrier_account_id, "  # noqa: S608
                   f"t.next_poll_at FROM {tables} ON s.id = t.shipment_id "
                   f"WHERE t.final = %s AND {where} ORDER BY t.shipment_id")
            cur.execute(sql, [False, *params])
            rows.extend(cur.fetchall())
    return rows


# A claimed shipment is not due again before the claim's lease runs out; a ticket whose first
# fetch comes later than this before the lease's end holds its shipments explicitly.
HOLD_MARGIN = timedelta(minutes=5)

# The poll's claim leases (due work "tracking.poll.ticket" / "tracking.poll.sync"): a crashed
# worker's polls are taken again when the lease runs out. A ticket carrier's lease outlasts
# the wait before a ticket's first fetch (Russian Post: 15 minutes) plus HOLD_MARGIN, so a
# requested ticket needs no extra write to keep its shipments from being polled again; a
# carrier that answers within the call needs only the task's own run.
TICKET_POLL_LEASE = timedelta(minutes=30)
SYNC_POLL_LEASE = timedelta(minutes=5)


@functools.cache
def ticket_carrier_codes() -> frozenset[str]:
    """Carriers whose adapter declares deferred tracking (overrides ``tracks_by_ticket``).
    A fact of the adapter class: an account set to answer at once (Russian Post's single
    mode) keeps the long lease, so its crashed polls are only retaken later, never twice."""
    from shipdesk.carriers import registry

    base = carrier_base.CarrierAdapter.tracks_by_ticket
    return frozenset(code for code in registry.all_codes()
                     if registry.adapter_class(code).tracks_by_ticket is not base)


def _ticket_keep(account: Any, part: list[tuple[int, str]], ticket: carrier_base.TrackTicket, *,
                 now: datetime, due_at: dict[int, datetime | None], retry: dict[int, datetime],
                 held: dict[int, datetime], out: PollResult) -> None:
    """Stores a requested ticket. Its shipments must not be polled again before the answer
    is fetched: the claim's lease covers that when the first fetch comes well before it ends
    (the usual case, so no extra write); otherwise they are held until the ticket expires."""
    asked = [(sid, n) for sid, n in part if n not in ticket.errors]
    for sid, n in part:
        if n in ticket.errors:
            retry[sid] = now + timedelta(hours=6)
            out.errors[n] = ticket.errors[n]
            out.failed += 1
    if not ticket.ticket or not asked:
        return
    expires = now + ticket.keep_for
    first_fetch = now + ticket.first_fetch_after
    TrackingTicket.objects.create(
        organization_id=account.organization_id, account=account, ticket=ticket.ticket,
        shipment_ids=[sid for sid, _n in asked], numbers=[n for _s, n in asked],
        requested_at=now, next_fetch_at=first_fetch,
        fetch_interval=ticket.fetch_interval, expires_at=expires)
    out.tickets += 1
    out.requested.append((ticket.ticket, first_fetch))
    for sid, _n in asked:
        due = due_at.get(sid)
        if due is None or due < first_fetch + HOLD_MARGIN:
            held[sid] = expires
        else:
            held[sid] = due  # left as the claim set it


def _hold(held: dict[int, datetime], due_at: dict[int, datetime | None] | None = None) -> None:
    """Moves the next poll of shipments in a pending ticket to ``held[id]`` (skipping those
    already there)."""
    by_until: dict[datetime, list[int]] = defaultdict(list)
    for sid, until in held.items():
        if due_at is None or due_at.get(sid) != until:
            by_until[until].append(sid)
    for until, ids in by_until.items():
        for i in range(0, len(ids), 5000):
            where, params = _ids_filter("shipment_id", ids[i:i + 5000])
            with connection.cursor() as cur:
                cur.execute(f"UPDATE {TrackingState._meta.db_table} SET next_poll_at = %s "  # noqa: S608
                            f"WHERE {where}", [until, *params])


def tracking_tickets_fetch(*, ticket_ids: Sequence[int], now: datetime | None = None,
                           ) -> PollResult:
    """Fetches the answers of these tickets and ingests them, one ingest per account. A
    ticket not ready yet is due again after its fetch interval; one the carrier no longer
    keeps (or that stays unready until it would expire) gives its shipments back to polling."""
    now = now or timezone.now()
    out = PollResult()
    tickets = list(TrackingTicket.objects.filter(pk__in=ticket_ids).select_related("account"))
    by_account: dict[int, list[TrackingTicket]] = defaultdict(list)
    for t in tickets:
        by_account[t.account_id].append(t)
    retry: dict[int, datetime] = {}
    polled: list[int] = []
    for group in by_account.values():
        account = group[0].account
        if not account.is_active:
            _ticket_drop(group, retry, now + timedelta(hours=24), polled)
            continue
        adapter = _adapter_for(account)
        events: list[carrier_base.TrackingEvent] = []
        requested: list[str] = []
        answered: list[TrackingTicket] = []
        for n, t in enumerate(group):
            out.calls += 1
            try:
                answer = adapter.track_fetch(t.ticket)
            except carrier_base.RateLimited as exc:
                wait = timedelta(seconds=exc.retry_after or 60)
                for later in group[n:]:
                    _ticket_later(later, now + max(wait, timedelta(seconds=1)), now, retry, polled)
                break
            except carrier_base.TicketExpired as exc:
                log.warning("tracking ticket %s expired: %s", t.ticket, exc)
                _ticket_drop([t], retry, now, polled)
                continue
            except carrier_base.CarrierError as exc:
                log.warning("tracking ticket %s failed: %s", t.ticket, exc)
                if exc.transient:
                    _ticket_later(t, now + t.fetch_interval, now, retry, polled)
                else:
                    _ticket_drop([t], retry, now + timedelta(hours=6), polled)
                continue
            if answer is None:
                _ticket_later(t, now + t.fetch_interval, now, retry, polled)
                continue
            events.extend(answer.events)
            requested.extend(t.numbers)
            answered.append(t)
            for sid, number in zip(t.shipment_ids, t.numbers, strict=True):
                if number in answer.errors:
                    retry[sid] = now + timedelta(hours=6)
                    out.errors[number] = answer.errors[number]
                    out.failed += 1
            polled.extend(t.shipment_ids)
        if answered:
            res = tracking_events_ingest(events=events, account=account, requested=requested,
                                         now=now)
            _merge(out.ingest, res)
            out.events += len(events)
            out.asked += len(requested)
            out.fetched += len(answered)
            TrackingTicket.objects.filter(pk__in=[t.pk for t in answered]).delete()
    _finish_polls(polled, retry, now=now)
    return out


def _ticket_later(t: TrackingTicket, when: datetime, now: datetime,
                  retry: dict[int, datetime], polled: list[int]) -> None:
    """Not ready: due again at ``when``, unless the carrier will have dropped it by then.
    The first time, its shipments are held until it expires (the claim's lease may not
    last until the next fetch)."""
    if when >= t.expires_at:
        _ticket_drop([t], retry, now, polled)
        return
    TrackingTicket.objects.filter(pk=t.pk).update(next_fetch_at=when, fetches=t.fetches + 1)
    if t.fetches == 0:
        _hold(dict.fromkeys(t.shipment_ids, t.expires_at))


def _ticket_drop(tickets: list[TrackingTicket], retry: dict[int, datetime], when: datetime,
                 polled: list[int]) -> None:
    """Gives the tickets' shipments back to polling at ``when`` and forgets the tickets."""
    for t in tickets:
        for sid in t.shipment_ids:
            retry[sid] = when
        polled.extend(t.shipment_ids)
    TrackingTicket.objects.filter(pk__in=[t.pk for t in tickets]).delete()


def _merge(into: IngestResult, res: IngestResult) -> None:
    into.received += res.received
    into.stored += res.stored
    into.duplicates += res.duplicates
    into.status_changes += res.status_changes
    into.shipments += res.shipments
    into.unknown_codes += res.unknown_codes
    for k, v in res.rejected.items():
        into.rejected[k] = into.rejected.get(k, 0) + v


def _next_day(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)


def _finish_polls(ids: list[int], retry: dict[int, datetime], *, now: datetime) -> None:
    """Marks the poll done: last_polled_at; shipments whose derive did not reschedule them
    (no new events) get their next poll from their current state."""
    rows: list[tuple[Any, ...]] = []
    for i in range(0, len(ids), 5000):
        where, params = _ids_filter("shipment_id", ids[i:i + 5000])
        with connection.cursor() as cur:
            wanted = "shipment_id, organization_id, status, final, next_poll_at, expected_delivery"
            sql = f"SELECT {wanted} FROM tracking_trackingstate WHERE {where}"  # noqa: S608
            cur.execute(sql, params)
            rows.extend(cur.fetchall())
    windows = _poll_windows({r[1] for r in rows})
    out = []
    soon = now + timedelta(minutes=15)
    for sid, org_id, status, final, next_at, expected in rows:
        next_at = _dt(next_at)
        if sid in retry:
            next_at = into_window(retry[sid], windows.get(org_id))
        elif final:
            next_at = None
        elif next_at is None or next_at <= soon:
            verdict = engine.Verdict(
                status=_STATUS.get(status), substatus="", status_at=None, final=False,
                timeline=(), reasons=(), expected_delivery=_dt(expected))
            delay = engine.next_poll_delay(verdict, now=now) or timedelta(hours=12)
            next_at = into_window(now + delay, windows.get(org_id))
        out.append((sid, now, next_at))
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cols = ["shipment_id", "last_polled_at", "next_poll_at"]
            with transaction.atomic():
                _copy_into_temp(cur, "tracking_poll_in", "tracking_trackingstate", cols, out)
                cur.execute("UPDATE tracking_trackingstate t SET last_polled_at = "
                            "i.last_polled_at, next_poll_at = i.next_poll_at "
                            "FROM tracking_poll_in i WHERE t.shipment_id = i.shipment_id")
        else:
            cur.executemany("UPDATE tracking_trackingstate SET last_polled_at = %s, "
                            "next_poll_at = %s WHERE shipment_id = %s",
                            [(at, nxt, sid) for sid, at, nxt in out])


class RefreshOutcome(enum.StrEnum):
    UPDATED = "updated"  # the carrier answered with new events
    UNCHANGED = "unchanged"  # the carrier answered, nothing new
    REQUESTED = "requested"  # asked by ticket: the answer comes later, on its own
    PENDING = "pending"  # a ticket with this shipment is already waiting for its answer
    FAILED = "failed"  # the carrier refused or has no data for the number
    DEFERRED = "deferred"  # the account's rate limit or daily quota: asked again later
    FINAL = "final"  # the status is final: the carrier is not asked any more


@dataclass(frozen=True)
class Refresh:
    """What "refresh now" did, told the same way on the page and in the API."""

    outcome: RefreshOutcome
    carrier: str  # the carrier's name
    status: Status | None  # the shipment's status after it
    asked: int = 0
    events: int = 0
    stored: int = 0
    ticket: str = ""  # the ticket the answer will come by (requested / pending)
    answer_expected_at: datetime | None = None  # when that answer is fetched
    next_poll_at: datetime | None = None  # failed / deferred: when it is asked again
    error: str = ""  # failed: the carrier's words

    @property
    def ok(self) -> bool:
        return self.outcome not in (RefreshOutcome.FAILED, RefreshOutcome.DEFERRED)

    @property
    def message(self) -> str:
        status = str(STATUS_LABELS[self.status]) if self.status else _("нет данных")
        o = RefreshOutcome
        if self.outcome == o.UPDATED:
            return _("Статус обновлён: %(status)s") % {"status": status}
        if self.outcome == o.UNCHANGED:
            return _("Перевозчик ответил: новых событий нет, статус — %(status)s") % {
                "status": status}
        if self.outcome == o.REQUESTED:
            return _("Запрос отправлен перевозчику (%(carrier)s): ответ придёт около %(time)s, "
                     "статус обновится сам") % {"carrier": self.carrier,
                                                "time": _when(self.answer_expected_at)}
        if self.outcome == o.PENDING:
            return _("Запрос уже отправлен перевозчику (%(carrier)s): ответ придёт около "
                     "%(time)s, статус обновится сам") % {
                "carrier": self.carrier, "time": _when(self.answer_expected_at)}
        if self.outcome == o.FAILED:
            return _("Перевозчик (%(carrier)s) не дал данных: %(error)s. Спросим снова около "
                     "%(time)s") % {"carrier": self.carrier, "error": self.error,
                                    "time": _when(self.next_poll_at)}
        if self.outcome == o.DEFERRED:
            return _("Лимит запросов к перевозчику (%(carrier)s) исчерпан: спросим около "
                     "%(time)s") % {"carrier": self.carrier, "time": _when(self.next_poll_at)}
        return _("Статус окончательный (%(status)s): перевозчика больше не опрашиваем") % {
            "status": status}


def _when(at: datetime | None) -> str:
    """A time in the site's zone: "16:45" today, "24.11.2026 00:05" another day."""
    if at is None:
        return "—"
    local = timezone.localtime(at)
    today = timezone.localtime().date() == local.date()
    return date_format(local, "H:i" if today else "d.m.Y H:i")


def tracking_refresh(*, actor: Actor, shipment_id: int, now: datetime | None = None) -> Refresh:
    """"Refresh now" for one shipment: asks its carrier at once. A carrier that answers
    later (tickets) gets the request, and the answer is fetched and applied on its own; the
    result says which happened and when the answer is due."""
    actor.require(Perm.VIEW)
    shipment = Shipment.objects.filter(organization=actor.organization, pk=shipment_id).select_related(
        "carrier_account").first()
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    if not shipment.tracking_number:
        raise ValidationFailed(_("У отправления нет трек-номера"), errors=[
            FieldError(("shipment_id",), _("нет трек-номера"))])
    account = shipment.carrier_account
    if account is None or not account.is_active:
        raise ValidationFailed(_("У отправления нет действующего договора с перевозчиком"),
                               errors=[FieldError(("shipment_id",),
                                                  _("нет действующего договора с перевозчиком"))])
    now = now or timezone.now()
    tracking_watch(shipment_ids=[shipment.pk], now=now)
    adapter = _adapter_for(account)
    state = TrackingState.objects.get(shipment_id=shipment.pk)
    if state.final:
        return Refresh(outcome=RefreshOutcome.FINAL, carrier=adapter.name,
                       status=_STATUS.get(state.status))
    result = None
    if adapter.tracks_by_ticket():
        result = _refresh_at_once(adapter, account, shipment, now)
        if result is None:
            pending = _pending_ticket(account.pk, shipment.pk)
            if pending is not None:
                return Refresh(outcome=RefreshOutcome.PENDING, carrier=adapter.name,
                               status=_STATUS.get(state.status), ticket=pending[0],
                               answer_expected_at=pending[1])
    if result is None:
        result = tracking_poll(shipment_ids=[shipment.pk], now=now)
    state.refresh_from_db(fields=["status", "next_poll_at"])
    out = Refresh(outcome=RefreshOutcome.UPDATED if result.ingest.stored
                  else RefreshOutcome.UNCHANGED, carrier=adapter.name,
                  status=_STATUS.get(state.status), asked=result.asked, events=result.events,
                  stored=result.ingest.stored)
    if result.requested:
        ticket, first_fetch = result.requested[0]
        return replace(out, outcome=RefreshOutcome.REQUESTED, ticket=ticket,
                       answer_expected_at=first_fetch)
    if result.deferred:
        return replace(out, outcome=RefreshOutcome.DEFERRED, next_poll_at=state.next_poll_at)
    if result.failed:
        return replace(out, outcome=RefreshOutcome.FAILED, next_poll_at=state.next_poll_at,
                       error=result.errors.get(shipment.tracking_number, ""))
    return out


def _refresh_at_once(adapter: carrier_base.CarrierAdapter, account: Any, shipment: Shipment,
                     now: datetime) -> PollResult | None:
    """A ticket carrier whose adapter also answers for one number within the call (Russian
    Post's getOperationHistory, ``Capability.TRACK_SINGLE``) answers a manual refresh at once, within
    the account's daily quota. ``None``: it cannot (no such method, quota spent, refused —
    e.g. the single-access daily limit), so the number goes by ticket."""
    number = shipment.tracking_number
    if (carrier_base.Capability.TRACK_SINGLE not in adapter.capabilities or not number
            or not _take_quota(account, 1, now)):
        return None
    try:
        events = adapter.track_single(number)
    except carrier_base.CarrierError as exc:
        # the number goes by ticket, which takes its own share: this one was never tracked
        _give_back_quota(account, 1, now)
        log.info("tracking %s at once refused, asking by ticket: %s", number, exc)
        return None
    out = PollResult(asked=1, calls=1, events=len(events))
    _merge(out.ingest, tracking_events_ingest(events=events, account=account,
                                              requested=[number], now=now))
    _finish_polls([shipment.pk], {}, now=now)
    return out


def _pending_ticket(account_id: int, shipment_id: int) -> tuple[str, datetime | None] | None:
    """The ticket already asked for this shipment and its next fetch, if one is waiting."""
    rows = TrackingTicket.objects.filter(account_id=account_id).order_by("next_fetch_at")
    for ticket, next_fetch, ids in rows.values_list("ticket", "next_fetch_at", "shipment_ids"):
        if shipment_id in ids:
            return ticket, next_fetch
    return None


def tracking_pending_ticket(*, actor: Actor, shipment_id: int) -> tuple[str, datetime | None] | None:
    """For the timeline page: the ticket this shipment waits for, and when it is fetched."""
    account_id = Shipment.objects.filter(organization=actor.organization, pk=shipment_id
                                         ).values_list("carrier_account_id", flat=True).first()
    return _pending_ticket(account_id, shipment_id) if account_id else None
