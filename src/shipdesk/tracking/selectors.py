from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from shipdesk.core.errors import NotFound
from shipdesk.shipments.models import Shipment
from shipdesk.shipments.regions import zone_for_index
from shipdesk.tenancy.models import Organization, zone_named
from shipdesk.tenancy.services import Actor
from shipdesk.tracking import engine
from shipdesk.tracking.models import (
    PickupOffice,
    ShipmentStatusChange,
    TrackingEvent,
    TrackingState,
    WebhookDelivery,
    WebhookEndpoint,
)
from shipdesk.tracking.statuses import (
    FINAL_STATUSES,
    Status,
    parcel_status,
    parcel_status_text,
    status_label,
)


def status_changes_after(*, last_id: int, limit: int = 1000) -> QuerySet[ShipmentStatusChange]:
    """The status-change feed after ``last_id``, oldest first (for consumers with a cursor)."""
    return ShipmentStatusChange.objects.filter(pk__gt=last_id).order_by("pk")[:limit]


@dataclass(frozen=True)
class Summary:
    """What other domains (notifications: SMS text, reminders) need about a parcel."""

    shipment_id: int
    status: str
    substatus: str
    status_at: datetime | None
    arrived_at_pickup_at: datetime | None
    storage_deadline: datetime | None
    expected_delivery: datetime | None
    pickup_office_index: str
    pickup_office_address: str
    pickup_office_hours: str
    public_token: str
    is_stuck: bool = False
    is_storage_ending: bool = False
    pickup_office_name: str = ""


@dataclass(frozen=True)
class DeliveryOffice:
    """The office a parcel waits at — the office its latest arrival event names — or, before
    that, the pickup point chosen at ordering, resolved through the carriers' office table
    (:class:`PickupOffice`). Only its code is known while the office is not loaded."""

    carrier_code: str
    code: str
    name: str = ""
    address: str = ""
    work_hours: str = ""
    arrived: bool = False  # named by an arrival event (else: the pickup point ordered)
    pending: bool = False  # not loaded yet, its loading is due

    @property
    def loaded(self) -> bool:
        return bool(self.address or self.name)


def _offices(carrier_and_codes: set[tuple[str, str]]) -> dict[tuple[str, str], PickupOffice]:
    by_carrier: dict[str, set[str]] = {}
    for carrier, code in carrier_and_codes:
        by_carrier.setdefault(carrier, set()).add(code)
    q = Q()
    for carrier, codes in by_carrier.items():
        q |= Q(carrier_code=carrier, code__in=sorted(codes))
    if not q:
        return {}
    return {(o.carrier_code, o.code): o for o in PickupOffice.objects.filter(q).only(
        "carrier_code", "code", "name", "address", "work_hours", "next_fetch_at")}


def _arrival_offices(shipment_ids: Sequence[int]) -> dict[int, str]:
    """Shipment id -> the office index of its latest arrival event that names one (a
    parcel sent on to another office waits at the last)."""
    out: dict[int, str] = {}
    if shipment_ids:
        for sid, index in (TrackingEvent.objects.filter(
                shipment_id__in=list(shipment_ids), status=Status.ARRIVED_AT_PICKUP)
                .exclude(office_index="").order_by("shipment_id", "occurred_at", "pk")
                .values_list("shipment_id", "office_index")):
            out[sid] = index
    return out


def _delivery_offices(parcels: Sequence[tuple[int, str, str, bool]]) -> dict[int, DeliveryOffice]:
    """``(shipment id, carrier code, pickup point code, may have arrived)`` -> its office,
    for those that have one: two queries at most."""
    arrival = _arrival_offices([sid for sid, _c, _p, arrived in parcels if arrived])
    wanted = {sid: (carrier, arrival.get(sid) or point or "")
              for sid, carrier, point, _arrived in parcels}
    offices = _offices({pair for pair in wanted.values() if pair[1]})
    out = {}
    for sid, (carrier, code) in wanted.items():
        if not code:
            continue
        office = offices.get((carrier, code))
        out[sid] = _delivery_office(carrier, code, office, arrived=sid in arrival)
    return out


