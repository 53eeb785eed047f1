from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.db import connection
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import NotFound
from shipdesk.shipments.models import (
    ImportJob,
    PostalOffice,
    SenderProfile,
    Shipment,
    ShipmentEvent,
    State,
)
from shipdesk.shipments.regions import PREFIX_REGION
from shipdesk.shipments.validation import parse_phone
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor


def shipment_counts_by_state(*, actor: Actor, since: date | None = None) -> list[dict[str, Any]]:
    qs = Shipment.objects.filter(organization=actor.organization)
    if since is not None:  # created on or after that day (the organization's), as the list's
        qs = qs.filter(created_at__gte=_start_of(since, actor.organization.zone))
    rows = dict(qs.values_list("state").annotate(n=Count("id")).order_by())
    return [{"state": s, "label": s.label, "count": rows.get(s.value, 0)} for s in State]


def shipment_list(*, actor: Actor, filters: Mapping[str, Any] | None = None) -> QuerySet[Shipment]:
    """The organization's shipments, newest first, filtered. Callers page it by keyset
    (``id < last seen``), never by OFFSET, and never count the whole table."""
    actor.require(Perm.VIEW)
    qs = Shipment.objects.filter(organization=actor.organization)
    f = {k: v for k, v in (filters or {}).items() if v not in (None, "", [])}
    if "state" in f:
        states = f["state"] if isinstance(f["state"], list | tuple) else [f["state"]]
        qs = qs.filter(state__in=states)
    if "carrier" in f:
        qs = qs.filter(carrier_code=f["carrier"])
    qs = _statistics_filters(qs, f)
    # days are the organization's (as the pages show moments and the statistics file them)
    zone = actor.organization.zone
    if "created_from" in f:
        qs = qs.filter(created_at__gte=_start_of(f["created_from"], zone))
    if "created_to" in f:
        qs = qs.filter(created_at__lt=_start_of(f["created_to"], zone, next_day=True))
    if "order_number" in f:
        qs = qs.filter(order_number=str(f["order_number"]).strip())
    if "tracking_number" in f:
        qs = qs.filter(tracking_number=str(f["tracking_number"]).replace(" ", "").upper())
    if "recipient_phone" in f:
        phone, _error = parse_phone(f["recipient_phone"])
        qs = qs.filter(recipient_phone=phone or str(f["recipient_phone"]).strip())
    if "q" in f:
        qs = _search(qs, str(f["q"]).strip())
    return qs.order_by("-id")


def _statistics_filters(qs: QuerySet[Shipment], f: Mapping[str, Any]) -> QuerySet[Shipment]:
    """The statistics' dimensions (a chart links here with them): carrier account, sender,
    destination region, kind (mail type)."""
    for key, field in (("account", "carrier_account_id"), ("sender", "sender_id")):
        if key in f:
            value = str(f[key])
            qs = qs.filter(**{field: int(value)}) if value.isdigit() else qs.none()
    if "region" in f:
        from django.db.models.functions import Substr

        prefixes = [p for p, name in PREFIX_REGION.items() if name == f["region"]]
        qs = qs.annotate(_prefix=Substr("index", 1, 3)).filter(
            country="RU", _prefix__in=prefixes)
    if "kind" in f:
        kind = str(f["kind"])
        qs = qs.filter(Q(service_code__iexact=kind) | Q(service_code__istartswith=kind + "/")
                       | Q(service_code="", mail_category=kind))
    return qs


def _start_of(day: date | datetime | str, zone: tzinfo = UTC, *, next_day: bool = False
              ) -> datetime:
    """The first moment of ``day`` in ``zone`` (of the day after, with ``next_day``)."""
    if isinstance(day, str):
        day = date.fromisoformat(day)
    if isinstance(day, datetime):
        at = day if timezone.is_aware(day) else timezone.make_aware(day, UTC)
        return at + timedelta(days=1) if next_day else at
    if next_day:
        day = day + timedelta(days=1)
    return datetime.combine(day, time.min, tzinfo=zone)


