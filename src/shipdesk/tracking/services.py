"""Tracking: ingest carrier events in bulk, derive the real status, flag exceptions,
schedule polls, send webhooks out and the daily report.

Shipments' tracking status is written only through
``shipments.services.shipments_apply_tracking``. Shipments are *read* here directly (one
query per chunk, read-only) because the bulk path cannot afford a selector per row.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import httpx
import psycopg
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.translation import gettext as _
from psycopg.types.datetime import TimestamptzLoader

from shipdesk.analytics import services as analytics
from shipdesk.carriers import base as carrier_base
from shipdesk.core import crypto, pgcopy
from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.core.memory import collector_paused
from shipdesk.core.outbound import OutboundRefused, check_url, guarded_client
from shipdesk.shipments.models import Shipment
from shipdesk.shipments.regions import zone_for_index
from shipdesk.shipments.services import TrackingUpdate, shipments_apply_tracking
from shipdesk.tenancy.models import Organization, zone_named
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit
from shipdesk.tracking import engine
from shipdesk.tracking.models import (
    PickupOffice,
    RejectedEvent,
    RouteTransit,
    ShipmentStatusChange,
    TrackingRule,
    TrackingSettings,
    TrackingState,
    WebhookDelivery,
    WebhookEndpoint,
)
from shipdesk.tracking.statuses import FINAL_STATUSES, Status

log = logging.getLogger(__name__)

INGEST_CHUNK = 20_000
FUTURE_TOLERANCE = timedelta(hours=1)
BEFORE_CREATION_TOLERANCE = timedelta(days=2)
_EVENT_COLUMNS = ("organization_id", "shipment_id", "tracking_number", "occurred_at",
                  "utc_offset_minutes", "raw_code", "raw_text", "status", "substatus", "place",
                  "office_index", "unknown_code", "source", "raw", "created_at",
                  "storage_until")


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0  # new rows in the event store
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason -> count
    unknown_codes: int = 0
    status_changes: int = 0
    shipments: int = 0  # shipments whose status was re-derived

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


@dataclass(frozen=True)
class _ShipmentInfo:
    id: int
    organization_id: int
    tracking_number: str
    carrier_code: str
    account_id: int | None
    mail_type: str
    route: str
    to_pickup_point: bool
    created_at: datetime
    control_days: int | None
    # the delivery region's zone: a pickup office keeps its storage calendar in it
    zone: zoneinfo.ZoneInfo | None
    # what the statistics file its status changes under (analytics' rollups)
    sender_id: int | None = None
    region: str = ""


# --------------------------------------------------------------------------- rules

class Rules:
    """Carrier rules (storage days, stuck days, control term) and route statistics,
    loaded once per ingest call."""

    def __init__(self, org_ids: Iterable[int] = ()) -> None:
        org_ids = list(org_ids)
        self.rows = list(TrackingRule.objects.filter(
            Q(organization=None) | Q(organization_id__in=org_ids)).values(
            "organization_id", "carrier_code", "mail_type", "route", "storage_days",
            "stuck_days", "control_days"))
        self.transit = {(carrier, route): mean for carrier, route, mean in
                        RouteTransit.objects.filter(samples__gte=3).values_list(
                            "carrier_code", "route", "mean_days")}
        self.zones = dict(Organization.objects.filter(pk__in=org_ids).values_list(
            "pk", "timezone"))
        self._cache: dict[tuple[int, str, str, str], tuple[int, int, int | None]] = {}
        self._contexts: dict[tuple[Any, ...], engine.Context] = {}

    def for_(self, org_id: int, carrier: str, mail_type: str, route: str
             ) -> tuple[int, int, int | None]:
        key = (org_id, carrier, mail_type, route)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        values: dict[str, tuple[int, Any]] = {}
        for r in self.rows:
            if r["organization_id"] not in (None, org_id):
                continue
            if r["carrier_code"] not in ("", carrier) or r["mail_type"] not in ("", mail_type):
                continue
            if r["route"] not in ("", route):
                continue
            spec = ((r["organization_id"] is not None) * 8 + bool(r["route"]) * 4
                    + bool(r["carrier_code"]) * 2 + bool(r["mail_type"]))
            for name in ("storage_days", "stuck_days", "control_days"):
                if r[name] is not None and (name not in values or values[name][0] <= spec):
                    values[name] = (spec, r[name])
        found = (values.get("storage_days", (0, 30))[1], values.get("stuck_days", (0, 7))[1],
                 values.get("control_days", (0, None))[1])
        self._cache[key] = found
        return found

    def context(self, info: _ShipmentInfo) -> engine.Context:
        # the bulk path asks for thousands of parcels sharing a handful of contexts
        key = (info.organization_id, info.carrier_code, info.mail_type, info.route,
               info.to_pickup_point, info.control_days, info.zone)
        hit = self._contexts.get(key)
        if hit is None:
            hit = self._contexts[key] = self._context(info)
        return hit

    def _context(self, info: _ShipmentInfo) -> engine.Context:
        storage, stuck, control = self.for_(info.organization_id, info.carrier_code,
                                            info.mail_type, info.route)
        return engine.Context(
            to_pickup_point=info.to_pickup_point, storage_days=storage, stuck_days=stuck,
            transit_days=self.transit.get((info.carrier_code, info.route)),
            control_days=info.control_days if info.control_days is not None else control,
            zone=info.zone or zone_named(self.zones.get(info.organization_id, "")))


def _route(sender_index: str | None, index: str | None) -> str:
    a, b = (sender_index or "")[:3], (index or "")[:3]
    return f"{a}-{b}" if a and b else ""


def _mail_type(service_code: str | None, category: str | None) -> str:
    """The mail type the carrier rules are keyed by: the service's type ("ONLINE_PARCEL" of
    "ONLINE_PARCEL/WITH_DECLARED_VALUE"), not the category (ordinary, with declared value)
    that every type shares."""
    return (service_code or "").partition("/")[0].upper() or (category or "")


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A read of the bulk path. On PostgreSQL timestamps go through psycopg's own C loader
    (aware, in the session's UTC), many times faster than the Python one Django installs."""
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        cur.execute(sql, params)
        return cur.fetchall()