def _delivery_office(carrier: str, code: str, office: PickupOffice | None, *,
                     arrived: bool) -> DeliveryOffice:
    if office is None:
        return DeliveryOffice(carrier, code, arrived=arrived, pending=True)
    loaded = bool(office.address or office.name)
    return DeliveryOffice(carrier, code, office.name, office.address, office.work_hours,
                          arrived=arrived, pending=not loaded and office.next_fetch_at is not None)


def delivery_offices(*, shipment_ids: Sequence[int]) -> dict[int, DeliveryOffice]:
    """The office each of these shipments waits at or is bound for (shipments with none are
    absent): for the shipment page. The caller has scoped the ids to its organization."""
    parcels = [(sid, carrier, point or "", True) for sid, carrier, point in
               Shipment.objects.filter(pk__in=list(shipment_ids))
               .values_list("pk", "carrier_code", "pickup_point_code")]
    return _delivery_offices(parcels)


def pickup_office_addresses(*, carrier_and_codes: set[tuple[str, str]]
                            ) -> dict[tuple[str, str], str]:
    """(carrier code, point code) -> the point's one-line address, for the points known in
    the loaded directory (documents print it on labels). One query."""
    return {key: office.address or office.name
            for key, office in _offices(carrier_and_codes).items()}


def shipment_tracking_summary(*, shipment_ids: Sequence[int]) -> dict[int, Summary]:
    """Tracking summary per shipment id (shipments without tracking are absent). Two or
    three queries whatever the number of ids."""
    states = list(TrackingState.objects.filter(shipment_id__in=list(shipment_ids)).values(
        "shipment_id", "status", "substatus", "status_at", "arrived_at_pickup_at",
        "storage_deadline", "expected_delivery", "public_token", "is_stuck",
        "is_storage_ending", "carrier_code", "shipment__pickup_point_code"))
    offices = _delivery_offices([
        (s["shipment_id"], s["carrier_code"], s["shipment__pickup_point_code"] or "",
         s["arrived_at_pickup_at"] is not None) for s in states])
    out = {}
    for s in states:
        office = offices.get(s["shipment_id"])
        out[s["shipment_id"]] = Summary(
            shipment_id=s["shipment_id"], status=s["status"], substatus=s["substatus"],
            status_at=s["status_at"], arrived_at_pickup_at=s["arrived_at_pickup_at"],
            storage_deadline=s["storage_deadline"], expected_delivery=s["expected_delivery"],
            pickup_office_index=office.code if office else "",
            pickup_office_address=office.address if office else "",
            pickup_office_hours=office.work_hours if office else "",
            public_token=s["public_token"], is_stuck=s["is_stuck"],
            is_storage_ending=s["is_storage_ending"],
            pickup_office_name=office.name if office else "")
    return out


def _shipment_for(actor: Actor, shipment_id: int) -> Shipment:
    shipment = Shipment.objects.filter(organization=actor.organization, pk=shipment_id).first()
    if shipment is None:
        raise NotFound("Отправление не найдено")
    return shipment


def shipment_events(*, actor: Actor, shipment_id: int) -> QuerySet[TrackingEvent]:
    _shipment_for(actor, shipment_id)
    return TrackingEvent.objects.filter(organization=actor.organization,
                                        shipment_id=shipment_id).order_by("occurred_at", "pk")


def _facts(events: Sequence[Any]) -> list[engine.EventFact]:
    return [engine.EventFact(e.occurred_at, Status(e.status) if e.status else None,
                             e.substatus, e.raw_code, e.place, e.raw_text, e.storage_until)
            for e in events]


@dataclass
class Timeline:
    shipment: Shipment
    state: TrackingState | None
    verdict: engine.Verdict
    why: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    status_text: str = ""  # the same words as on every other page
    storage_deadline: str = ""  # the last day, on the pickup office's calendar


def _context_for(shipment: Shipment, state: TrackingState | None) -> engine.Context:
    from shipdesk.tracking.services import Rules, _load_shipments

    info = _load_shipments([shipment.tracking_number or ""],
                           organization_id=shipment.organization_id
                           ).get(shipment.tracking_number or "")
    if info is None:
        return engine.Context()
    return Rules([shipment.organization_id]).context(info)