def _search(qs: QuerySet[Shipment], text: str) -> QuerySet[Shipment]:
    """A search box: exact order / tracking number / phone, or the recipient's surname
    prefix — each an indexed lookup, no full scan of a big table. PostgreSQL combines the
    indexes of an OR itself (BitmapOr); SQLite does not, so there each lookup is its own
    indexed subquery."""
    lookups = [Q(order_number=text), Q(tracking_number=text.replace(" ", "").upper())]
    phone, error = parse_phone(text)
    if phone and not error:
        lookups.append(Q(recipient_phone=phone))
    if not any(c.isdigit() for c in text):
        if connection.vendor == "sqlite":
            # SQLite's LIKE ignores the case of Latin letters only: a Cyrillic surname is
            # found as names are written (Title, UPPER, lower), whatever case is typed
            lookups += [Q(recipient_surname__istartswith=variant) for variant in dict.fromkeys(
                (text, text.capitalize(), text.upper(), text.lower()))]
        else:
            lookups.append(Q(recipient_surname__istartswith=text))
    if connection.vendor != "sqlite":
        condition = lookups[0]
        for lookup in lookups[1:]:
            condition |= lookup
        return qs.filter(condition)
    first, *rest = (qs.filter(lookup).values("pk") for lookup in lookups)
    return qs.filter(pk__in=first.union(*rest, all=True))


def shipment_page(*, actor: Actor, filters: Mapping[str, Any] | None = None,
                  after_id: int | None = None, size: int = 50) -> tuple[list[Shipment], int | None]:
    """One page of the list by keyset: the rows after ``after_id`` and the id to continue
    from (None at the end). One indexed query whatever the table's size."""
    qs = shipment_list(actor=actor, filters=filters)
    if after_id:
        qs = qs.filter(id__lt=after_id)
    rows = list(qs.only(*LIST_FIELDS)[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].pk if more and rows else None)


LIST_FIELDS = ("id", "order_number", "state", "carrier_code", "service_code",
               "recipient_surname", "recipient_given_name", "recipient_patronymic",
               "recipient_company", "recipient_phone", "city", "index", "weight_g",
               "cod_amount", "declared_value", "shipping_cost", "unrated_reason", "tracking_number",
               "tracking_status", "created_at", "organization_id", "registration",
               "registration_error")


def shipment_get(*, actor: Actor, shipment_id: int) -> Shipment:
    actor.require(Perm.VIEW)
    shipment = (Shipment.objects.filter(organization=actor.organization, pk=shipment_id)
                .select_related("sender", "carrier_account").prefetch_related("items").first())
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    return shipment


def shipment_history(*, actor: Actor, shipment_id: int) -> list[ShipmentEvent]:
    """The shipment's events, oldest first. A shipment made by an upload has no stored
    "created" event (its import job is that record): one is shown from the job."""
    shipment = shipment_get(actor=actor, shipment_id=shipment_id)
    events = list(shipment.events.select_related("user", "api_key")
                  .order_by("created_at", "pk"))
    if shipment.source == "upload" and not (events and events[0].from_state == ""):
        events.insert(0, _created_by_upload(shipment, events))
    return events


def _created_by_upload(shipment: Shipment, events: list[ShipmentEvent]) -> ShipmentEvent:
    """The "created" event of an uploaded shipment, from its import job (not stored)."""
    file_hash, _sep, row = shipment.source_ref.rpartition(":")
    job = (ImportJob.objects.filter(organization_id=shipment.organization_id,
                                    file_hash=file_hash)
           .select_related("created_by").order_by("id").first() if file_hash else None)
    data: dict[str, Any] = {"source": shipment.source}
    if job is not None:
        data.update(import_job=job.pk, file=job.filename, row=int(row) if row.isdigit() else row)
        reason = _("Создано загрузкой файла «%(file)s», строка %(row)s") % {
            "file": job.filename, "row": row}
    else:
        reason = _("Создано загрузкой файла")
    return ShipmentEvent(shipment=shipment, from_state="",
                         to_state=events[0].from_state if events else shipment.state,
                         user=job.created_by if job is not None else None, reason=reason,
                         data=data, created_at=shipment.created_at)


def import_job_get(*, actor: Actor, job_id: int) -> ImportJob:
    actor.require(Perm.VIEW)
    job = ImportJob.objects.filter(organization=actor.organization, pk=job_id).first()
    if job is None:
        raise NotFound(_("Загрузка не найдена"))
    return job


def import_job_list(*, actor: Actor, limit: int = 20) -> list[ImportJob]:
    actor.require(Perm.VIEW)
    return list(ImportJob.objects.filter(organization=actor.organization)
                .order_by("-created_at", "-id")[:limit])


def import_job_history(*, actor: Actor) -> QuerySet[ImportJob]:
    """Every upload of the organization, newest first, with who made it."""
    actor.require(Perm.VIEW)
    return (ImportJob.objects.filter(organization=actor.organization)
            .select_related("created_by").order_by("-created_at", "-id"))


def sender_profiles(*, actor: Actor) -> list[SenderProfile]:
    return list(SenderProfile.objects.filter(organization=actor.organization)
                .order_by("-is_default", "name"))