def _load_shipments(numbers: Sequence[str], *, organization_id: int | None = None,
                    ids: Sequence[int] | None = None) -> dict[str, _ShipmentInfo]:
    """The shipments carrying ``numbers``, by number. Numbers are unique per organization
    only (docs/tracking-numbers.md): events from a carrier account are matched within its
    organization (``organization_id``); without one, a number two organizations carry is
    left out (whose parcel it is cannot be told). ``ids``: the shipments by id instead,
    keyed ``"organization:number"`` (for callers that take the values)."""
    found: dict[str, _ShipmentInfo] = {}
    shared: set[str] = set()
    to_door_of: dict[str, bool] = {}  # options as stored: the same few texts over and over
    # mail types and routes: a few hundred distinct values among thousands of parcels
    mail_type_of: dict[tuple[str | None, str | None], str] = {}
    route_of: dict[tuple[str | None, str | None], str] = {}
    region_of: dict[tuple[str | None, str | None], str] = {}
    shipments, senders = Shipment._meta.db_table, "shipments_senderprofile"
    keys: Sequence[Any] = numbers if ids is None else ids
    for i in range(0, len(keys), 5000):
        part = list(keys[i:i + 5000])
        if ids is not None:
            where, params = f"s.id IN ({', '.join(['%s'] * len(part))})", part
        elif connection.vendor == "postgresql":
            where, params = "s.tracking_number = ANY(%s::text[])", [_text_array(part)]
        else:
            where, params = f"s.tracking_number IN ({', '.join(['%s'] * len(part))})", part
        if organization_id is not None:
            where, params = f"s.organization_id = %s AND {where}", [organization_id, *params]
        rows = _fetch(
            "SELECT s.id, s.organization_id, s.tracking_number, s.carrier_code, "  # noqa: S608
            "s.carrier_account_id, s.mail_category, s.service_code, p.\"index\", "
            "s.\"index\", s.pickup_point_code, s.options, s.created_at, s.delivery_days_max, "
            "s.sender_id, s.country "
            f"FROM {shipments} s LEFT JOIN {senders} p ON p.id = s.sender_id WHERE {where}",
            params)
        for (sid, org_id, number, carrier, account, category, service, s_index, index, pp,
             options, created, days_max, sender_id, country) in rows:
            if isinstance(options, str):
                to_door = to_door_of.get(options)
                if to_door is None:
                    loaded = json.loads(options or "{}")
                    to_door = to_door_of[options] = bool((loaded or {}).get("courier_delivery"))
            else:
                to_door = bool((options or {}).get("courier_delivery"))
            mail_type = mail_type_of.get((service, category))
            if mail_type is None:
                mail_type = mail_type_of[(service, category)] = _mail_type(service, category)
            route = route_of.get((s_index, index))
            if route is None:
                route = route_of[(s_index, index)] = _route(s_index, index)
            region = region_of.get((index, country))
            if region is None:
                region = region_of[(index, country)] = analytics.region_of(
                    (index or "")[:3], country)
            if number in found and ids is None:
                shared.add(number)
            found[number if ids is None else f"{org_id}:{number}"] = _ShipmentInfo(
                sid, org_id, number, carrier, account, mail_type, route,
                bool(pp) or not to_door, cast(datetime, _dt(created)), days_max,
                zone_for_index(index[:3]) if index else None, sender_id, region)
    for number in shared:  # only without an organization: whose it is cannot be told
        del found[number]
    return found


# --------------------------------------------------------------------------- ingest

def tracking_events_ingest(*, events: list[carrier_base.TrackingEvent], account: Any = None,
                           requested: Iterable[str] | None = None, source: str = "poll",
                           now: datetime | None = None) -> IngestResult:
    """Takes carrier events in bulk: checks them, stores new ones once (insert-ignore on
    the dedup key), derives the real status of every shipment that got a new event, writes
    status changes, flags exceptions and schedules the next poll. Bad events are kept in
    :class:`RejectedEvent` with the reason; nothing raises for bad data.

    ``account``: the carrier account the events came from — parcels of another
    organization are rejected. ``requested``: the numbers asked for in a batch call — an
    answer about another number is rejected."""
    now = now or timezone.now()
    result = IngestResult(received=len(events))
    wanted = set(requested) if requested is not None else None
    with collector_paused():
        for i in range(0, len(events), INGEST_CHUNK):
            _ingest_chunk(events[i:i + INGEST_CHUNK], account=account, wanted=wanted,
                          source=source, now=now, result=result)
    return result


def _ingest_chunk(events: list[carrier_base.TrackingEvent], *, account: Any,
                  wanted: set[str] | None, source: str, now: datetime,
                  result: IngestResult) -> None:
    infos = _load_shipments(sorted({e.tracking_number for e in events}),
                            organization_id=getattr(account, "organization_id", None))
    rows: list[tuple[Any, ...]] = []
    rejected: list[RejectedEvent] = []
    seen: set[tuple[int, datetime, str, str]] = set()

    def reject(e: carrier_base.TrackingEvent, reason: str, org_id: int | None,
               detail: str = "") -> None:
        result.reject(reason)
        rejected.append(RejectedEvent(
            organization_id=org_id, tracking_number=e.tracking_number[:32],
            occurred_at=e.occurred_at if _aware(e.occurred_at) else None,
            raw_code=e.raw_code[:32], raw_text=e.raw_text[:300], reason=reason,
            detail=detail[:300]))

    account_org = getattr(account, "organization_id", None)
    pg = connection.vendor == "postgresql"
    utc = zoneinfo.ZoneInfo("UTC")
    latest = now + FUTURE_TOLERANCE
    unknown = 0
    encode = _RAW_JSON
    raw_value = pgcopy.jsonb if pg else str  # as the COPY takes it / as SQLite's JSON text
    minutes_of: dict[timedelta, int] = {}  # an answer's events share a zone or two
    # the hot loop of the ingest: one pass, locals only, a tuple per event
    for e in events:
        number = e.tracking_number
        info = infos.get(number)
        if wanted is not None and number not in wanted:
            reject(e, "not_requested", account_org, _("номер не запрашивался"))
            continue
        if info is None:
            reject(e, "unknown_number", account_org, _("нет отправления с таким номером"))
            continue
        if account_org is not None and info.organization_id != account_org:
            reject(e, "foreign_parcel", account_org, _("отправление другой организации"))
            continue
        at = e.occurred_at
        offset = at.utcoffset()
        if offset is None:
            reject(e, "naive_time", info.organization_id, _("время без часового пояса"))
            continue
        if at > latest:
            reject(e, "future", info.organization_id, _("дата события в будущем"))
            continue
        if at < info.created_at - BEFORE_CREATION_TOLERANCE:
            reject(e, "before_creation", info.organization_id,
                   _("событие раньше создания отправления"))
            continue
        place = e.location[:300] if e.location else ""
        code = e.raw_code[:32]
        key = (info.id, at, code, place)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        status = e.status
        if status is None:
            unknown += 1
        minutes = minutes_of.get(offset)
        if minutes is None:
            minutes = minutes_of[offset] = int(offset.total_seconds()) // 60
        raw = e.raw
        rows.append((info.organization_id, info.id, number[:32],
                     at if pg else at.astimezone(utc), minutes,
                     code, e.raw_text[:300], "" if status is None else str(status),
                     e.substatus[:64], place, e.office_index[:12], status is None, source,
                     raw_value(encode(raw) if raw else "{}"), now, e.storage_until))
    result.unknown_codes += unknown
    if rejected:
        log.warning("tracking ingest: rejected %d events (%s)", len(rejected),
                    ", ".join(f"{k}={v}" for k, v in sorted(result.rejected.items())))
    with transaction.atomic():
        if rejected:
            RejectedEvent.objects.bulk_create(rejected, batch_size=2000)
        if not rows:
            return
        ids = sorted({r[1] for r in rows})
        states = _load_states(ids)
        # Only shipments with stored events can have duplicates in the store: read their
        # history once, drop what is already there, and the rest goes in with a plain COPY.
        history = _load_history([i for i in ids if i in states and states[i][2] is not None])
        redated: set[int] = set()
        if history:
            known = {(sid, f[0], f[3], f[4]): f[6] for sid, facts in history.items()
                     for f in facts}
            new = [r for r in rows if (r[1], r[3], r[5], r[9]) not in known]
            # A repeated event that tells another storage date (CDEK moves keep_free_until
            # when the storage is extended, with no new status): the date is the news.
            moved = [r for r in rows if r[15] is not None
                     and known.get((r[1], r[3], r[5], r[9]), r[15]) != r[15]]
            if moved:
                redated = _storage_dates_update(moved, history)
        else:
            new = rows
        inserted = _insert_new_events(new)
        if inserted is None:  # another worker stored some of them meanwhile: the safe path
            inserted = _insert_events(new)
            history = _load_history(sorted(set(inserted) | redated))
        else:
            fact, status_of = engine.EventFact, _STATUS.get
            for r in new:
                history[r[1]].append(fact(r[3], status_of(r[7]), r[8], r[5], r[9], r[6], r[15]))
        result.stored += len(inserted)
        result.duplicates += len(rows) - len(inserted)
        _note_arrival_offices(new, infos)
        affected = sorted(set(inserted) | redated)
        if affected:
            by_id = {i.id: i for i in infos.values()}
            _rederive([by_id[s] for s in affected], now=now, result=result, history=history,
                      states=states)