def shipment_timeline(*, actor: Actor, shipment_id: int, now: datetime | None = None
                      ) -> Timeline:
    """The shipment's events and the derivation, replayed through the engine, with the
    explanation of its status ("why this status")."""
    shipment = _shipment_for(actor, shipment_id)
    state = TrackingState.objects.filter(shipment=shipment).first()
    events = list(TrackingEvent.objects.filter(shipment=shipment).order_by("occurred_at", "pk"))
    context = _context_for(shipment, state)
    verdict = engine.derive(_facts(events), now=now or timezone.now(), context=context)
    tz = actor.organization.zone
    rows = [{"at": timezone.localtime(t.at, tz), "status": t.status,
             "label": status_label(t.status),
             "substatus": t.substatus, "raw_code": t.raw_code, "raw_text": t.raw_text,
             "place": t.place, "inferred": t.inferred, "ignored": t.ignored}
            for t in verdict.timeline]
    deadline = verdict.storage_deadline
    return Timeline(
        shipment, state, verdict, engine.explain(verdict, tz=tz), rows,
        status_text=parcel_status_text(
            tracking_status=state.status if state is not None and state.status
            else shipment.tracking_status, shipment_state=shipment.state),
        storage_deadline=deadline.astimezone(context.zone).strftime("%d.%m.%Y")
        if deadline is not None else "")


def dashboard(*, actor: Actor) -> dict[str, Any]:
    """Counts by status per carrier, and the exceptions."""
    rows = (TrackingState.objects.filter(organization=actor.organization)
            .values_list("carrier_code", "status", "shipment__state").annotate(n=Count("pk"))
            .order_by())
    carriers: dict[str, dict[str, int]] = {}
    for carrier, status, state, n in rows:
        shown = parcel_status(tracking_status=status, shipment_state=state)
        counts = carriers.setdefault(carrier or "—", {})
        key = shown.value if shown is not None else ""
        counts[key] = counts.get(key, 0) + n
    statuses = [s for s in Status if any(s.value in c for c in carriers.values())]
    table = [{"carrier": c, "counts": [counts.get(s.value, 0) for s in statuses],
              "total": sum(counts.values())} for c, counts in sorted(carriers.items())]
    exceptions = exceptions_list(actor=actor)
    return {"statuses": [(s, status_label(s)) for s in statuses], "table": table,
            "exceptions": exceptions}


_EXCEPTION_Q = (Q(is_stuck=True) | Q(is_overdue=True) | Q(is_storage_ending=True)
                | Q(is_lost=True) | Q(is_returned=True, final=False))


def exceptions_list(*, actor: Actor, limit: int = 500) -> list[TrackingState]:
    return list(TrackingState.objects.filter(_EXCEPTION_Q, organization=actor.organization)
                .select_related("shipment").order_by("-is_stuck", "-is_lost", "status_at")
                [:limit])


@dataclass
class DailyReport:
    organization: Organization
    day: datetime
    stuck: list[TrackingState]
    other_exceptions: list[TrackingState]
    changed_today: int
    counts: dict[str, int]


def daily_report(*, organization: Organization, now: datetime | None = None) -> DailyReport:
    now = now or timezone.now()
    qs = TrackingState.objects.filter(organization=organization)
    exc = list(qs.filter(_EXCEPTION_Q).select_related("shipment")
               .order_by("-is_stuck", "status_at")[:1000])
    counts: dict[str, int] = {}
    for status, state, n in (qs.values_list("status", "shipment__state")
                             .annotate(n=Count("pk")).order_by()):
        text = parcel_status_text(tracking_status=status, shipment_state=state)
        counts[text] = counts.get(text, 0) + n
    changed = ShipmentStatusChange.objects.filter(
        organization=organization, created_at__gte=now - timedelta(days=1)).count()
    return DailyReport(organization, now, [s for s in exc if s.is_stuck],
                       [s for s in exc if not s.is_stuck], changed, counts)


