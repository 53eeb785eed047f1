"""Keeping the rollups current (write side): as shipments are stored and as tracking's
status-change feed grows, each batch becomes one upsert per rollup table (summed deltas,
never a recount), in the writer's own transaction, so a figure is never ahead of or behind
the rows it counts. ``analytics_rebuild`` recomputes everything from the stored rows with
the same functions (used after an upgrade, or to check the increments)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.utils import timezone

from shipdesk.analytics.models import (
    Grain,
    ReturnReasonRollup,
    ShipmentRollup,
    TransitRollup,
    UserRollup,
)
from shipdesk.shipments.regions import region_for_index

KEY = ["organization_id", "day", "carrier_account_id", "carrier_code", "kind", "region",
       "sender_id"]
SHIPMENT_MEASURES = ["created", "cost_count", "cost_sum", "handed_over", "delivered",
                     "returned", "lost", "delivered_notified", "returned_notified",
                     "with_term", "late"]
# the grains each table is written at (models.Grain): the shipments' figures at all three,
# the routes' histograms by day and month (a route names its region), the return reasons
# by day with and without the region
SHIPMENT_GRAINS = (Grain.DAY, Grain.MONTH, Grain.DAY_NO_REGION)
TRANSIT_GRAINS = (Grain.DAY, Grain.MONTH, Grain.DAY_CARRIER, Grain.MONTH_CARRIER)
REASON_GRAINS = (Grain.DAY, Grain.DAY_NO_REGION)
_M = {name: i for i, name in enumerate(SHIPMENT_MEASURES)}
MAX_TRANSIT_DAYS = 120
# statuses before the parcel reaches its destination: leaving them is an arrival
_ON_THE_WAY = frozenset({"", "info_received", "accepted", "in_transit", "customs"})
NOT_HANDED_OVER = frozenset({"", "info_received", "cancelled"})
_RETURNING = frozenset({"returning", "returned"})


def kind_of(service_code: str | None, category: str | None) -> str:
    """The kind of a parcel in the statistics: its carrier's mail type ("ONLINE_PARCEL" of
    "ONLINE_PARCEL/WITH_DECLARED_VALUE"), else its category; the same key as tracking's
    carrier rules."""
    return (service_code or "").partition("/")[0].upper() or (category or "")


def route_origin(route: str | None) -> str:
    """The region a route starts from (tracking's routes are "101-630": index prefixes of
    the acceptance and the destination); "" when unknown."""
    return region_for_index((route or "")[:3]) or "" if route and route[:3].isdigit() else ""


def region_of(index: str | None, country: str | None = "RU") -> str:
    """The destination region's name ("" abroad or when the index names none)."""
    if country and country != "RU":
        return ""
    return region_for_index(index or "") or ""


class ChangeFact(NamedTuple):
    """One row of tracking's status-change feed with what the rollups need of its shipment
    and of the verdict behind it."""

    organization_id: int
    created_at: datetime
    carrier_account_id: int | None
    carrier_code: str
    kind: str
    region: str
    sender_id: int | None
    route: str
    shipment_id: int
    previous: str
    status: str
    substatus: str
    status_at: datetime | None
    accepted_at: datetime | None
    arrived_at: datetime | None
    # the carrier's control term's end (acceptance + its days): the tracking state's
    # control_due, which a final status keeps
    control_due: datetime | None


def outcome(status: str, substatus: str = "") -> str | None:
    """What a status means for the rollups' outcome counts."""
    if status == "delivered":
        return "returned" if substatus == "to_sender" else "delivered"
    if status in ("returned", "lost"):
        return status
    return None


def return_reason(previous: str, substatus: str) -> str:
    """Why a parcel went back: the carrier's sub-status when it tells one (storage expired,
    refused...), else the status it left (waiting at the pickup point, refused...)."""
    if substatus and substatus != "to_sender":
        return substatus[:64]
    return previous or "unknown"


# --------------------------------------------------------------------------- upkeep