def _storage_dates_update(rows: list[tuple[Any, ...]],
                          history: dict[int, list[engine.EventFact]]) -> set[int]:
    """Stored events that the carrier now tells with another storage date take that date,
    in the store and in ``history``; the shipments whose verdict must be derived again."""
    with connection.cursor() as cur:  # the key's values as the insert wrote them
        cur.executemany("UPDATE tracking_trackingevent SET storage_until = %s WHERE "
                        "shipment_id = %s AND occurred_at = %s AND raw_code = %s AND place = %s",
                        [(r[15], r[1], r[3], r[5], r[9]) for r in rows])
    for r in rows:
        facts = history[r[1]]
        for n, f in enumerate(facts):
            if (f.occurred_at, f.raw_code, f.place) == (r[3], r[5], r[9]):
                facts[n] = f._replace(storage_until=r[15])
    return {r[1] for r in rows}


def _insert_new_events(rows: list[tuple[Any, ...]]) -> list[int] | None:
    """Rows known to be new go straight in (binary COPY on PostgreSQL); ``None`` when a
    concurrent writer stored one of them first (nothing is written then)."""
    if connection.vendor != "postgresql" or not rows:
        return _insert_events(rows)
    try:
        with transaction.atomic(), connection.cursor() as cur:
            pgcopy.copy_rows(cur, "tracking_trackingevent", list(_EVENT_COLUMNS), rows)
    except (IntegrityError, psycopg.errors.UniqueViolation):  # COPY runs on psycopg's own cursor
        return None
    return [r[1] for r in rows]


def _raw_encoder() -> Callable[[dict[str, Any]], str]:
    """JSON text of a carrier's raw payload (compact, non-ASCII kept, anything else as
    text), with one C encoder for every event: ``JSONEncoder.encode`` builds a new one on
    each call, a third of its cost for payloads this small. Payloads are parsed JSON or XML,
    never circular, so the circular-reference check is left out."""
    fallback = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # a Python without the C accelerator
        return fallback.encode
    encode = make(None, str, json.encoder.encode_basestring, None, ":", ",", False, False, True)
    return lambda raw: "".join(encode(raw, 0))


_RAW_JSON = _raw_encoder()


def _aware(dt: datetime) -> bool:
    return dt.tzinfo is not None and dt.utcoffset() is not None


def _insert_events(rows: list[tuple[Any, ...]]) -> list[int]:
    """Inserts, ignoring rows already stored; returns the shipment id of each new row."""
    if not rows:
        return []
    cols = ", ".join(_EVENT_COLUMNS)
    conflict = "ON CONFLICT (shipment_id, occurred_at, raw_code, place) DO NOTHING"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            _copy_into_temp(cur, "tracking_ev_in", "tracking_trackingevent",
                            list(_EVENT_COLUMNS), rows, binary=True)
            head = f"INSERT INTO tracking_trackingevent ({cols})"
            cur.execute(f"{head} SELECT {cols} FROM tracking_ev_in {conflict} RETURNING shipment_id")  # noqa: S608
            return [r[0] for r in cur.fetchall()]
        out: list[int] = []
        width = len(_EVENT_COLUMNS)
        step = max(1, 30_000 // width)
        for i in range(0, len(rows), step):
            part = rows[i:i + step]
            values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(part))
            sql = f"INSERT INTO tracking_trackingevent ({cols}) VALUES {values} {conflict}"  # noqa: S608
            cur.execute(sql + " RETURNING shipment_id",
                        [v for r in part for v in r])
            out.extend(r[0] for r in cur.fetchall())
        return out


def _ids_filter(column: str, ids: Sequence[int]) -> tuple[str, list[Any]]:
    """``column IN ids`` as SQL: one array literal on PostgreSQL (dumping a Python list as
    an array parameter costs more than the query), placeholders on SQLite.

    On PostgreSQL the ids' bounds go beside the array: a table that has grown since its
    last ANALYZE (tracking tables fill by the million between autovacuum runs) has no
    statistics, and the planner then takes thousands of ids for most of the table and
    scans all of it; the range tells it the lookup is narrow, so it reads the index."""
    if not ids:
        return "FALSE", []
    if connection.vendor == "postgresql":
        return (f"{column} = ANY(%s::bigint[]) AND {column} BETWEEN %s AND %s",
                ["{" + ",".join(str(int(i)) for i in ids) + "}", min(ids), max(ids)])
    return f"{column} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _text_array(values: Sequence[str]) -> str:
    """A PostgreSQL text[] literal, every element quoted and escaped."""
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"


def _load_history(shipment_ids: list[int]) -> dict[int, list[engine.EventFact]]:
    """The stored events of these shipments as the bulk derivation needs them: without
    the carrier's text, which only the timeline shows (it never changes a verdict)."""
    history: dict[int, list[engine.EventFact]] = defaultdict(list)
    utc = zoneinfo.ZoneInfo("UTC")
    fact, status_of = engine.EventFact, _STATUS.get
    cols = "shipment_id, occurred_at, status, substatus, raw_code, place, storage_until"
    for i in range(0, len(shipment_ids), 5000):
        where, params = _ids_filter("shipment_id", shipment_ids[i:i + 5000])
        rows = _fetch(f"SELECT {cols} FROM tracking_trackingevent WHERE {where}", params)  # noqa: S608
        for sid, at, st, sub, code, place, until in rows:
            if isinstance(at, str):  # SQLite through a raw cursor
                at = datetime.fromisoformat(at)
                if at.tzinfo is None:
                    at = at.replace(tzinfo=utc)
                if until is not None:
                    until = date.fromisoformat(until)
            history[sid].append(fact(at, status_of(st), sub, code, place, "", until))
    return history


_STATUS: dict[str, Status] = {s.value: s for s in Status}