def postal_offices(*, indexes: Sequence[str]) -> dict[str, PostalOffice]:
    """Offices of the postal-index directory (``shipdesk import-postal-index``) by index;
    an index the directory does not hold is absent."""
    wanted = sorted({i for i in indexes if len(i) == 6 and i.isdigit()})
    return PostalOffice.objects.in_bulk(wanted) if wanted else {}


_ROLLUP_FIELDS = ("id", "organization_id", "created_at", "carrier_account_id", "carrier_code",
                  "service_code", "mail_category", "index", "country", "sender_id",
                  "shipping_cost")


class _RollupRow:
    __slots__ = (*_ROLLUP_FIELDS, "user_id")

    def __init__(self, values: Sequence[Any]) -> None:
        for name, value in zip(self.__slots__, values, strict=True):
            setattr(self, name, value)


def shipments_rollup_rows(*, organization_ids: Sequence[int] | None = None,
                          chunk_size: int = 20_000) -> Any:
    """Every shipment as the statistics count it (what created it: the user of its
    "created" event, when one was written), in chunks by id: for rebuilding the rollups."""
    from django.db.models import OuterRef, Subquery

    creator = ShipmentEvent.objects.filter(shipment_id=OuterRef("pk"), from_state="").order_by(
        "pk").values("user_id")[:1]
    qs = Shipment.objects.all()
    if organization_ids is not None:
        qs = qs.filter(organization_id__in=organization_ids)
    last = 0
    while True:
        rows = list(qs.filter(pk__gt=last).order_by("pk").annotate(creator=Subquery(creator))
                    .values_list(*_ROLLUP_FIELDS, "creator")[:chunk_size])
        if not rows:
            return
        last = rows[-1][0]
        yield [_RollupRow(r) for r in rows]


def tracking_numbers_taken(*, organization_id: int, numbers: Sequence[str]) -> set[str]:
    """Which of ``numbers`` the organization's shipments already carry (typed in, or from
    a carrier): numbering skips them. Only the organization's own: numbers are unique per
    organization, and another one's shipments neither block nor burn ours.

    Numbers issued together are runs of one range (same prefix, consecutive serials, the
    check digit last), so each run is asked as one span of the unique index — a probe that
    usually finds nothing, cheap while the pool row is locked — not a value list."""
    if not numbers:
        return set()
    spans: dict[tuple[int, str], list[str]] = {}
    for number in numbers:
        # the part before the serial (and after it, for S10): a run shares it
        key = (len(number), number[:8] if len(number) == 14 else number[:2] + number[11:])
        span = spans.setdefault(key, [number, number])
        span[0], span[1] = min(span[0], number), max(span[1], number)
    within = Q()
    for low, high in spans.values():
        within |= Q(tracking_number__gte=low, tracking_number__lte=high)
    wanted = set(numbers)
    found = Shipment.objects.filter(within, organization_id=organization_id).values_list(
        "tracking_number", flat=True)
    return {n for n in found if n in wanted}


@dataclass(frozen=True)
class ShipmentActions:
    """What the shipment page offers: each flag is the role's permission and the rule the
    service itself enforces, so a button is shown exactly when pressing it would work."""

    can_manage: bool
    editable: bool
    cancellable: bool
    can_register: bool
    can_cancel_registration: bool
    can_print_label: bool
    can_batch: bool
    batch: Any  # the batch it sits in, if any
    tracking_token: str  # the recipient's public tracking page
    tracked: bool


def shipment_actions(*, actor: Actor, shipment: Shipment) -> ShipmentActions:
    from shipdesk.shipments import registration
    from shipdesk.shipments.services import AMENDABLE_STATES, TRANSITIONS
    from shipdesk.tracking.selectors import shipment_tracking_summary

    manage = actor.can(Perm.MANAGE_SHIPMENTS)
    numbered = bool(shipment.tracking_number) and shipment.state != State.CANCELLED
    summary = shipment_tracking_summary(shipment_ids=[shipment.pk]).get(shipment.pk)
    return ShipmentActions(
        can_manage=manage,
        editable=manage and shipment.state in AMENDABLE_STATES | {State.DRAFT},
        cancellable=manage and State.CANCELLED in TRANSITIONS[shipment.state],
        can_register=manage and not registration.register_refusal(shipment),
        can_cancel_registration=manage and not registration.carrier_cancel_refusal(shipment),
        can_print_label=manage and numbered,
        can_batch=manage and numbered and shipment.state == State.NUMBERED,
        batch=getattr(getattr(shipment, "batch_entry", None), "batch", None),
        tracking_token=summary.public_token if summary else "",
        tracked=shipment.tracking_number is not None,
    )