def _zones(organization_ids: Iterable[int]) -> dict[int, ZoneInfo]:
    """Each organization's time zone (one query): its rollups are filed by local day."""
    from shipdesk.tenancy.models import Organization, zone_named

    ids = set(organization_ids)
    return {pk: zone_named(name) for pk, name in Organization.objects.filter(
        pk__in=ids).values_list("pk", "timezone")} if ids else {}


_MOSCOW = ZoneInfo("Europe/Moscow")


def local_day(at: datetime, zone: ZoneInfo | None) -> date:
    """The organization's day of a moment (naive moments are UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone or _MOSCOW).date()


def rollups_shipments_created(*, shipments: Sequence[Any], user_id: int | None = None
                              ) -> None:
    """A stored chunk of new shipments (records or instances with the model's attnames)
    counted: one upsert for the chunk. Called by the shipments intake in its transaction."""
    if not shipments:
        return
    zones = _zones({s.organization_id for s in shipments})
    _upsert(ShipmentRollup._meta.db_table, KEY, SHIPMENT_MEASURES,
            _created_sums(shipments, zones), SHIPMENT_GRAINS)
    users: dict[tuple[Any, ...], list[Any]] = {}
    now = timezone.now()
    for s in shipments:
        key = (s.organization_id, local_day(getattr(s, "created_at", None) or now,
                                            zones.get(s.organization_id)), user_id or 0)
        users.setdefault(key, [0])[0] += 1
    _upsert(UserRollup._meta.db_table, ["organization_id", "day", "user_id"], ["created"],
            users)


def rollups_shipment_changed(*, before: Any, after: Any) -> None:
    """An edited shipment (still a draft or validated: no outcome yet) moves its count and
    cost from the key it had to the key it has (another carrier, region, kind, cost)."""
    zones = _zones({before.organization_id})
    sums = _created_sums([before], zones, sign=-1)
    for key, row in _created_sums([after], zones).items():
        old = sums.setdefault(key, [0] * len(SHIPMENT_MEASURES))
        sums[key] = [a + b for a, b in zip(old, row, strict=True)]
    _upsert(ShipmentRollup._meta.db_table, KEY, SHIPMENT_MEASURES,
            {k: v for k, v in sums.items() if any(v)}, SHIPMENT_GRAINS)


def _created_sums(shipments: Sequence[Any], zones: dict[int, ZoneInfo], sign: int = 1
                  ) -> dict[tuple[Any, ...], list[Any]]:
    sums: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * len(SHIPMENT_MEASURES))
    keys = _Keys(zones)
    for s in shipments:
        row = sums[keys.of(s)]
        row[0] += sign
        if s.shipping_cost is not None:
            row[1] += sign
            row[2] += sign * Decimal(s.shipping_cost)
    return sums


class _Keys:
    """A shipment's rollup key (organization, local day, account, carrier, kind, region,
    sender), the kinds and regions worked out once per batch."""

    def __init__(self, zones: dict[int, ZoneInfo]) -> None:
        self.zones, self.now = zones, timezone.now()
        self.kinds: dict[tuple[Any, Any], str] = {}
        self.regions: dict[tuple[Any, Any], str] = {}

    def of(self, s: Any) -> tuple[Any, ...]:
        day = local_day(getattr(s, "created_at", None) or self.now,
                        self.zones.get(s.organization_id))
        kk = (s.service_code, s.mail_category)
        kind = self.kinds.get(kk)
        if kind is None:
            kind = self.kinds[kk] = kind_of(*kk)
        rk = ((s.index or "")[:3], s.country)
        region = self.regions.get(rk)
        if region is None:
            region = self.regions[rk] = region_of(*rk)
        return (s.organization_id, day, s.carrier_account_id or 0, s.carrier_code or "",
                kind, region, s.sender_id or 0)


def rollups_batch_handed_over(*, shipments: Sequence[Any], check_tracking: bool = True
                              ) -> None:
    """A closed batch's parcels counted as handed over (the documents' hand-over), each
    once: a parcel the carrier's tracking already showed as accepted was counted then
    (``check_tracking``; a rebuild passes False, as its tracking pass skips the parcels
    handed over in a batch). Called by ``documents.batch_close`` in its transaction."""
    if not shipments:
        return
    counted: set[int] = set()
    if check_tracking:
        from shipdesk.tracking.models import TrackingState  # read only

        counted = set(TrackingState.objects.filter(
            shipment_id__in=[s.id for s in shipments]).exclude(
            status__in=NOT_HANDED_OVER).values_list("shipment_id", flat=True))
    keys = _Keys(_zones({s.organization_id for s in shipments}))
    sums: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * len(SHIPMENT_MEASURES))
    for s in shipments:
        if s.id not in counted:
            sums[keys.of(s)][_M["handed_over"]] += 1
    _upsert(ShipmentRollup._meta.db_table, KEY, SHIPMENT_MEASURES, sums, SHIPMENT_GRAINS)


def _handed_over_in_batch(shipment_ids: Sequence[int]) -> set[int]:
    """Which of these parcels a closed batch handed over (their history says so). Read
    through the history's partial index of batch hand-overs (``shipmentevent_batch_handover``):
    tracking asks this for every parcel it sees accepted."""
    from shipdesk.shipments.models import ShipmentEvent, State  # read only

    found: set[int] = set()
    ids = sorted(set(shipment_ids))
    if connection.vendor == "postgresql":  # one array parameter, not thousands of them
        with connection.cursor() as cur:
            cur.execute(
                f"SELECT shipment_id FROM {ShipmentEvent._meta.db_table} "  # noqa: S608
                "WHERE from_state = %s AND to_state = %s AND shipment_id = ANY(%s::bigint[])",
                [State.IN_BATCH.value, State.HANDED_OVER.value, ids])
            return {row[0] for row in cur.fetchall()}
    for i in range(0, len(ids), 5000):
        found.update(ShipmentEvent.objects.filter(
            shipment_id__in=ids[i:i + 5000], from_state=State.IN_BATCH,
            to_state=State.HANDED_OVER).values_list("shipment_id", flat=True))
    return found


def _handed_over_delta(previous: str, status: str) -> int:
    """+1 when a change puts the parcel in the carrier's hands, −1 when it leaves them
    without being delivered (cancelled after acceptance), else 0."""
    before, after = previous in NOT_HANDED_OVER, status in NOT_HANDED_OVER
    return 1 if before and not after else -1 if after and not before else 0


def rollups_status_changes(*, changes: Sequence[ChangeFact], deferred: bool = False
                           ) -> Callable[[], None] | None:
    """A batch of tracking's status changes folded into the rollups: handed over (the
    carrier has it), outcome deltas (a "delivered" later found returned moves from one
    count to the other), transit times at the first arrival, return reasons. One query
    (who was notified) and one upsert per table for the whole batch.

    ``deferred``: what the batch adds is worked out now (reading the parcels' histories
    as they are, before the caller moves their states) and returned as a function that
    writes it, for the caller to run last in its transaction: parallel ingests share a
    day's rollup rows, and each holds their locks from its upsert until its commit."""
    if not changes:
        return None
    sums: dict[tuple[Any, ...], list[Any]] = defaultdict(lambda: [0] * len(SHIPMENT_MEASURES))
    transit: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])
    reasons: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0])
    decided = [c.shipment_id for c in changes
               if outcome(c.previous) != outcome(c.status, c.substatus)]
    notified = _notified(decided) if decided else set()
    # a parcel handed over in a batch was counted when the batch closed; one the carrier
    # took and then gave up (cancelled) is taken back, so taking it again counts it once
    moved = {c.shipment_id: _handed_over_delta(c.previous, c.status) for c in changes}
    taken = [pk for pk, delta in moved.items() if delta]
    batched = _handed_over_in_batch(taken) if taken else set()
    zones = _zones({c.organization_id for c in changes})
    days: dict[tuple[int, datetime], date] = {}
    for c in changes:
        day = days.get((c.organization_id, c.created_at))
        if day is None:
            day = days[(c.organization_id, c.created_at)] = local_day(
                c.created_at, zones.get(c.organization_id))
        key = (c.organization_id, day, c.carrier_account_id or 0, c.carrier_code, c.kind,
               c.region, c.sender_id or 0)
        row = None
        delta = _handed_over_delta(c.previous, c.status)
        if delta and c.shipment_id not in batched:
            row = sums[key]
            row[_M["handed_over"]] += delta
        before, after = outcome(c.previous), outcome(c.status, c.substatus)
        if before != after:
            row = row or sums[key]
            told = c.shipment_id in notified
            for name, sign in ((before, -1), (after, 1)):
                if name is None:
                    continue
                row[_M[name]] += sign
                if told and name != "lost":
                    row[_M[name + "_notified"]] += sign
        if (c.previous in _ON_THE_WAY and c.accepted_at is not None
                and (c.status == "arrived_at_pickup" or after == "delivered")):
            arrival = c.arrived_at or c.status_at
            if arrival is not None:
                spent = int((arrival - c.accepted_at).total_seconds() // 86400)
                if 0 <= spent <= MAX_TRANSIT_DAYS:
                    t = transit[(*key, route_origin(c.route), spent)]
                    t[0] += 1
                    if c.control_due is not None:
                        late = arrival > c.control_due
                        t[1] += 1
                        t[2] += late
                        row = row or sums[key]
                        row[_M["with_term"]] += 1
                        row[_M["late"]] += late
        if (c.status in _RETURNING or after == "returned") and c.previous not in _RETURNING \
                and outcome(c.previous) != "returned":
            reasons[(*key, return_reason(c.previous, c.substatus))][0] += 1

    def write() -> None:
        _upsert(ShipmentRollup._meta.db_table, KEY, SHIPMENT_MEASURES, sums,
                SHIPMENT_GRAINS)
        _upsert(TransitRollup._meta.db_table, [*KEY, "route", "days"],
                ["n", "with_term", "late"], transit, TRANSIT_GRAINS)
        _upsert(ReturnReasonRollup._meta.db_table, [*KEY, "reason"], ["n"], reasons,
                REASON_GRAINS)

    if deferred:
        return write
    write()
    return None


def _notified(shipment_ids: Sequence[int]) -> set[int]:
    from shipdesk.notifications.selectors import shipments_notified_of_arrival

    return shipments_notified_of_arrival(shipment_ids=shipment_ids)


def _grained(keys: list[str], sums: dict[tuple[Any, ...], list[Any]],
             grains: Sequence[int]) -> dict[tuple[Any, ...], list[Any]]:
    """``sums`` keyed at every grain: (organization, grain, day, ...), the month's rows
    on its first day, the region-less rows with region "" (summed where keys meet)."""
    day_at, region_at = keys.index("day"), keys.index("region")
    folded = [(keys.index(name), empty) for name, empty in (
        ("carrier_account_id", 0), ("kind", ""), ("sender_id", 0))]
    out: dict[tuple[Any, ...], list[Any]] = {}
    for key, values in sums.items():
        for grain in grains:
            k = list(key)
            if grain in (Grain.MONTH, Grain.MONTH_CARRIER):
                k[day_at] = k[day_at].replace(day=1)
            if grain == Grain.DAY_NO_REGION:
                k[region_at] = ""
            if grain in (Grain.DAY_CARRIER, Grain.MONTH_CARRIER):
                for at, empty in folded:
                    k[at] = empty
            full = (k[0], int(grain), *k[1:])
            had = out.get(full)
            out[full] = list(values) if had is None else [
                a + b for a, b in zip(had, values, strict=True)]
    return out


def _upsert(table: str, keys: list[str], measures: list[str],
            sums: dict[tuple[Any, ...], list[Any]], grains: Sequence[int] | None = None
            ) -> None:
    """Adds ``sums`` (key -> measures) to ``table`` at each of ``grains``: a multi-row
    INSERT ... ON CONFLICT DO UPDATE adding the deltas, keys in order (two writers lock
    rows in the same order). ``grains`` None: a table without grains (the users')."""
    if not sums:
        return
    if grains is not None:
        sums = _grained(keys, sums, grains)
        keys = [keys[0], "grain", *keys[1:]]
    sqlite = connection.vendor == "sqlite"
    day_at = keys.index("day")
    rows: list[list[Any]] = []
    for key in sorted(sums):  # every position one type (0 / "" for none): a total order
        values = [*key, *sums[key]]
        if sqlite:
            values[day_at] = values[day_at].isoformat()
            values = [str(v) if isinstance(v, Decimal) else v for v in values]
        rows.append(values)
    cols = [*keys, *measures]
    names = ", ".join(cols)
    conflict = ", ".join(keys)
    sets = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    row_marks = "(" + ", ".join(["%s"] * len(cols)) + ")"
    step = max(1, 30_000 // len(cols))
    with connection.cursor() as cur:
        for i in range(0, len(rows), step):
            part = rows[i:i + step]
            cur.execute(
                f"INSERT INTO {table} ({names}) VALUES {', '.join([row_marks] * len(part))} "  # noqa: S608
                f"ON CONFLICT ({conflict}) DO UPDATE SET {sets}",
                [v for r in part for v in r])


# --------------------------------------------------------------------------- rebuild

REBUILD_CHUNK = 20_000


@transaction.atomic
def analytics_rebuild(*, organization_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Recomputes the rollups from the stored shipments and the whole status-change feed.
    All or nothing. On PostgreSQL set-based SQL (``analytics.rebuild``: a few statements,
    about a minute per million shipments); elsewhere (SQLite) chunk by chunk through the
    same functions as the increments."""
    from shipdesk.tenancy.models import Organization, zone_named

    orgs = None if organization_ids is None else sorted(set(organization_ids))
    if connection.vendor == "postgresql":
        from shipdesk.analytics.rebuild import rebuild_postgresql
        from shipdesk.shipments.regions import PREFIX_REGION

        found = Organization.objects.all()
        if orgs is not None:
            found = found.filter(pk__in=orgs)
        zones = {pk: zone_named(name).key for pk, name in found.values_list("pk", "timezone")}
        return rebuild_postgresql(organization_ids=orgs, zones=zones,
                                  prefixes=dict(PREFIX_REGION))
    return _rebuild_in_chunks(orgs)


def _rebuild_in_chunks(orgs: list[int] | None) -> dict[str, int]:
    from shipdesk.shipments.selectors import shipments_rollup_rows
    from shipdesk.tracking.selectors import status_change_facts

    for model in (ShipmentRollup, TransitRollup, ReturnReasonRollup, UserRollup):
        qs = model.objects.all()
        if orgs is not None:
            qs = qs.filter(organization_id__in=orgs)
        qs.delete()
    shipments = changes = 0
    for chunk in shipments_rollup_rows(organization_ids=orgs, chunk_size=REBUILD_CHUNK):
        by_user: dict[int, list[Any]] = defaultdict(list)
        for s in chunk:
            by_user[s.user_id or 0].append(s)
        for user_id, part in by_user.items():
            rollups_shipments_created(shipments=part, user_id=user_id)
        batched = _handed_over_in_batch([s.id for s in chunk])
        rollups_batch_handed_over(shipments=[s for s in chunk if s.id in batched],
                                  check_tracking=False)
        shipments += len(chunk)
    for rows in status_change_facts(organization_ids=orgs, chunk_size=REBUILD_CHUNK):
        facts = [ChangeFact(r.organization_id, r.created_at, r.carrier_account_id,
                            r.carrier_code, kind_of(r.service_code, r.mail_category),
                            region_of(r.index[:3], r.country), r.sender_id, r.route,
                            r.shipment_id, r.previous_status, r.status, r.substatus,
                            r.changed_at, r.accepted_at, r.arrived_at_pickup_at,
                            r.control_due) for r in rows]
        rollups_status_changes(changes=facts)
        changes += len(facts)
    return {"shipments": shipments, "status_changes": changes}


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())