# tracking_trackingstate columns written by the bulk path, in this order
_STATE_FIELDS = ["carrier_code", "route", "status", "substatus", "status_at", "final",
                 "next_poll_at", "last_event_at", "last_movement_at", "accepted_at",
                 "arrived_at_pickup_at", "arrival_inferred", "storage_deadline",
                 "expected_delivery", "control_due", "transit_recorded", "is_stuck", "is_overdue",
                 "is_storage_ending", "is_returned", "is_lost", "has_unknown_codes",
                 "updated_at"]
_STATE_INSERT_ONLY = ["shipment_id", "organization_id", "public_token", "created_at",
                      "poll_failures"]
_CHANGE_COLUMNS = ["organization_id", "shipment_id", "previous_status", "status", "substatus",
                   "changed_at", "created_at", "updated_at"]


def _dt(value: Any) -> datetime | None:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo("UTC"))
    return value


def _load_states(ids: list[int]) -> dict[int, tuple[str, str, datetime | None, bool]]:
    """shipment id -> (status, substatus, last_event_at, transit_recorded)."""
    out: dict[int, tuple[str, str, datetime | None, bool]] = {}
    for i in range(0, len(ids), 5000):
        where, params = _ids_filter("shipment_id", ids[i:i + 5000])
        for sid, st, sub, last, recorded in _fetch(
                "SELECT shipment_id, status, substatus, last_event_at, transit_recorded "
                "FROM tracking_trackingstate WHERE " + where, params):
            out[sid] = (st, sub, _dt(last), bool(recorded))
    return out


def _rederive(infos: list[_ShipmentInfo], *, now: datetime, result: IngestResult,
              history: dict[int, list[engine.EventFact]] | None = None,
              states: dict[int, tuple[str, str, datetime | None, bool]] | None = None) -> None:
    """Re-derives the verdict of these shipments from their whole history (read from the
    store unless given) and writes everything that follows from it, in bulk."""
    ids = [i.id for i in infos]
    if states is None:
        states = _load_states(ids)
    if history is None:
        history = _load_history(ids)
    rules = Rules({i.organization_id for i in infos})
    windows = _poll_windows({i.organization_id for i in infos})
    changes: list[tuple[Any, ...]] = []
    facts: list[analytics.ChangeFact] = []
    updates: list[TrackingUpdate] = []
    state_rows: list[tuple[Any, ...]] = []
    transit: dict[tuple[str, str], list[float]] = defaultdict(list)
    derive, poll_delay, context = engine.derive, engine.next_poll_delay, rules.context
    no_state = ("", "", None, False)
    for info in infos:
        ctx = context(info)
        verdict = derive(history.get(info.id, ()), now=now, context=ctx, explain=False)
        # on time is against the carrier's control term, not our prediction
        control_due = (verdict.accepted_at + timedelta(days=ctx.control_days)
                       if verdict.accepted_at is not None and ctx.control_days is not None
                       else None)
        state = states.get(info.id)
        previous, previous_sub, _last, recorded = state or no_state
        status = verdict.status.value if verdict.status is not None else ""
        if status and (status, verdict.substatus) != (previous, previous_sub):
            if status != previous:
                changes.append((info.organization_id, info.id, previous, status,
                                verdict.substatus, verdict.status_at, now, now))
                facts.append(analytics.ChangeFact(
                    info.organization_id, info.created_at, info.account_id, info.carrier_code,
                    info.mail_type, info.region, info.sender_id, info.route, info.id,
                    previous, status, verdict.substatus, verdict.status_at,
                    verdict.accepted_at, verdict.arrived_at_pickup_at, control_due))
            updates.append(TrackingUpdate(info.id, status, verdict.substatus,
                                          verdict.status_at))  # type: ignore[arg-type]
        if (not recorded and verdict.accepted_at and verdict.arrived_at_pickup_at
                and not verdict.arrival_inferred and info.route):
            days = (verdict.arrived_at_pickup_at - verdict.accepted_at).total_seconds() / 86400
            if 0 <= days <= 120:
                transit[(info.carrier_code, info.route)].append(days)
            recorded = True
        delay = poll_delay(verdict, now=now)
        next_poll = None
        if delay is not None:
            next_poll = now + delay
            window = windows.get(info.organization_id)
            if window is not None:
                next_poll = into_window(next_poll, window)
        flags = verdict.flags
        # the token is written only when the state row is new (an existing one keeps its own)
        state_rows.append((
            info.id, info.organization_id, "" if state else secrets.token_urlsafe(24), now, 0,
            info.carrier_code, info.route, status, verdict.substatus, verdict.status_at,
            verdict.final, next_poll,
            verdict.last_event_at, verdict.last_movement_at, verdict.accepted_at,
            verdict.arrived_at_pickup_at, verdict.arrival_inferred, verdict.storage_deadline,
            verdict.expected_delivery, control_due, recorded, engine.STUCK in flags, engine.OVERDUE in flags,
            engine.STORAGE_ENDING in flags, engine.RETURNED_FLAG in flags,
            engine.LOST_FLAG in flags, bool(verdict.unknown_codes), now))
    result.shipments += len(infos)
    result.status_changes += len(changes)
    _upsert_states(state_rows)
    write_rollups = None
    if changes:
        # the new rows are read back only for the shops that have webhooks to send
        hooked = WebhookEndpoint.objects.filter(
            organization_id__in={c[0] for c in changes}, is_active=True).exists()
        made = _insert_changes(changes, returning=hooked)
        if hooked:
            _queue_webhooks(made)
        # worked out now (before the shipments move on), written last
        write_rollups = analytics.rollups_status_changes(changes=facts, deferred=True)
    if updates:
        shipments_apply_tracking(updates=updates)
    if write_rollups is not None:
        # the rollup rows parallel ingests share (a day's totals) stay locked only until
        # the caller's commit, which follows
        write_rollups()
    if transit:
        # statistics: after commit, in a short transaction of its own, so that parallel
        # ingests never wait on each other's route rows
        transaction.on_commit(lambda: _record_transit(transit))


def _copy_into_temp(cur: Any, temp: str, table: str, cols: list[str],
                    rows: Iterable[Sequence[Any]], *, binary: bool = False) -> None:
    """PostgreSQL: COPY rows into a session temp table shaped like ``table``'s columns
    (``binary``: see :func:`shipdesk.core.pgcopy.copy_rows`)."""
    names = ", ".join(cols)
    create = f"CREATE TEMP TABLE IF NOT EXISTS {temp} ON COMMIT DELETE ROWS AS"
    cur.execute(f"{create} SELECT {names} FROM {table} WITH NO DATA")  # noqa: S608
    cur.execute(f"TRUNCATE {temp}")
    if binary:
        pgcopy.copy_rows(cur, temp, cols, rows, shaped_like=table)
        return
    with cur.cursor.copy(f"COPY {temp} ({names}) FROM STDIN") as copy:
        for r in rows:
            copy.write_row(r)


def _upsert_states(rows: list[tuple[Any, ...]]) -> None:
    cols = [*_STATE_INSERT_ONLY, *_STATE_FIELDS]
    names = ", ".join(cols)
    sets = ", ".join(f"{c} = excluded.{c}" for c in _STATE_FIELDS)
    upsert = f"ON CONFLICT (shipment_id) DO UPDATE SET {sets}"
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            _copy_into_temp(cur, "tracking_state_in", "tracking_trackingstate", cols, rows,
                            binary=True)
            cur.execute(f"INSERT INTO tracking_trackingstate ({names}) "  # noqa: S608
                        f"SELECT {names} FROM tracking_state_in ORDER BY shipment_id {upsert}")
            return
        marks = ", ".join(["%s"] * len(cols))
        sql = f"INSERT INTO tracking_trackingstate ({names}) VALUES ({marks}) {upsert}"  # noqa: S608
        cur.executemany(sql, rows)