@dataclass(frozen=True)
class PublicState:
    """What the recipient's page shows of the tracking state, the shipment and the shop
    (nothing of the recipient's personal data), and the version of those rows."""

    shipment_id: int
    carrier_code: str
    status: str  # the parcel's one status (tracking's, or the shipment's outcome)
    final: bool
    storage_deadline: datetime | None
    expected_delivery: datetime | None
    order_number: str
    tracking_number: str | None
    pickup_point_code: str
    cod_amount: Decimal
    shop_name: str
    shop_logo_url: str
    shop_timezone: str
    recipient_index: str
    version: str  # changes whenever anything above (or the event history) changes
    shipment_state: str = ""  # the back-office state (says whether it was handed over)


@dataclass(frozen=True)
class PublicPage:
    state: PublicState
    timeline: list[dict[str, str]]  # newest first: at (formatted), text, place
    status_text: str
    office: DeliveryOffice | None  # the office the parcel waits at, once it has arrived
    storage_deadline: str  # formatted in the recipient's zone, "" when none
    expected_delivery: str

    @property
    def office_pending(self) -> bool:
        """The office is named but not loaded yet: this page will read better soon."""
        return self.office is not None and not self.office.loaded


# The page's one row, read on every request: plain SQL, because the ORM spent longer
# building this three-table query than the database spends answering it. The ingest rewrites
# the state's updated_at on every new event, saving a shipment or an organization moves
# theirs: with the shown fields they make the version the cached pages are keyed by.
_PUBLIC_SQL = """
SELECT s.shipment_id, s.carrier_code, s.status, s.final, s.storage_deadline,
       s.expected_delivery, sh.order_number, sh.tracking_number, sh.pickup_point_code,
       sh.cod_amount, o.name, o.logo, o."timezone", sh."index", sh."state",
       s.substatus, s.status_at, s.last_event_at, s.updated_at, sh.updated_at, o.updated_at
FROM {state} s
JOIN {shipment} sh ON sh.id = s.shipment_id
JOIN {organization} o ON o.id = s.organization_id
WHERE s.public_token = %s
"""
_UTC = zoneinfo.ZoneInfo("UTC")