def _insert_changes(rows: list[tuple[Any, ...]], *, returning: bool = True
                    ) -> list[tuple[Any, ...]]:
    """Appends to the status-change feed, in order of time (the feed is read in id order);
    returns ``(id, *row)`` for each new row when asked to."""
    names = ", ".join(_CHANGE_COLUMNS)
    with connection.cursor() as cur:
        if connection.vendor == "postgresql" and not returning:
            rows = sorted(rows, key=lambda r: (r[5], r[1]))  # changed_at, shipment
            pgcopy.copy_rows(cur, "tracking_shipmentstatuschange", _CHANGE_COLUMNS, rows)
            return []
        if connection.vendor == "postgresql":
            _copy_into_temp(cur, "tracking_change_in", "tracking_shipmentstatuschange",
                            _CHANGE_COLUMNS, rows)
            cur.execute(f"INSERT INTO tracking_shipmentstatuschange ({names}) "  # noqa: S608
                        f"SELECT {names} FROM tracking_change_in ORDER BY changed_at, "
                        f"shipment_id RETURNING id, {names}")
            return [tuple(r) for r in cur.fetchall()]
    made = ShipmentStatusChange.objects.bulk_create(
        [ShipmentStatusChange(**dict(zip(_CHANGE_COLUMNS, r, strict=True))) for r in rows],
        batch_size=2000)
    return [(m.pk, *r) for m, r in zip(made, rows, strict=True)]


def _record_transit(samples: dict[tuple[str, str], list[float]]) -> None:
    """Folds new transit-time samples into the per-route running mean (one upsert)."""
    rows = [(carrier, route, len(v), sum(v) / len(v))
            for (carrier, route), v in sorted(samples.items())]
    t = "tracking_routetransit"
    with connection.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {t} (carrier_code, route, samples, mean_days) VALUES (%s, %s, %s, %s) "  # noqa: S608
            f"ON CONFLICT (carrier_code, route) DO UPDATE SET "
            f"mean_days = ({t}.mean_days * {t}.samples + excluded.mean_days * excluded.samples)"
            f" / ({t}.samples + excluded.samples), samples = {t}.samples + excluded.samples",
            rows)


# --------------------------------------------------------------------------- polling windows

def _poll_windows(org_ids: Iterable[int]) -> dict[int, tuple[int, int, str]]:
    rows = TrackingSettings.objects.filter(organization_id__in=list(org_ids)).values_list(
        "organization_id", "poll_from_hour", "poll_to_hour", "organization__timezone")
    return {org: (a, b, tz) for org, a, b, tz in rows if (a, b) != (0, 24)}


def into_window(at: datetime, window: tuple[int, int, str] | None) -> datetime:
    """Moves ``at`` forward into the organization's polling window (local hours
    ``[from, to)``, may wrap midnight: 22–6 is "at night")."""
    if window is None:
        return at
    start, end, tzname = window
    local = at.astimezone(zone_named(tzname))

    def inside(h: int) -> bool:
        return start <= h < end if start < end else (h >= start or h < end)

    if inside(local.hour):
        return at
    opening = local.replace(hour=start % 24, minute=0, second=0, microsecond=0)
    if opening <= local:
        opening += timedelta(days=1)
    return opening.astimezone(zoneinfo.ZoneInfo("UTC"))


def tracking_recheck(*, now: datetime | None = None, limit: int = 20_000) -> int:
    """Re-derives open shipments whose flags depend on the clock (stuck, overdue, storage
    ending) even when no new event came: run daily."""
    now = now or timezone.now()
    ids = list(TrackingState.objects.filter(final=False).exclude(status="")
               .values_list("shipment_id", flat=True)[:limit])
    infos = _load_shipments((), ids=list(Shipment.objects.filter(pk__in=ids).exclude(
        tracking_number=None).values_list("pk", flat=True)))
    result = IngestResult()
    with transaction.atomic():
        _rederive(list(infos.values()), now=now, result=result)
    return result.shipments


# --------------------------------------------------------------------------- pickup offices

# An office loaded longer ago than this is asked again when a parcel arrives at it.
OFFICE_STALE_AFTER = timedelta(days=30)
# The due work's lease: a loading whose worker died is taken again after it.
OFFICE_FETCH_LEASE = timedelta(minutes=10)
# A carrier that cannot answer is asked again after 10 min, 20, 40 … at most a day apart,
# and left alone after this many failures (until a parcel arrives there again).
OFFICE_RETRY_FIRST = timedelta(minutes=10)
OFFICE_RETRY_MAX = timedelta(days=1)
OFFICE_GIVE_UP_AFTER = 10


def tracking_pickup_offices_sync(*, account_ids: Sequence[int] | None = None) -> int:
    """Loads the carriers' pickup points (address, hours) into :class:`PickupOffice`, for
    the recipient's page: one upsert per carrier, points already known are refreshed. The
    points are the carrier's, not an account's, so each carrier is asked once, through its
    first active account that answers (these, or all). Carriers whose offices are loaded on
    demand (``pickup_points_on_demand``: Russian Post) are not listed here. Returns how many
    points were written; a carrier that fails is logged and left as it was."""
    from shipdesk.carriers import registry  # the carriers domain's factory
    from shipdesk.carriers.models import CarrierAccount

    accounts = CarrierAccount.objects.filter(is_active=True).order_by("carrier_code", "pk")
    if account_ids is not None:
        accounts = accounts.filter(pk__in=list(account_ids))
    done: set[str] = set()
    written = 0
    for account in accounts:
        if account.carrier_code in done:
            continue
        try:
            adapter = registry.adapter_for_account(account)
            if (carrier_base.Capability.PICKUP_POINTS not in adapter.capabilities
                    or adapter.pickup_points_on_demand):
                done.add(account.carrier_code)
                continue
            points = adapter.pickup_points()
        except (carrier_base.CarrierError, NotImplementedError) as exc:
            log.warning("pickup points of %s (account %s) not loaded: %s",
                        account.carrier_code, account.pk, exc)
            continue
        done.add(account.carrier_code)
        written += _pickup_offices_upsert(account.carrier_code, points)
    return written


def _pickup_offices_upsert(carrier_code: str, points: Sequence[carrier_base.PickupPoint]) -> int:
    now = timezone.now()
    offices = {p.code[:64]: PickupOffice(
        carrier_code=carrier_code, code=p.code[:64], name=p.name[:200],
        address=_one_line(p.address)[:500], work_hours=p.work_hours[:300],
        source=PickupOffice.CARRIER, fetched_at=now) for p in points}
    PickupOffice.objects.bulk_create(
        list(offices.values()), update_conflicts=True, unique_fields=["carrier_code", "code"],
        update_fields=["name", "address", "work_hours", "source", "fetched_at", "next_fetch_at",
                       "fetch_failures", "fetch_error"], batch_size=2000)
    return len(offices)


def _one_line(address: carrier_base.Address) -> str:
    if address.raw:
        return address.raw
    parts = (address.index, address.region, address.city, address.street, address.house,
             address.building)
    return ", ".join(p for p in parts if p)


def _note_arrival_offices(rows: list[tuple[Any, ...]], infos: dict[str, _ShipmentInfo]) -> None:
    """The offices the ingest's new arrival events name (event rows as the ingest stores
    them) are handed to :func:`tracking_pickup_offices_note` after its commit: loading them
    is background work, never the ingest's."""
    arrived = {(r[1], r[10]) for r in rows if r[10] and r[7] == _ARRIVED}
    if not arrived:
        return
    carrier_of = {i.id: i.carrier_code for i in infos.values()}
    offices = {(carrier_of[sid], code) for sid, code in arrived if sid in carrier_of}
    transaction.on_commit(lambda: tracking_pickup_offices_note(offices=offices), robust=True)


_ARRIVED = Status.ARRIVED_AT_PICKUP.value


def tracking_pickup_offices_note(*, offices: Iterable[tuple[str, str]],
                                 now: datetime | None = None) -> list[int]:
    """Offices parcels have just arrived at, as ``(carrier code, office code)`` (the ingest
    hands them over after its commit): each one never loaded, or loaded longer than
    :data:`OFFICE_STALE_AFTER` ago, becomes due work, claimed for
    :data:`OFFICE_FETCH_LEASE`, and its loading is dispatched at once; the due-work sweep
    takes it again if that message is lost. Offices already loaded, already due, or waiting
    to be asked again after a failure are left alone, and so are the offices of carriers
    whose points are all listed by the daily sync. Returns the ids dispatched."""
    now = now or timezone.now()
    by_carrier: dict[str, set[str]] = defaultdict(set)
    for carrier, code in offices:
        if carrier and code and _offices_on_demand(carrier):
            by_carrier[carrier[:32]].add(code[:64])
    claimed_until = now + OFFICE_FETCH_LEASE
    stale = Q(fetched_at__isnull=True) | Q(fetched_at__lt=now - OFFICE_STALE_AFTER)
    ids: list[int] = []
    with transaction.atomic():
        for carrier, codes in sorted(by_carrier.items()):
            ordered = sorted(codes)
            for i in range(0, len(ordered), 1000):
                part = ordered[i:i + 1000]
                PickupOffice.objects.bulk_create(
                    [PickupOffice(carrier_code=carrier, code=code, next_fetch_at=claimed_until)
                     for code in part], ignore_conflicts=True)
                ids += PickupOffice.objects.filter(
                    (Q(next_fetch_at__isnull=True) & stale) | Q(next_fetch_at=claimed_until),
                    carrier_code=carrier, code__in=part).values_list("pk", flat=True)
        if ids:
            PickupOffice.objects.filter(pk__in=ids).update(next_fetch_at=claimed_until)
            transaction.on_commit(lambda: _dispatch_office_fetch(ids))
    return ids


def _offices_on_demand(carrier_code: str) -> bool:
    from shipdesk.carriers import registry

    try:
        cls = registry.adapter_class(carrier_code)
    except registry.UnknownCarrier:
        return False
    return (carrier_base.Capability.PICKUP_POINTS in cls.capabilities
            and cls.pickup_points_on_demand)


def _dispatch_office_fetch(ids: list[int]) -> None:
    from shipdesk.tracking import tasks  # tasks import this module

    for i in range(0, len(ids), OFFICE_FETCH_CHUNK):
        tasks.fetch_pickup_offices.delay(ids[i:i + OFFICE_FETCH_CHUNK])


OFFICE_FETCH_CHUNK = 50  # offices per task: one carrier call each


def tracking_pickup_offices_fetch(*, office_ids: Sequence[int],
                                  now: datetime | None = None) -> int:
    """Loads these due offices one by one from their carrier (``pickup_points(index=code)``
    through the first active account that is let in), for carriers whose offices are loaded
    on demand. Where the carrier knows no such office, has no account here, or cannot answer
    now, an office that is a postal index takes its name and place from the postal-index
    directory meanwhile (no hours there); one the carrier could not answer is asked again
    later. Idempotent; returns how many offices the carrier described."""
    from shipdesk.shipments.selectors import postal_offices

    now = now or timezone.now()
    rows = list(PickupOffice.objects.filter(pk__in=list(office_ids), next_fetch_at__isnull=False)
                .order_by("carrier_code", "code"))
    if not rows:
        return 0
    directory = postal_offices(indexes=[r.code for r in rows])
    lookups: dict[str, _OfficeLookup] = {}
    loaded = 0
    for row in rows:
        lookup = lookups.get(row.carrier_code)
        if lookup is None:
            lookup = lookups[row.carrier_code] = _OfficeLookup(row.carrier_code)
        try:
            point = lookup.find(row.code)
        except carrier_base.CarrierError as exc:
            row.fetch_failures = min(row.fetch_failures + 1, 32767)
            row.fetch_error = str(exc)[:300]
            delay = min(OFFICE_RETRY_FIRST * 2 ** min(row.fetch_failures - 1, 16),
                        OFFICE_RETRY_MAX)
            row.next_fetch_at = (now + delay if row.fetch_failures < OFFICE_GIVE_UP_AFTER
                                 else None)
            if row.source != PickupOffice.CARRIER:
                _from_directory(row, directory.get(row.code))
            continue
        row.next_fetch_at, row.fetch_failures, row.fetched_at = None, 0, now
        if point is None:  # not asked again before it is stale
            row.fetch_error = lookup.missing
            _from_directory(row, directory.get(row.code))
            continue
        row.name, row.address = point.name[:200], _one_line(point.address)[:500]
        row.work_hours, row.source = point.work_hours[:300], PickupOffice.CARRIER
        row.fetch_error = ""
        loaded += 1
    for lookup in lookups.values():
        lookup.close()
    PickupOffice.objects.bulk_update(rows, ["name", "address", "work_hours", "source",
                                            "fetched_at", "next_fetch_at", "fetch_failures",
                                            "fetch_error"])
    return loaded


def _from_directory(row: PickupOffice, office: Any) -> None:
    """The postal-index directory's name and place of an office, while the carrier's own
    description is missing (a row the carrier described keeps it)."""
    if office is None or row.source == PickupOffice.CARRIER:
        return
    place = office.city or office.city_1 or office.area
    parts = (office.index, place, "" if place else office.region)
    row.name = office.name[:200]
    row.address = ", ".join(p for p in parts if p)[:500]
    row.work_hours, row.source = "", PickupOffice.DIRECTORY