def _aware(value: Any) -> datetime | None:
    """A timestamp from a raw cursor: SQLite gives text, PostgreSQL an aware datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=_UTC)
    return value


def public_state(*, token: str) -> PublicState:
    """The recipient's page's state by its unguessable token: one query."""
    row = None
    if len(token) >= 16:
        sql = _PUBLIC_SQL.format(state=TrackingState._meta.db_table,
                                 shipment=Shipment._meta.db_table,
                                 organization=Organization._meta.db_table)
        with connection.cursor() as cur:
            cur.execute(sql, [token])
            row = cur.fetchone()
    if row is None:
        raise NotFound("Нет такой посылки")
    (shipment_id, carrier_code, status, final, storage_deadline, expected_delivery,
     order_number, tracking_number, pickup_point_code, cod_amount, name, logo, tz_name,
     recipient_index, shipment_state, *_versions) = row
    shown = parcel_status(tracking_status=status, shipment_state=shipment_state)
    return PublicState(
        shipment_id=shipment_id, carrier_code=carrier_code,
        status=shown.value if shown is not None else "",
        final=bool(final) or shown in FINAL_STATUSES,
        storage_deadline=_aware(storage_deadline), expected_delivery=_aware(expected_delivery),
        order_number=order_number, tracking_number=tracking_number,
        pickup_point_code=pickup_point_code,
        # SQLite hands a NUMERIC back as a float: through its shortest text, to kopecks
        cod_amount=Decimal(str(cod_amount)).quantize(Decimal("0.01")),
        shop_name=name,
        shop_logo_url=Organization._meta.get_field("logo").storage.url(logo) if logo else "",
        shop_timezone=tz_name, recipient_index=recipient_index or "",
        version="|".join(str(v) for v in row), shipment_state=shipment_state or "")


def public_page(*, token: str, state: PublicState | None = None) -> PublicPage:
    """The recipient's page by its unguessable token: the state (unless given from
    ``public_state``), the events, and the office when waiting at one: at most 3 queries,
    plain SQL like the state's. Times are shown in the shop's zone, already formatted."""
    if state is None:
        state = public_state(token=token)
    # The recipient reads times, and the office's storage deadline, on their own clock.
    tz = zone_for_index(state.recipient_index) if state.recipient_index else zone_named(
        state.shop_timezone)
    with connection.cursor() as cur:
        cur.execute(f"SELECT occurred_at, status, place, office_index FROM {_EVENTS} "  # noqa: S608
                    "WHERE shipment_id = %s AND status <> '' "
                    "ORDER BY occurred_at DESC, id DESC LIMIT 50", [state.shipment_id])
        events = cur.fetchall()
    timeline = [{"at": _local(at, tz, "%d.%m.%Y %H:%M"), "text": status_label(st),
                 "place": place} for at, st, place, _index in events]
    office = None
    if state.status == Status.ARRIVED_AT_PICKUP:
        # the office of the latest arrival event, else the pickup point chosen at ordering
        arrival = next((index for _at, st, _p, index in events
                        if st == Status.ARRIVED_AT_PICKUP and index), "")
        code = arrival or state.pickup_point_code
        if code:
            with connection.cursor() as cur:
                cur.execute(f"SELECT name, address, work_hours, next_fetch_at FROM {_OFFICES} "  # noqa: S608
                            "WHERE carrier_code = %s AND code = %s", [state.carrier_code, code])
                row = cur.fetchone()
            office = _delivery_office(state.carrier_code, code, PickupOffice(
                name=row[0], address=row[1], work_hours=row[2], next_fetch_at=row[3],
            ) if row else None, arrived=bool(arrival))
    status_text = parcel_status_text(tracking_status=state.status,
                                     shipment_state=state.shipment_state)
    return PublicPage(state, timeline, status_text, office,
                      storage_deadline=_local(state.storage_deadline, tz, "%d.%m.%Y"),
                      expected_delivery=_local(state.expected_delivery, tz, "%d.%m.%Y"))


_EVENTS = TrackingEvent._meta.db_table
_OFFICES = PickupOffice._meta.db_table


def _local(value: Any, tz: zoneinfo.ZoneInfo, fmt: str) -> str:
    at = _aware(value)
    return at.astimezone(tz).strftime(fmt) if at is not None else ""


def webhook_endpoints(*, actor: Actor) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization=actor.organization).order_by("pk")


def webhook_deliveries(*, actor: Actor, endpoint_id: int | None = None, limit: int = 200
                       ) -> QuerySet[WebhookDelivery]:
    qs = WebhookDelivery.objects.filter(organization=actor.organization)
    if endpoint_id is not None:
        qs = qs.filter(endpoint_id=endpoint_id)
    return qs.order_by("-pk")[:limit]


@dataclass(frozen=True)
class ChangeRow:
    """A status change with its shipment's dimensions and its tracking state's times."""

    id: int
    organization_id: int
    shipment_id: int
    previous_status: str
    status: str
    substatus: str
    changed_at: datetime
    created_at: datetime
    carrier_account_id: int | None
    carrier_code: str
    service_code: str
    mail_category: str
    index: str
    country: str
    sender_id: int | None
    route: str
    accepted_at: datetime | None
    arrived_at_pickup_at: datetime | None
    control_due: datetime | None


_CHANGE_ROW_FIELDS = (
    "id", "organization_id", "shipment_id", "previous_status", "status", "substatus",
    "changed_at", "shipment__created_at", "shipment__carrier_account_id",
    "shipment__carrier_code", "shipment__service_code", "shipment__mail_category",
    "shipment__index", "shipment__country", "shipment__sender_id",
    "shipment__tracking_state__route", "shipment__tracking_state__accepted_at",
    "shipment__tracking_state__arrived_at_pickup_at",
    "shipment__tracking_state__control_due")


def status_change_facts(*, organization_ids: Sequence[int] | None = None,
                        chunk_size: int = 20_000) -> Any:
    """The whole status-change feed in id order, in chunks, with what the statistics file
    each change under (for rebuilding them)."""
    qs = ShipmentStatusChange.objects.all()
    if organization_ids is not None:
        qs = qs.filter(organization_id__in=organization_ids)
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk").values_list(*_CHANGE_ROW_FIELDS)
                    [:chunk_size])
        if not rows:
            return
        last = rows[-1][0]
        # a change without a tracking state (none yet) has no route
        yield [ChangeRow(*(r[:15] + (r[15] or "",) + r[16:])) for r in rows]  # noqa: RUF005