class _OfficeLookup:
    """One carrier's office service through its active accounts, the next one tried while
    the carrier refuses an account's credentials."""

    def __init__(self, carrier_code: str) -> None:
        from shipdesk.carriers import registry
        from shipdesk.carriers.models import CarrierAccount

        self.accounts: list[Any] = []
        self.adapters: dict[int, carrier_base.CarrierAdapter] = {}
        self.refused: set[int] = set()
        self.refusal: carrier_base.CarrierError | None = None  # the last account refused
        self.missing = _("у перевозчика нет такого пункта")
        try:
            cls: type[carrier_base.CarrierAdapter] | None = registry.adapter_class(carrier_code)
        except registry.UnknownCarrier:
            cls = None
        if (cls is None or carrier_base.Capability.PICKUP_POINTS not in cls.capabilities
                or not cls.pickup_points_on_demand):
            self.missing = _("перевозчик не сообщает пункты по одному")
            return
        self.accounts = list(CarrierAccount.objects.filter(
            carrier_code=carrier_code, is_active=True).order_by("pk"))
        if not self.accounts:
            self.missing = _("нет действующего договора с перевозчиком")

    def find(self, code: str) -> carrier_base.PickupPoint | None:
        """The carrier's point of this code; None when the carrier knows none or cannot be
        asked (``missing`` says which). Raises :class:`CarrierError` when it did not answer."""
        from shipdesk.carriers import registry

        for account in self.accounts:
            if account.pk in self.refused:
                continue
            adapter = self.adapters.get(account.pk)
            if adapter is None:
                adapter = self.adapters[account.pk] = registry.adapter_for_account(account)
            try:
                points = adapter.pickup_points(index=code)
            except carrier_base.AuthenticationFailed as exc:
                self.refused.add(account.pk)
                self.refusal = exc
                continue
            return next((p for p in points if p.code == code), None)
        if self.refusal is not None:
            raise self.refusal
        return None

    def close(self) -> None:
        for adapter in self.adapters.values():
            adapter.close()


# --------------------------------------------------------------------------- webhooks out

WEBHOOK_EVENT = "shipment.status_changed"
# Standard Webhooks' recommended schedule, then give up on the message.
RETRY_SCHEDULE = [timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30),
                  timedelta(hours=2), timedelta(hours=5), timedelta(hours=10),
                  timedelta(hours=10)]
DISABLE_AFTER_FAILURES = 50  # consecutive failed attempts of an endpoint


def webhook_sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``id.timestamp.body`` (Standard Webhooks)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def webhook_endpoint_create(*, actor: Actor, url: str, description: str = ""
                            ) -> tuple[WebhookEndpoint, str]:
    actor.require(Perm.MANAGE_SETTINGS)
    _check_url(url)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    endpoint = WebhookEndpoint.objects.create(
        organization=actor.organization, url=url, description=description,
        secret=crypto.encrypt(secret))
    audit(actor, "tracking.webhook_endpoint_create", endpoint, url=url)
    return endpoint, secret


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")) or len(url) > 500:
        raise ValidationFailed(_("Неверный адрес вебхука"), errors=[
            FieldError(("url",), _("нужен адрес http:// или https://"))])
    try:
        check_url(url)  # not into the installation's own network (SSRF)
    except OutboundRefused as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(("url",), str(exc))]) from exc


def _endpoint(actor: Actor, endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.filter(organization=actor.organization,
                                              pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("Вебхук не найден"))
    return endpoint


def webhook_endpoint_update(*, actor: Actor, endpoint_id: int, url: str | None = None,
                            description: str | None = None,
                            is_active: bool | None = None) -> WebhookEndpoint:
    actor.require(Perm.MANAGE_SETTINGS)
    endpoint = _endpoint(actor, endpoint_id)
    if url is not None:
        _check_url(url)
        endpoint.url = url
    if description is not None:
        endpoint.description = description
    if is_active is not None:
        endpoint.is_active = is_active
        if is_active:
            endpoint.disabled_at, endpoint.disabled_reason = None, ""
            endpoint.consecutive_failures = 0
    endpoint.save()
    audit(actor, "tracking.webhook_endpoint_update", endpoint)
    return endpoint


def webhook_endpoint_delete(*, actor: Actor, endpoint_id: int) -> None:
    actor.require(Perm.MANAGE_SETTINGS)
    endpoint = _endpoint(actor, endpoint_id)
    audit(actor, "tracking.webhook_endpoint_delete", endpoint, url=endpoint.url)
    endpoint.delete()


def _queue_webhooks(changes: list[tuple[Any, ...]]) -> None:
    """Queues a webhook delivery per active endpoint for each new status change
    (``(id, organization_id, shipment_id, previous, status, substatus, changed_at, …)``)."""
    orgs = {c[1] for c in changes}
    endpoints: dict[int, list[WebhookEndpoint]] = defaultdict(list)
    for e in WebhookEndpoint.objects.filter(organization_id__in=orgs, is_active=True):
        endpoints[e.organization_id].append(e)
    if not endpoints:
        return
    changes = [c for c in changes if c[1] in endpoints]
    shipments = {sid: (number, order) for sid, number, order in Shipment.objects.filter(
        pk__in=[c[2] for c in changes]).values_list("id", "tracking_number", "order_number")}
    deliveries = []
    now = timezone.now()
    for change_id, org_id, sid, previous, status, sub, changed_at, *_rest in changes:
        number, order = shipments.get(sid, ("", ""))
        for e in endpoints[org_id]:
            deliveries.append(WebhookDelivery(
                organization_id=org_id, endpoint=e, status_change_id=change_id,
                msg_id="msg_" + uuid.uuid4().hex, event_type=WEBHOOK_EVENT,
                payload={"type": WEBHOOK_EVENT, "timestamp": now.isoformat(), "data": {
                    "shipment_id": sid, "order_number": order, "tracking_number": number,
                    "previous_status": previous, "status": status, "substatus": sub,
                    "changed_at": _dt(changed_at).isoformat()}},  # type: ignore[union-attr]
                next_attempt_at=now))
    made = WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True,
                                               batch_size=2000)
    if made:
        from shipdesk.tracking import tasks

        transaction.on_commit(lambda: tasks.webhooks_send.delay(None))


def webhook_deliveries_send(*, delivery_ids: Sequence[int] | None = None,
                            now: datetime | None = None,
                            client: httpx.Client | None = None) -> int:
    """Sends pending deliveries (these, or all due); returns how many succeeded. A
    failure is retried on the schedule; an endpoint failing persistently is disabled."""
    now = now or timezone.now()
    qs = WebhookDelivery.objects.filter(state=WebhookDelivery.PENDING,
                                        endpoint__is_active=True).select_related("endpoint")
    if delivery_ids is not None:
        qs = qs.filter(pk__in=list(delivery_ids))
    else:
        qs = qs.filter(next_attempt_at__lte=now)
    ok = 0
    own = client is None
    # public addresses only, checked at connect time (core.outbound)
    client = client or guarded_client(timeout=httpx.Timeout(10.0, connect=5.0))
    try:
        for d in qs.order_by("pk")[:5000]:
            ok += _send_one(d, client=client, now=now)
    finally:
        if own:
            client.close()
    return ok


def _send_one(d: WebhookDelivery, *, client: httpx.Client, now: datetime) -> int:
    endpoint = d.endpoint
    body = json.dumps(d.payload, ensure_ascii=False, separators=(",", ":")).encode()
    ts = int(now.timestamp())
    headers = {"content-type": "application/json", "webhook-id": d.msg_id,
               "webhook-timestamp": str(ts),
               "webhook-signature": webhook_sign(secret=crypto.decrypt(endpoint.secret),
                                                 msg_id=d.msg_id, timestamp=ts, body=body)}
    d.attempts += 1
    try:
        resp = client.post(endpoint.url, content=body, headers=headers)
        code: int | None = resp.status_code
        error = "" if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}"
    except httpx.HTTPError as exc:
        code, error = None, f"{type(exc).__name__}: {exc}"[:300]
    d.last_status_code, d.last_error = code, error
    if not error:
        d.state, d.delivered_at, d.next_attempt_at = WebhookDelivery.SUCCEEDED, now, None
        d.save(update_fields=["attempts", "last_status_code", "last_error", "state",
                              "delivered_at", "next_attempt_at", "updated_at"])
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return 1
    if d.attempts > len(RETRY_SCHEDULE):
        d.state, d.next_attempt_at = WebhookDelivery.FAILED, None
    else:
        d.next_attempt_at = now + RETRY_SCHEDULE[d.attempts - 1]
    d.save(update_fields=["attempts", "last_status_code", "last_error", "state",
                          "next_attempt_at", "updated_at"])
    endpoint.consecutive_failures += 1
    fields = ["consecutive_failures"]
    if endpoint.consecutive_failures >= DISABLE_AFTER_FAILURES:
        endpoint.is_active, endpoint.disabled_at = False, now
        endpoint.disabled_reason = _("Отключён после %(n)d неудачных попыток подряд") % {
            "n": endpoint.consecutive_failures}
        fields += ["is_active", "disabled_at", "disabled_reason"]
        log.warning("webhook endpoint %s disabled after persistent failure", endpoint.pk)
    endpoint.save(update_fields=fields)
    return 0


def webhook_delivery_replay(*, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Sends a delivery again now (same message id, so receivers can dedupe)."""
    actor.require(Perm.MANAGE_SETTINGS)
    d = WebhookDelivery.objects.filter(organization=actor.organization, pk=delivery_id
                                       ).select_related("endpoint").first()
    if d is None:
        raise NotFound(_("Доставка вебхука не найдена"))
    d.state, d.next_attempt_at = WebhookDelivery.PENDING, timezone.now()
    d.save(update_fields=["state", "next_attempt_at", "updated_at"])
    audit(actor, "tracking.webhook_replay", d)
    from shipdesk.tracking import tasks

    transaction.on_commit(lambda: tasks.webhooks_send.delay([d.pk]))
    return d


# --------------------------------------------------------------------------- daily report

def tracking_daily_reports_send(*, settings_ids: Sequence[int]) -> int:
    """The due-work entry: ``settings_ids`` are :class:`TrackingSettings` rows come due (one
    per organization); sends each organization's report; returns how many went out."""
    orgs = TrackingSettings.objects.filter(pk__in=list(settings_ids)).values_list(
        "organization_id", flat=True)
    return sum(tracking_daily_report_send(organization_id=org) for org in orgs)


def tracking_daily_report_send(*, organization_id: int, now: datetime | None = None) -> bool:
    """E-mails the day's tracking report to the shop (once a day); True when sent."""
    from shipdesk.tracking.selectors import daily_report

    now = now or timezone.now()
    org = Organization.objects.get(pk=organization_id)
    settings_row, _created = TrackingSettings.objects.get_or_create(organization=org)
    tz = org.zone
    today = now.astimezone(tz).date()
    settings_row.next_report_at = _next_report_at(now, tz)
    if settings_row.last_report_on == today:
        settings_row.save(update_fields=["next_report_at", "updated_at"])
        return False
    recipients = [a.strip() for a in settings_row.report_emails.split(",") if a.strip()] or (
        [org.email] if org.email else [])
    report = daily_report(organization=org, now=now)
    sent = False
    if recipients:
        context = {"report": report, "organization": org, "today": today}
        message = EmailMultiAlternatives(
            subject=_("Отслеживание на %(day)s: %(stuck)d застрявших") % {
                "day": today.strftime("%d.%m.%Y"), "stuck": len(report.stuck)},
            body=render_to_string("tracking/report_email.txt", context), to=recipients)
        message.attach_alternative(render_to_string("tracking/report_email.html", context),
                                   "text/html")
        message.send()
        sent = True
    settings_row.last_report_on = today
    settings_row.save(update_fields=["last_report_on", "next_report_at", "updated_at"])
    return sent


def tracking_reports_schedule(*, now: datetime | None = None) -> int:
    """Gives every organization its tracking settings and the time of its first daily
    report (the next 08:00 in the organization's own zone) where it has none yet, so the
    first report goes out by itself, not only after someone opens the settings. Run
    periodically; returns how many organizations got a first report time."""
    now = now or timezone.now()
    missing = Organization.objects.exclude(
        pk__in=TrackingSettings.objects.values("organization_id"))
    TrackingSettings.objects.bulk_create(
        [TrackingSettings(organization=o) for o in missing.only("pk")],
        ignore_conflicts=True, batch_size=2000)
    rows = list(TrackingSettings.objects.filter(next_report_at=None)
                .select_related("organization").only("pk", "organization__timezone"))
    for row in rows:
        row.next_report_at = _next_report_at(now, row.organization.zone)
    TrackingSettings.objects.bulk_update(rows, ["next_report_at"], batch_size=500)
    return len(rows)


def _next_report_at(now: datetime, tz: zoneinfo.ZoneInfo) -> datetime:
    local = now.astimezone(tz)
    at = local.replace(hour=8, minute=0, second=0, microsecond=0)
    if at <= local:
        at += timedelta(days=1)
    return at.astimezone(zoneinfo.ZoneInfo("UTC"))


def tracking_settings_update(*, actor: Actor, poll_from_hour: int | None = None,
                             poll_to_hour: int | None = None,
                             report_emails: str | None = None) -> TrackingSettings:
    actor.require(Perm.MANAGE_SETTINGS)
    row, _created = TrackingSettings.objects.get_or_create(organization=actor.organization)
    if row.next_report_at is None:
        row.next_report_at = _next_report_at(timezone.now(), actor.organization.zone)
    errors = []
    for name, value, top in (("poll_from_hour", poll_from_hour, 23),
                             ("poll_to_hour", poll_to_hour, 24)):
        if value is not None and not 0 <= value <= top:
            errors.append(FieldError((name,), _("час от 0 до %(top)d") % {"top": top}))
    if errors:
        raise ValidationFailed(_("Неверные настройки отслеживания"), errors=errors)
    if poll_from_hour is not None:
        row.poll_from_hour = poll_from_hour
    if poll_to_hour is not None:
        row.poll_to_hour = poll_to_hour
    if report_emails is not None:
        row.report_emails = report_emails
    row.save()
    audit(actor, "tracking.settings_update", row)
    return row


__all__ = ["FINAL_STATUSES", "IngestResult", "tracking_daily_report_send",
           "tracking_daily_reports_send",
           "tracking_events_ingest", "tracking_pickup_offices_fetch",
           "tracking_pickup_offices_note", "tracking_pickup_offices_sync", "tracking_recheck",
           "tracking_reports_schedule",
           "tracking_settings_update",
           "webhook_deliveries_send", "webhook_delivery_replay", "webhook_endpoint_create",
           "webhook_endpoint_delete", "webhook_endpoint_update", "webhook_sign"]
