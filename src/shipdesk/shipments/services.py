"""Shipment writes. Intake (create/update/import) is built on top of these transitions."""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import itertools
import json
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, TypeVar, cast

from django.db import (
    DEFAULT_DB_ALIAS,
    IntegrityError,
    connection,
    connections,
    models,
    transaction,
)
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from shipdesk.carriers.base import Address, Item, ParcelRequest, Party
from shipdesk.carriers.selectors import active_accounts
from shipdesk.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    ServiceError,
    ValidationFailed,
)
from shipdesk.core.memory import collector_paused
from shipdesk.shipments import validation
from shipdesk.shipments.bulk import (
    IdReserve,
    Record,
    column_position,
    defaults_for,
    fast_insert,
    insert_rows,
)
from shipdesk.shipments.delivery_rules import (
    RuleFacts,
    choose_rule,
    delivery_rules_for,
    order_value,
)
from shipdesk.shipments.models import (
    EDITABLE_STATES,
    TRANSITIONS,
    MailTypeLimit,
    PostalOffice,
    Registration,
    SenderProfile,
    Shipment,
    ShipmentEvent,
    ShipmentItem,
    State,
)
from shipdesk.shipments.registration import (
    AT_CARRIER,
    registration_claimed_until,
    registration_dispatch,
    registration_restart,
    shipment_cancel_at_carrier,
)
from shipdesk.shipments.validation import ValidationContext, validate_shipment
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor
from shipdesk.tracking.statuses import Status

M = TypeVar("M", bound=models.Model)

# How the carrier's real status moves the back-office lifecycle (final outcomes only).
_STATE_FOR_STATUS: dict[str, str] = {
    Status.DELIVERED: State.DELIVERED,
    Status.RETURNED: State.RETURNED,
    Status.LOST: State.LOST,
}
_HANDED_OVER_OR_LATER = {State.HANDED_OVER, State.DELIVERED, State.RETURNED, State.LOST}


def _event(shipment: Shipment, to_state: str, actor: Actor | None, reason: str,
           from_state: str | None = None, **data: object) -> ShipmentEvent:
    return ShipmentEvent(
        shipment=shipment, from_state=shipment.state if from_state is None else from_state,
        to_state=to_state, reason=reason, data=data,
        user=actor.user if actor and getattr(actor.user, "pk", None) else None,
        api_key=actor.api_key if actor else None,
    )


@transaction.atomic
def shipments_transition(*, actor: Actor, shipment_ids: Sequence[int], to_state: str,
                         reason: str = "") -> list[Shipment]:
    """Moves the given shipments of the actor's organization to ``to_state``, all or none.

    Every move is checked against ``TRANSITIONS`` and written to the history.
    """
    actor.require(Perm.MANAGE_SHIPMENTS)
    shipments = list(Shipment.objects.select_for_update()
                     .filter(organization=actor.organization, pk__in=shipment_ids))
    if len(shipments) != len(set(shipment_ids)):
        raise NotFound(_("Отправление не найдено"))
    bad = [s for s in shipments if to_state not in TRANSITIONS[s.state]]
    if bad:
        raise InvalidTransition(_("Нельзя перевести отправление %(order)s из «%(from)s» в «%(to)s»")
                                % {"order": bad[0].order_number, "from": State(bad[0].state).label,
                                   "to": State(to_state).label})
    events = [_event(s, to_state, actor, reason) for s in shipments]
    Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(
        state=to_state, updated_at=timezone.now())
    ShipmentEvent.objects.bulk_create(events)
    for shipment in shipments:
        shipment.state = to_state
    return shipments


@dataclass(frozen=True)
class TrackingUpdate:
    """The tracking domain's verdict on one shipment."""

    shipment_id: int
    status: str  # a tracking.statuses.Status value
    substatus: str
    status_at: datetime


def shipments_apply_tracking(*, updates: Iterable[TrackingUpdate], chunk_size: int = 2000) -> int:
    """Writes the derived tracking status onto shipments in bulk, and moves handed-over
    shipments to their final state when the status is a final outcome. Returns the number
    of shipments whose lifecycle state changed. Called by the tracking domain (system work:
    no actor); idempotent.

    On PostgreSQL a chunk is one UPDATE that reads each shipment's state, applies the rule
    (as a table of ``(state, status) -> new state``) and returns what moved: no model
    instances, no separate read (the ingest of a million events writes here 200,000 times).
    """
    pg = connection.vendor == "postgresql"
    apply = _apply_tracking_pg if pg else _apply_tracking_chunk
    size = max(chunk_size, 10_000) if pg else chunk_size
    changed = 0
    batch: list[TrackingUpdate] = []
    for update in updates:
        batch.append(update)
        if len(batch) >= size:
            changed += apply(batch)
            batch = []
    if batch:
        changed += apply(batch)
    return changed


def _state_after_tracking(state: str, status: str) -> str:
    """The lifecycle state a shipment in ``state`` moves to when the carrier's real status
    is ``status``."""
    new_state = state
    target = _STATE_FOR_STATUS.get(status)
    if state in (State.NUMBERED, State.IN_BATCH) and status not in (
        Status.INFO_RECEIVED, Status.CANCELLED):
        new_state = State.HANDED_OVER  # the carrier has it, whatever we were told
    if target and target != new_state and (
        new_state in _HANDED_OVER_OR_LATER and target in TRANSITIONS[new_state]):
        new_state = target
    return new_state


@transaction.atomic
def _apply_tracking_pg(updates: list[TrackingUpdate]) -> int:
    by_id = {u.shipment_id: u for u in updates}  # the last verdict of a shipment wins
    updates = list(by_id.values())
    statuses = sorted({u.status for u in updates})
    rule = [(state, status, after) for state in State.values for status in statuses
            if (after := _state_after_tracking(state, status)) != state]
    meta = Shipment._meta
    table = meta.db_table
    state, status, substatus, status_at = (
        cast("models.Field[Any, Any]", meta.get_field(f)).column for f in _TRACKING_FIELDS)
    sql = (  # names come from the model's metadata, values are parameters
        f'UPDATE "{table}" AS s SET "{state}" = COALESCE(r.new_state, o."{state}"), '  # noqa: S608
        f'"{status}" = v.status, "{substatus}" = v.substatus, "{status_at}" = v.status_at '
        "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::timestamptz[]) "
        "AS v(id, status, substatus, status_at) "
        f'JOIN "{table}" AS o ON o.id = v.id '  # the row as it was: the old state
        "LEFT JOIN unnest(%s::text[], %s::text[], %s::text[]) AS r(state, status, new_state) "
        f'ON r.state = o."{state}" AND r.status = v.status '
        f'WHERE s.id = v.id AND (s."{state}", s."{status}", s."{substatus}", s."{status_at}") '
        f'IS DISTINCT FROM (COALESCE(r.new_state, o."{state}"), v.status, v.substatus, '
        f'v.status_at) RETURNING s.id, o."{state}", s."{state}", v.status'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [
            "{" + ",".join([str(int(u.shipment_id)) for u in updates]) + "}",
            _array_literal([u.status for u in updates]),
            _array_literal([u.substatus for u in updates]),
            _array_literal([None if u.status_at is None else u.status_at.isoformat()
                            for u in updates]),
            _array_literal([r[0] for r in rule]), _array_literal([r[1] for r in rule]),
            _array_literal([r[2] for r in rule]),
        ])
        moved = [r for r in cursor.fetchall() if r[1] != r[2]]
    reason, now = _("Статус перевозчика"), timezone.now()
    fast_insert(ShipmentEvent, [
        ShipmentEvent(shipment_id=sid, from_state=old, to_state=new, reason=reason,
                      data={"status": st}, created_at=now) for sid, old, new, st in moved])
    return len(moved)


@transaction.atomic
def _apply_tracking_chunk(updates: list[TrackingUpdate]) -> int:
    """The same rule off PostgreSQL (SQLite, embedded mode): read, decide, ``bulk_update``
    in small batches (its CASE WHEN per field grows with the square of a batch)."""
    by_id = {u.shipment_id: u for u in updates}
    shipments = list(Shipment.objects.filter(pk__in=by_id).only("id", *_TRACKING_FIELDS))
    to_save: list[Shipment] = []
    events: list[ShipmentEvent] = []
    for shipment in shipments:
        update = by_id[shipment.pk]
        new_state = _state_after_tracking(shipment.state, update.status)
        if new_state != shipment.state:
            events.append(_event(shipment, new_state, None, _("Статус перевозчика"),
                                 status=update.status))
        if (new_state, update.status, update.substatus, update.status_at) == (
            shipment.state, shipment.tracking_status, shipment.tracking_substatus,
            shipment.tracking_status_at):
            continue
        shipment.state = new_state
        shipment.tracking_status = update.status
        shipment.tracking_substatus = update.substatus
        shipment.tracking_status_at = update.status_at
        to_save.append(shipment)
    Shipment.objects.bulk_update(to_save, _TRACKING_FIELDS, batch_size=200)
    ShipmentEvent.objects.bulk_create(events)
    return len(events)


_TRACKING_FIELDS = ("state", "tracking_status", "tracking_substatus", "tracking_status_at")


def _array_literal(values: Sequence[str | None]) -> str:
    """A PostgreSQL array literal of text (or of text to cast), every element quoted."""
    return "{" + ",".join("NULL" if v is None else
                          '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
                          for v in values) + "}"


# --- intake: validate → rate → number → store, in bulk --------------------------------

INTAKE_CHUNK = 4000
MAX_ITEMS_PER_CALL = 10_000
UPDATABLE_FIELDS = (
    "carrier_code", "carrier_account_id", "service_code", "mail_category", "recipient_surname",
    "recipient_given_name", "recipient_patronymic", "recipient_company", "recipient_phone",
    "recipient_email", "country", "index", "region", "district", "city", "street", "house",
    "building", "apartment", "pickup_point_code", "address_as_given", "weight_g", "length_cm",
    "width_cm", "height_cm", "declared_value", "cod_amount", "options", "comment",
)
_SHIPMENT_FIELDS = ("order_number", *UPDATABLE_FIELDS)


class Mode(enum.StrEnum):
    VALID_ROWS = "valid_rows"
    ALL_OR_NOTHING = "all_or_nothing"


@dataclass(slots=True)
class ItemResult:
    """What became of one item of a bulk intake. ``ref`` is its position in the call
    (0-based) or its row in the file; ``skipped`` means it was already imported from the
    same file before (a re-upload), not an error."""

    ref: int
    order_number: str
    ok: bool = False
    shipment_id: int | None = None
    tracking_number: str | None = None
    state: str = ""
    skipped: bool = False
    errors: list[FieldError] = field(default_factory=list)
    stored: Any = None  # the row as stored, when the caller asked to keep it
    # what the operator should check although the row was taken (an unsplit address);
    # a tuple, the empty one shared: most of a big file's rows have none
    warnings: tuple[FieldError, ...] = ()


@dataclass
class IntakeResult:
    results: list[ItemResult] = field(default_factory=list)
    created: int = 0
    rejected: int = 0
    skipped: int = 0
    rolled_back: bool = False  # all_or_nothing with errors: nothing was stored
    unnumbered: int = 0  # stored without a tracking number (no pool, or it ran out)
    unnumbered_reason: str = ""  # why, for the first of them


class _RollBack(Exception):
    pass


# The mail-type limits and the office directory are the same for every organization and
# change rarely (an admin edit, a monthly directory load): each process keeps them for a
# short while instead of reading them on every create.
REFERENCE_TTL_SECONDS = 60.0
_reference: dict[str, Any] = {}


def reference_data_reset() -> None:
    """Forgets the cached limits and directory (after loading a new directory)."""
    _reference.clear()


def _reference_data() -> tuple[dict[tuple[str, str], validation.Limit], frozenset[str] | None]:
    now = time.monotonic()
    if _reference and now - _reference["at"] < REFERENCE_TTL_SECONDS:
        return _reference["limits"], _reference["offices"]
    limits = {(row.carrier_code, row.service_code): validation.limit_from_row(row)
              for row in MailTypeLimit.objects.all()}
    offices: frozenset[str] | None = frozenset(
        PostalOffice.objects.values_list("index", flat=True).iterator(chunk_size=20000))
    _reference.update(at=now, limits=limits, offices=offices or None)
    return limits, offices or None


def validation_context(*, organization: Any,
                       senders: Sequence[SenderProfile] | None = None) -> ValidationContext:
    """Everything validation needs from the database, loaded once for a whole intake."""
    limits, offices = _reference_data()
    if senders is None:
        senders = _senders(organization)
    ids = [s.pk for s in sorted(senders, key=lambda s: (not s.is_default, s.pk))]
    accounts = active_accounts(organization_id=organization.pk)
    default_accounts: dict[str, int] = {}
    for account in accounts:
        default_accounts.setdefault(account.carrier_code, account.id)
    rules = [r for r in delivery_rules_for(organization)
             if r.carrier_account_id in {a.id for a in accounts}]

    by_value = any(r.min_value is not None or r.max_value is not None for r in rules)

    def route(*, order: Mapping[str, Any], **facts: Any) -> RuleFacts | None:
        return choose_rule(rules, value=order_value(order) if by_value else None, **facts)

    return ValidationContext(
        limits=limits, limited_carriers=frozenset(c for c, _s in limits),
        offices=offices, sender_ids=frozenset(ids),
        default_sender_id=ids[0] if ids else None,
        tracking_validator=_tracking_validator(),
        accounts={a.id: a.carrier_code for a in accounts},
        accounts_by_name={a.name.lower(): a.id for a in accounts},
        default_accounts=default_accounts,
        registering_accounts=frozenset(a.id for a in accounts if a.registers),
        route=route if rules else None,
        number_owned=_number_owned(organization,
                                   frozenset(a.id for a in accounts if a.registers)),
    )


def _number_owned(organization: Any, registering: frozenset[int]
                  ) -> Callable[[str, str, int | None], bool] | None:
    """Whether a typed number is the organization's own (docs/tracking-numbers.md): in one
    of its pools of the carrier, or the carrier's own number — a carrier that numbers its
    parcels itself (no pools: CDEK, PickPoint) or the organization's account that registers
    parcels with it (the carrier gave the number). ``None`` without the numbering domain."""
    try:
        from shipdesk.numbering.selectors import own_number_checker
        from shipdesk.numbering.services import numbers_from_pools
    except ImportError:
        return None
    in_pools = own_number_checker(organization_id=organization.pk)
    pooled: dict[str, bool] = {}

    def owned(number: str, carrier_code: str, account_id: int | None) -> bool:
        if in_pools(number, carrier_code) or account_id in registering:
            return True
        if carrier_code not in pooled:
            pooled[carrier_code] = numbers_from_pools(carrier_code)
        return not pooled[carrier_code]

    return owned


def _senders(organization: Any) -> list[SenderProfile]:
    return list(SenderProfile.objects.filter(organization=organization))


def _tracking_validator() -> Callable[..., str] | None:
    try:
        from shipdesk.numbering.validation import validate_tracking_number
    except ImportError:  # the numbering domain not installed: accept numbers as typed
        return None
    return validate_tracking_number


def _party_address(obj: Any) -> Address:
    return Address(index=obj.index or "", region=obj.region, district=obj.district,
                   city=obj.city, street=obj.street, house=obj.house, building=obj.building,
                   apartment=obj.apartment, country=getattr(obj, "country", "RU"))


def _sender_party(sender: SenderProfile | None) -> Party:
    if sender is None:
        return Party(name="")
    return Party(name=sender.company or sender.contact_name or sender.name, phone=sender.phone,
                 email=sender.email, company=sender.company, address=_party_address(sender))


def parcel_request(shipment: Shipment, sender: SenderProfile | None,
                   parties: dict[int, Party] | None = None) -> ParcelRequest:
    """The carrier-interface view of a shipment (for rating and creating at the carrier).
    ``parties`` caches the sender's side across a bulk call."""
    if parties is None:
        sender_party = _sender_party(sender)
    else:
        key = sender.pk if sender is not None else 0
        if key not in parties:
            parties[key] = _sender_party(sender)
        sender_party = parties[key]
    items = tuple(Item(name=i.name, quantity=i.quantity, unit_price=i.unit_price,
                       weight_g=i.weight_g, article=i.article, vat_rate=i.vat_rate,
                       hs_code=i.hs_code, origin_country=i.origin_country)
                  for i in getattr(shipment, "_pending_items", ()))
    return ParcelRequest(
        reference=shipment.order_number, service_code=shipment.service_code,
        sender=sender_party,
        recipient=Party(name=shipment.recipient_name, phone=shipment.recipient_phone,
                        email=shipment.recipient_email, company=shipment.recipient_company,
                        address=_party_address(shipment),
                        pickup_point=shipment.pickup_point_code),
        weight_g=shipment.weight_g or 0, length_cm=shipment.length_cm or 0,
        width_cm=shipment.width_cm or 0, height_cm=shipment.height_cm or 0,
        declared_value=shipment.declared_value, cod_amount=shipment.cod_amount,
        items=items, options=dict(shipment.options or {}),
        tracking_number=shipment.tracking_number or "", comment=shipment.comment)


def _rate_many() -> Callable[..., list[Any]] | None:
    try:
        from shipdesk.tariffs.services import rate_many
    except ImportError:  # the tariff engine not installed yet: shipments stay unrated
        return None
    return rate_many


def _numbers_issue() -> Callable[..., list[str]] | None:
    try:
        from shipdesk.numbering.services import numbers_issue
    except ImportError:
        return None
    return numbers_issue


def _rating_request(shipment: Shipment, sender: SenderProfile | None,
                    parties: dict[int, Party], recipients: dict[tuple[str, str], Party]
                    ) -> ParcelRequest:
    """What a tariff table prices: the parcel between two indexes. The recipient is only
    their address's index and country (shared by the parcels going there); no items."""
    key = sender.pk if sender is not None else 0
    sender_party = parties.get(key)
    if sender_party is None:
        sender_party = parties[key] = _sender_party(sender)
    where = (shipment.index or "", shipment.country)
    recipient = recipients.get(where)
    if recipient is None:
        recipient = recipients[where] = Party(
            name="", address=Address(index=where[0], country=where[1]))
    return ParcelRequest(
        reference="", service_code=shipment.service_code, sender=sender_party,
        recipient=recipient, weight_g=shipment.weight_g or 0,
        length_cm=shipment.length_cm or 0, width_cm=shipment.width_cm or 0,
        height_cm=shipment.height_cm or 0, declared_value=shipment.declared_value,
        cod_amount=shipment.cod_amount, options=shipment.options or {})


def _rate_many_explained() -> Callable[..., list[Any]] | None:
    try:
        from shipdesk.tariffs.services import rate_many_explained
    except ImportError:
        return None
    return rate_many_explained


def _rate(organization: Any, shipments: list[Shipment],
          senders: dict[int, SenderProfile]) -> None:
    """Prices the shipments in bulk with the organization's tariff tables, per carrier
    (from the shipment's sender address: the organization's default one when none was
    named). A shipment that cannot be priced keeps the reason in ``unrated_reason``."""
    rate_many = _rate_many()
    if rate_many is None or not shipments:
        return
    by_carrier: dict[str, list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        if shipment.sender_id is None:
            shipment.unrated_reason = str(_(
                "Не рассчитана: у организации нет адреса отправителя — добавьте его в "
                "настройках отправлений"))
            continue
        by_carrier[shipment.carrier_code].append(shipment)
    parties: dict[int, Party] = {}
    recipients: dict[tuple[str, str], Party] = {}
    breakdowns: dict[tuple[int, ...], list[dict[str, str]]] = {}
    for carrier_code, group in by_carrier.items():
        requests = [_rating_request(s, senders.get(s.sender_id or 0), parties, recipients)
                    for s in group]
        try:
            quotes = rate_many(organization=organization, requests=requests,
                               carrier_code=carrier_code)
        except ServiceError as exc:
            for shipment in group:
                shipment.unrated_reason = str(exc.detail)[:300]
            continue
        unrated = [n for n, quote in enumerate(quotes) if quote is None]
        if unrated:  # the reasons, for the few the table could not price
            explain = _rate_many_explained()
            reasons = explain(organization=organization,
                              requests=[requests[n] for n in unrated],
                              carrier_code=carrier_code) if explain else []
            for n, reason in zip(unrated, reasons, strict=False):
                group[n].unrated_reason = (str(reason) if isinstance(reason, str) else str(
                    _("Тариф не рассчитан")))[:300]
        for shipment, quote in zip(group, quotes, strict=False):
            if quote is None:
                continue
            shipment.unrated_reason = ""
            shipment.shipping_cost = quote.total
            # a table's lines are shared objects: one breakdown per combination of them,
            # shared by the records (never mutated; written as JSON once per chunk)
            key = tuple(map(id, quote.lines))
            breakdown = breakdowns.get(key)
            if breakdown is None:
                breakdown = breakdowns[key] = [
                    {"name": line.name, "amount": str(line.amount)} for line in quote.lines]
            shipment.rate_breakdown = breakdown
            shipment.delivery_days_min = quote.days_min
            shipment.delivery_days_max = quote.days_max


def _number(organization: Any, shipments: list[Shipment]) -> None:
    """Issues tracking numbers per carrier for the shipments that have none. No pool for a
    carrier: they stay READY without a number, which is not an error, but said on each. A
    pool with fewer numbers left than wanted gives what it has (the first shipments get
    them); the rest say that the pool ran out."""
    numbers_issue = _numbers_issue()
    # per carrier, destination (14-digit numbers at home, S10 abroad) and mail type (the
    # S10 service letter)
    by_kind: dict[tuple[str, bool, str], list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        if shipment.tracking_number:
            shipment.state = State.NUMBERED
        elif shipment.registration != Registration.PENDING:
            # a parcel its carrier registers gets the carrier's number from the registration
            international = shipment.country != "RU"
            by_kind[(shipment.carrier_code, international,
                     shipment.service_code if international else "")].append(shipment)
    if numbers_issue is None:
        return
    for (carrier_code, international, service_code), group in by_kind.items():
        try:
            numbers = numbers_issue(organization=organization, carrier_code=carrier_code,
                                    count=len(group), international=international,
                                    service_code=service_code, partial=True)
        except Conflict as exc:  # no pool (of that kind), spent, or the carrier numbers them
            # not an error of the shipment (it stays READY), but said on it: a pool of the
            # wrong kind for the destination must not leave it silently without a number
            reason = "" if exc.code == "numbers_from_carrier" else str(exc.detail)[:300]
            for shipment in group:
                shipment.numbering_error = reason
            continue
        for shipment, number in zip(group, numbers, strict=False):
            shipment.tracking_number = number
            shipment.state = State.NUMBERED
            shipment.numbering_error = ""
        if len(numbers) < len(group):
            spent = _("Пул трек-номеров перевозчика «%(carrier)s» исчерпан: добавьте новый "
                      "диапазон номеров") % {"carrier": carrier_code}
            for shipment in group[len(numbers):]:
                shipment.numbering_error = spent


class _NewShipment(Record):
    """A shipment on its way in: attributes as on :class:`Shipment` (rating and numbering
    read and write them), inserted by :func:`fast_insert`."""

    recipient_name = Shipment.recipient_name
    _pending_items: list[Record]  # its items, inserted after it


def _new_shipment(organization: Any, cleaned: dict[str, Any], *, source: str,
                  source_ref: str, draft: bool, registers: bool, dispatch: bool
                  ) -> _NewShipment:
    # the cleaned values are the model's attnames (plus "items", which no column reads)
    shipment = _NewShipment(defaults_for(Shipment), cleaned)
    shipment.__dict__.update(organization_id=organization.pk, source=source,
                             state=State.DRAFT if draft else State.READY, source_ref=source_ref)
    if registers and not draft:
        # claimed for the task dispatched when the chunk is stored (the sweep takes it after
        # the lease if that message is lost), or due now for the sweep
        shipment.__dict__.update(registration=Registration.PENDING,
                                 register_due_at=registration_claimed_until() if dispatch
                                 else timezone.now())
    item_defaults = defaults_for(ShipmentItem)
    shipment._pending_items = [Record(item_defaults, item) for item in cleaned["items"]]
    return shipment


# where numbering changes a row built ahead
_NUMBERED_COLUMNS = (column_position(Shipment, "tracking_number"), column_position(Shipment, "state"),
                     column_position(Shipment, "numbering_error"))

# An uploaded file's shipments get no "created" event each: their import job already
# records who uploaded which file when, and their history shows it in its place (see
# selectors.shipment_history): 100,000 rows fewer to write and index per file.
SOURCES_WITHOUT_CREATED_EVENT = frozenset({"upload"})


def _store(actor: Actor, shipments: list[Any], rows: list[list[Any]] | None = None,
           item_rows: list[list[Any]] | None = None) -> None:
    """Numbers and inserts one chunk of rated shipments: a fixed number of queries whatever
    its size. ``rows``/``item_rows``: their rows built ahead (:func:`insert_rows`, with
    their ids and times), which numbering patches."""
    organization = actor.organization
    _number(organization, [s for s in shipments if s.state != State.DRAFT])
    now = timezone.now()
    if rows is None:
        for shipment in shipments:
            shipment.created_at = shipment.updated_at = now
    else:
        number_at, state_at, why_at = _NUMBERED_COLUMNS
        for row, shipment in zip(rows, shipments, strict=True):
            row[number_at], row[state_at] = shipment.tracking_number, shipment.state
            row[why_at] = shipment.numbering_error
    fast_insert(Shipment, shipments, rows)
    items: list[Record] = []
    for shipment in shipments:
        for item in shipment._pending_items:
            item.shipment_id = shipment.id
            items.append(item)
    fast_insert(ShipmentItem, items, item_rows)
    event_defaults = defaults_for(ShipmentEvent)
    user_id = actor.user.pk if getattr(actor.user, "pk", None) else None
    api_key_id = actor.api_key.pk if actor.api_key else None
    reason = _("Создано")
    data_of: dict[str, dict[str, str]] = {}  # one (never mutated) data object per source
    events: list[Record] = []
    for shipment in shipments:
        if shipment.source in SOURCES_WITHOUT_CREATED_EVENT:
            continue
        data = data_of.get(shipment.source)
        if data is None:
            data = data_of[shipment.source] = {"source": shipment.source}
        events.append(Record(event_defaults, {
            "shipment_id": shipment.id, "from_state": "", "to_state": shipment.state,
            "user_id": user_id, "api_key_id": api_key_id, "reason": reason,
            "data": data, "created_at": now}))
    fast_insert(ShipmentEvent, events)
    # the statistics count the chunk in the same transaction (imported here: analytics
    # reads shipments, not the other way round)
    from shipdesk.analytics.services import rollups_shipments_created

    rollups_shipments_created(shipments=shipments, user_id=user_id)


def _existing(sql: str, first: Any, values: list[str]) -> list[tuple[Any, ...]]:
    """One query for a whole chunk's values, passed as ONE parameter (an array on
    PostgreSQL, JSON on SQLite): no per-value SQL compilation, no parameter limit.

    Not a lookup per value (a LATERAL probe): on a table still filling up, with no
    statistics, the planner cannot tell the unique index from the organization's other
    ones and may probe through the wrong one, reading the whole organization per value."""
    if not values:
        return []
    if connection.vendor == "postgresql":
        sql, param = sql.replace("{IN}", "= ANY(%s)"), values
    else:
        sql = sql.replace("{IN}", "IN (SELECT value FROM json_each(%s))")
        param = json.dumps(values)  # type: ignore[assignment]
    with connection.cursor() as cursor:
        cursor.execute(sql, [first, param])
        return cursor.fetchall()


def _chunks(rows: Iterable[tuple[int, Mapping[str, Any]]], size: int
            ) -> Iterator[list[tuple[int, Mapping[str, Any]]]]:
    chunk: list[tuple[int, Mapping[str, Any]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def shipments_intake(*, actor: Actor, rows: Iterable[tuple[int, Mapping[str, Any]]],
                     mode: str = Mode.VALID_ROWS, source: str = "api", source_key: str = "",
                     loc_prefix: tuple[str | int, ...] = ("items",), draft: bool = False,
                     chunk_size: int = INTAKE_CHUNK,
                     progress: Callable[[int, IntakeResult, Any], None] | None = None,
                     chunk_extra: Callable[[list[int], set[int]], Any] | None = None,
                     read_in_child: bool = False, expected_rows: int = 0,
                     keep_stored: bool = False, dispatch_registration: bool = True,
                     ctx: ValidationContext | None = None,
                     skip_uploaded: bool = False) -> IntakeResult:
    """The one intake pipeline behind the API, spreadsheets and the UI.

    ``rows`` yields ``(ref, data)``; it is consumed in chunks (a 100,000-row file is never
    all in memory as shipments). Per chunk: validation (no queries), one query for order
    numbers already stored, one for tracking numbers, rating and numbering per carrier,
    then bulk inserts. ``mode="all_or_nothing"`` runs in one transaction and stores nothing
    if any row fails (every row is still checked, so the report is complete);
    ``"valid_rows"`` commits each chunk and reports the rejected rows; there a chunk is
    numbered and stored while the next is read, validated, checked against what is stored
    and rated (see :func:`_overlap`).

    ``source_key`` (the file hash of an upload) makes a re-upload idempotent: a row whose
    order number was stored from the same file before is reported as skipped;
    ``skip_uploaded``: also one stored from another upload (a corrected file sent again).

    ``chunk_extra(refs, rejected)`` runs where a chunk is read and checked, right after it,
    with the refs of its rows and of those that failed the checks; what it returns goes
    with the chunk to ``progress(processed, result, extra)``. ``read_in_child``:
    reading ``rows`` and validating run in a child process (see :func:`_checked_in_child`);
    while it starts (loading the sheet), this process takes the ids of the
    ``expected_rows`` shipments (and as many items) from the sequences.
    ``keep_stored``: each result keeps the row as stored (``stored``), for a caller that
    answers with it rather than reading it back. Shipments whose carrier account registers
    parcels are sent to the carrier by a task dispatched as each chunk commits; with
    ``dispatch_registration=False`` they are only made due, for the sweep.
    """
    actor.require(Perm.MANAGE_SHIPMENTS)
    if mode not in Mode.__members__.values():
        raise ValidationFailed(errors=[FieldError(("mode",), _(
            "Режим: valid_rows (взять верные строки) или all_or_nothing (всё или ничего)"))])
    organization = actor.organization
    sender_list = _senders(organization)
    ctx = ctx or validation_context(organization=organization, senders=sender_list)
    if ctx.source != source:  # the rules may look at where the orders come from
        ctx = dataclasses.replace(ctx, source=source)
    senders = {s.pk: s for s in sender_list}
    result = IntakeResult()
    seen_orders: dict[str, int] = {}
    seen_tracking: dict[str, int] = {}
    processed = 0
    all_or_nothing = mode == Mode.ALL_OR_NOTHING
    ref_prefix = f"{source_key}:" if source_key else ""
    shipment_ids, item_ids = IdReserve(Shipment), IdReserve(ShipmentItem)

    def check_chunk(chunk: list[tuple[int, Mapping[str, Any]]]) -> _Checked:
        """Validation and the duplicates within the input: no database access."""
        items: list[ItemResult] = []
        staged: list[tuple[ItemResult, dict[str, Any]]] = []
        for ref, data in chunk:
            if not isinstance(data, Mapping):
                items.append(ItemResult(ref=ref, order_number="", errors=[FieldError(
                    (*loc_prefix, ref), _("Отправление описывается объектом"))]))
                continue
            warnings: list[FieldError] = []
            cleaned, errors = validate_shipment(data, ctx, warnings=warnings)
            order = cleaned["order_number"]
            item = ItemResult(ref=ref, order_number=order,
                              warnings=tuple(warnings) if warnings else ())
            if order:
                if order in seen_orders:
                    errors.append(FieldError(("order_number",), _(
                        "Номер заказа %(order)s повторяется (уже в позиции %(first)s)") % {
                        "order": order, "first": seen_orders[order]}))
                else:
                    seen_orders[order] = ref
            number = cleaned["tracking_number"]
            if number:
                if number in seen_tracking:
                    errors.append(FieldError(("tracking_number",), _(
                        "Трек-номер %(n)s повторяется (уже в позиции %(first)s)") % {
                        "n": number, "first": seen_tracking[number]}))
                else:
                    seen_tracking[number] = ref
            if errors:
                item.errors = [FieldError((*loc_prefix, ref, *e.loc), e.message, e.code)
                               for e in errors]
            else:
                staged.append((item, cleaned))
            items.append(item)
        return _Checked(items, staged, len(chunk))

    def prepare_chunk(checked: _Checked) -> _Checked:
        """Checks against what is stored (one query each), makes the new shipments and
        rates them: no writes (runs while the chunk before is being stored)."""
        staged = checked.staged
        orders = [c["order_number"] for _i, c in staged]
        stored = {order: (ref, src) for order, ref, src in _existing(
            "SELECT order_number, source_ref, source FROM shipments_shipment "
            "WHERE organization_id = %s AND order_number {IN}", organization.pk, orders)}
        numbers = [c["tracking_number"] for _i, c in staged if c["tracking_number"]]
        taken = {row[0] for row in _existing(
            "SELECT tracking_number FROM shipments_shipment WHERE organization_id = %s "
            "AND tracking_number {IN}", organization.pk, numbers)}
        shipments = checked.shipments
        created_items = checked.created
        for item, cleaned in staged:
            order = cleaned["order_number"]
            if order in stored:
                stored_ref, stored_source = stored[order]
                if (source_key and stored_ref.startswith(ref_prefix)) or (
                        skip_uploaded and stored_source == source):
                    item.skipped = True
                    continue
                item.errors.append(FieldError((*loc_prefix, item.ref, "order_number"), _(
                    "Заказ %(order)s уже есть в системе") % {"order": order}))
                continue
            if cleaned["tracking_number"] in taken:
                item.errors.append(FieldError((*loc_prefix, item.ref, "tracking_number"), _(
                    "Трек-номер %(n)s уже занят другим вашим отправлением") % {
                    "n": cleaned["tracking_number"]}))
                continue
            shipments.append(_new_shipment(
                organization, cleaned, source=source, source_ref=f"{ref_prefix}{item.ref}"[:100],
                draft=draft, registers=cleaned["carrier_account_id"] in ctx.registering_accounts,
                dispatch=dispatch_registration))
            created_items.append(item)
        _rate(organization, [s for s in shipments if s.state != State.DRAFT], senders)
        # the ids and the rows to insert, off the storing thread's path where the ids can be
        # taken ahead: storing then only numbers and patches the numbered rows
        items = [i for s in shipments for i in s._pending_items]
        shipment_ids.assign(shipments)
        item_ids.assign(items)
        if shipments and shipments[0].id is not None and (not items or items[0].id is not None):
            now = timezone.now()
            for shipment in shipments:
                shipment.created_at = shipment.updated_at = now
                for item in shipment._pending_items:
                    item.shipment_id = shipment.id
            checked.rows = insert_rows(Shipment, shipments)
            checked.item_rows = insert_rows(ShipmentItem, items) if items else None
        return checked

    def store_chunk(checked: _Checked) -> None:
        """Numbers and stores a prepared chunk, and accounts for its rows."""
        nonlocal processed
        staged, shipments, created_items = checked.staged, checked.shipments, checked.created
        failed = any(i.errors for i, _c in staged) or len(staged) != checked.size
        done = False
        if shipments and all_or_nothing and not (failed or result.rejected):
            # a clash aborts the one transaction: _run
            _store(actor, shipments, checked.rows, checked.item_rows)
            done = True
        elif shipments and not all_or_nothing:
            try:
                with transaction.atomic():
                    _store(actor, shipments, checked.rows, checked.item_rows)
                done = True
            except IntegrityError:
                # a concurrent intake stored the same order or tracking number meanwhile
                for item in created_items:
                    item.errors.append(FieldError((*loc_prefix, item.ref, "order_number"), _(
                        "Заказ %(order)s одновременно создан другим запросом; повторите")
                        % {"order": item.order_number}, "conflict"))
        if done and dispatch_registration:
            registration_dispatch([s.id for s in shipments
                                   if s.registration == Registration.PENDING])
        if done:
            for shipment in shipments:
                if shipment.numbering_error and not shipment.tracking_number:
                    result.unnumbered += 1
                    result.unnumbered_reason = (result.unnumbered_reason
                                                or shipment.numbering_error)
            for item, shipment in zip(created_items, shipments, strict=True):
                item.ok = True
                item.shipment_id = shipment.id
                item.tracking_number = shipment.tracking_number
                item.state = shipment.state
                if keep_stored:
                    item.stored = shipment
        result.results.extend(checked.items)
        for item in checked.items:
            if item.errors:
                result.rejected += 1
            elif item.skipped:
                result.skipped += 1
            elif item.ok:
                result.created += 1
        processed += checked.size
        if progress is not None:
            progress(processed, result, checked.extra)

    def check(chunk: list[tuple[int, Mapping[str, Any]]]) -> _Checked:
        checked = check_chunk(chunk)
        if chunk_extra is not None:
            checked.extra = chunk_extra([ref for ref, _data in chunk],
                                        {item.ref for item in checked.items if item.errors})
        return checked

    checked: Generator[_Checked] = (check(chunk) for chunk in _chunks(rows, chunk_size))
    if read_in_child:
        def meanwhile() -> None:
            shipment_ids.fill(expected_rows)
            item_ids.fill(expected_rows)
        checked = _checked_in_child(checked, meanwhile=meanwhile)
    prepared = (prepare_chunk(chunk) for chunk in checked)
    with collector_paused():
        try:
            if all_or_nothing:
                _run_all_or_nothing(prepared, store_chunk, result)
            else:
                _overlap(prepared, store_chunk)
        finally:
            prepared.close()
            checked.close()  # stops a child reader
    return result


@dataclass(slots=True)
class _Checked:
    """One validated chunk: a result per row, the rows to store, the chunk's size."""

    items: list[ItemResult]
    staged: list[tuple[ItemResult, dict[str, Any]]]
    size: int
    extra: Any = None  # what the caller's chunk_extra gave for it
    # once prepared: the shipments to store (rated) and the rows they come from
    shipments: list[Any] = field(default_factory=list)
    created: list[ItemResult] = field(default_factory=list)
    # their rows and their items', built ahead where the ids were taken ahead (PostgreSQL)
    rows: list[list[Any]] | None = None
    item_rows: list[list[Any]] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled as plain tuples and dicts (pickle's C code), not a slotted dataclass per
        # row (Python code per object): a third of the reading child's time otherwise
        cleaned_of = {id(item): cleaned for item, cleaned in self.staged}
        rows = [(item.ref, item.order_number, item.errors, cleaned_of.get(id(item)))
                for item in self.items]
        return _checked_from_rows, (rows, self.size, self.extra)


def _checked_from_rows(rows: list[tuple[int, str, list[FieldError], dict[str, Any] | None]],
                       size: int, extra: Any) -> _Checked:
    items: list[ItemResult] = []
    staged: list[tuple[ItemResult, dict[str, Any]]] = []
    for ref, order_number, errors, cleaned in rows:
        item = ItemResult(ref=ref, order_number=order_number, errors=errors)
        items.append(item)
        if cleaned is not None:
            staged.append((item, cleaned))
    return _Checked(items, staged, size, extra)


class IntakeReaderFailed(RuntimeError):
    """The child process reading and validating an intake failed (its traceback is the
    message)."""


def read_in_child_possible() -> bool:
    """Whether this platform forks (a child starts with the parent's loaded state)."""
    return hasattr(os, "fork")


def _checked_in_child(checked: Iterator[_Checked], *, meanwhile: Callable[[], None] | None = None
                      ) -> Generator[_Checked]:
    """The chunks of ``checked``, produced by a forked child process; ``meanwhile`` runs in
    this process while the child starts (its first chunk takes the longest: the sheet).

    Reading a sheet and validating its rows is pure Python (no query) and costs about as
    much as storing them; in one process both share one interpreter lock, so a big file
    would use one core however many there are. The child does the reading and validation
    and sends each chunk pickled through a pipe (a few chunks ahead at most: the pipe's
    buffer), while this process rates, numbers and stores. The child never touches the
    database connections it inherits, and leaves with ``os._exit`` (no cleanup closes them
    under the parent's feet). A plain ``os.fork``, not ``multiprocessing.Process``: a
    Celery prefork worker is a daemonic process, which multiprocessing forbids children.
    """
    receiver, sender = multiprocessing.Pipe(duplex=False)
    pid = os.fork()
    if pid == 0:  # the child
        code = 0
        try:
            receiver.close()
            for chunk in checked:
                sender.send_bytes(pickle.dumps(chunk, protocol=pickle.HIGHEST_PROTOCOL))
            sender.send_bytes(b"")
        except BaseException:  # reported to the parent, which raises it
            code = 1
            with contextlib.suppress(BaseException):
                sender.send_bytes(pickle.dumps(IntakeReaderFailed(traceback.format_exc())))
        finally:
            os._exit(code)
    sender.close()
    try:
        if meanwhile is not None:
            meanwhile()
        while True:
            try:
                data = receiver.recv_bytes()
            except EOFError:  # the child died without a word (killed)
                raise IntakeReaderFailed("the reading process ended unexpectedly") from None
            if not data:
                break
            chunk = pickle.loads(data)  # noqa: S301  # our own child's output
            if isinstance(chunk, IntakeReaderFailed):
                raise chunk
            yield chunk
    finally:
        receiver.close()
        _reap(pid)


def _reap(pid: int, wait: float = 5.0) -> None:
    """Waits for the reading child to end; stops it if the parent stopped early (an error
    while storing) and it is still reading."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return
        time.sleep(0.01)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _run_all_or_nothing(checked: Iterable[_Checked], store_chunk: Callable[[_Checked], None],
                        result: IntakeResult) -> None:
    try:
        with transaction.atomic():
            for chunk in checked:
                store_chunk(chunk)
            if result.rejected:
                raise _RollBack
    except IntegrityError as exc:
        raise Conflict(_("Заказ с таким номером или трек-номером одновременно создан "
                         "другим запросом; ничего не сохранено, повторите")) from exc
    except _RollBack:
        result.rolled_back = True
        for item in result.results:
            if item.ok:
                item.ok, item.shipment_id, item.tracking_number, item.state = (
                    False, None, None, "")
        result.created = 0


def _store_in_transaction(store_chunk: Callable[[_Checked], None], chunk: _Checked) -> None:
    with transaction.atomic():
        store_chunk(chunk)


def _overlap(checked: Iterator[_Checked], store_chunk: Callable[[_Checked], None]) -> None:
    """Stores chunk N (each in its own transaction) while chunk N+1 is prepared (read,
    validated, checked against what is stored, rated).

    Preparing is mostly Python; storing mostly waits for the database (numbering's row
    lock, the COPY, index upkeep, the commit's foreign-key checks). A second thread stores,
    on its own database connection (closed when it is done), with this thread's language;
    one chunk waits at most, so memory stays that of two chunks. Inside a caller's
    transaction everything is stored in it, in turn (another connection would neither see
    its rows nor roll back with it).
    """
    first = next(checked, None)
    if first is None:
        return
    following = next(checked, None)
    if following is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
        for chunk in itertools.chain((first,), () if following is None else (following,),
                                     checked):
            _store_in_transaction(store_chunk, chunk)
        return
    pending: queue.Queue[_Checked | None] = queue.Queue(maxsize=1)
    failure: list[BaseException] = []
    language = translation.get_language()

    def store_all() -> None:
        try:
            with translation.override(language):
                while (chunk := pending.get()) is not None:
                    if failure:
                        continue  # drain: the reading thread stops at its next chunk
                    try:
                        _store_in_transaction(store_chunk, chunk)
                    except BaseException as exc:  # re-raised by the reading thread
                        failure.append(exc)
        finally:
            connections[DEFAULT_DB_ALIAS].close()  # this thread's own connection

    storer = threading.Thread(target=store_all, name="intake-store", daemon=True)
    storer.start()
    try:
        for chunk in itertools.chain((first, following), checked):
            if failure:
                break
            pending.put(chunk)
    finally:
        pending.put(None)
        storer.join()
    if failure:
        raise failure[0]


def shipments_create_many(*, actor: Actor, items: Sequence[Mapping[str, Any]],
                          mode: str = Mode.VALID_ROWS, source: str = "api",
                          draft: bool = False, dispatch_registration: bool = True
                          ) -> IntakeResult:
    """Creates up to 10,000 shipments in one call, with a result per item."""
    if len(items) > MAX_ITEMS_PER_CALL:
        raise ValidationFailed(_("Не больше %(n)s отправлений за один вызов") % {
            "n": MAX_ITEMS_PER_CALL}, errors=[FieldError(("items",), _("Слишком много"))])
    return shipments_intake(actor=actor, rows=enumerate(items), mode=mode, source=source,
                            draft=draft, dispatch_registration=dispatch_registration)


def shipment_create(*, actor: Actor, data: Mapping[str, Any], source: str = "api",
                    draft: bool = False) -> Shipment:
    """Creates one shipment, validated, rated and numbered (or a DRAFT, validated only);
    raises :class:`ValidationFailed` naming every bad field."""
    result = shipments_intake(actor=actor, rows=[(0, data)], mode=Mode.ALL_OR_NOTHING,
                              source=source, loc_prefix=(), draft=draft, keep_stored=True)
    item = result.results[0]
    if item.errors:
        raise ValidationFailed(_("Отправление не прошло проверку"),
                               errors=[FieldError(e.loc[1:], e.message, e.code)
                                       for e in item.errors])
    return _as_stored(item.stored)


def _as_stored(record: Any) -> Shipment:
    """The shipment (with its items) just inserted from ``record``, as a model instance:
    what reading it back would give, without the two queries."""
    shipment = _instance(Shipment, record)
    items = [_instance(ShipmentItem, i) for i in record._pending_items]
    for i in items:
        i.shipment = shipment
    related = shipment.items.all()  # filled as prefetch_related("items") fills it
    vars(related).update(_result_cache=items, _prefetch_done=True)
    vars(shipment)["_prefetched_objects_cache"] = {"items": related}
    return shipment


def _instance(model: type[M], record: Any) -> M:
    obj = model(**{f.attname: getattr(record, f.attname) for f in model._meta.concrete_fields})
    obj._state.adding, obj._state.db = False, DEFAULT_DB_ALIAS
    return obj


def _shipment_data(shipment: Shipment) -> dict[str, Any]:
    data: dict[str, Any] = {f: getattr(shipment, f) for f in _SHIPMENT_FIELDS}
    data["sender_id"] = shipment.sender_id
    data["tracking_number"] = shipment.tracking_number or ""
    data["items"] = [{"name": i.name, "article": i.article, "quantity": i.quantity,
                      "unit_price": i.unit_price, "weight_g": i.weight_g,
                      "vat_rate": i.vat_rate, "hs_code": i.hs_code,
                      "origin_country": i.origin_country} for i in shipment.items.all()]
    return data


_ROLLUP_FIELDS = ("organization_id", "created_at", "carrier_account_id", "carrier_code",
                  "service_code", "mail_category", "index", "country", "sender_id",
                  "shipping_cost")


@transaction.atomic
def shipment_update(*, actor: Actor, shipment_id: int, data: Mapping[str, Any]) -> Shipment:
    """Changes a shipment while it is a draft or validated (not yet numbered): the result is
    validated and rated again; a READY shipment may be numbered by it."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    shipment = (Shipment.objects.select_for_update()
                .filter(organization=actor.organization, pk=shipment_id).first())
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    if shipment.state not in EDITABLE_STATES:
        raise InvalidTransition(_("Отправление в состоянии «%(state)s» менять нельзя") % {
            "state": State(shipment.state).label})
    if shipment.carrier_order_id and shipment.registration in AT_CARRIER:
        raise InvalidTransition(_("Отправление уже передано перевозчику: чтобы изменить, "
                                  "отмените его и создайте заново"))
    # what the statistics counted it under (analytics moves it if that changes)
    before = SimpleNamespace(**{f: getattr(shipment, f) for f in _ROLLUP_FIELDS})
    merged = _shipment_data(shipment)
    if data.get("address"):  # a new one-line address: the parts not sent come from it
        for key in (*validation.ADDRESS_FIELDS, "index"):
            if key not in data:
                merged[key] = ""
    if "carrier_code" in data and not ({"carrier_account_id", "carrier_account"} & data.keys()):
        merged["carrier_account_id"] = None  # another carrier: its default account
    merged.update({k: v for k, v in data.items() if k != "order_number"})
    ctx = dataclasses.replace(validation_context(organization=actor.organization),
                              rule_actions=False)
    cleaned, errors = validate_shipment(merged, ctx)
    if cleaned["tracking_number"] and cleaned["tracking_number"] != shipment.tracking_number \
            and Shipment.objects.filter(organization=actor.organization,
                                        tracking_number=cleaned["tracking_number"]).exists():
        errors.append(FieldError(("tracking_number",), _(
            "Трек-номер %(n)s уже занят другим вашим отправлением") % {
            "n": cleaned["tracking_number"]}))
    if errors:
        raise ValidationFailed(_("Отправление не прошло проверку"), errors=errors)
    changed = sorted(f for f in UPDATABLE_FIELDS if getattr(shipment, f) != cleaned[f])
    for name in UPDATABLE_FIELDS:
        setattr(shipment, name, cleaned[name])
    shipment.sender_id = cleaned["sender_id"]
    shipment.tracking_number = cleaned["tracking_number"]
    shipment._pending_items = [ShipmentItem(shipment=shipment, **i)  # type: ignore[attr-defined]
                               for i in cleaned["items"]]
    from_state = shipment.state
    to_state = State.READY if data.get("ready", from_state == State.READY) else State.DRAFT
    shipment.state = to_state
    registers = to_state == State.READY and shipment.carrier_account_id in ctx.registering_accounts
    shipment.registration = Registration.PENDING if registers else Registration.NONE
    shipment.register_due_at = registration_claimed_until() if registers else None
    shipment.registration_error = ""
    if to_state == State.READY:
        shipment.shipping_cost, shipment.rate_breakdown, shipment.unrated_reason = None, [], ""
        senders = {s.pk: s for s in SenderProfile.objects.filter(
            organization=actor.organization, pk=shipment.sender_id or 0)}
        _rate(actor.organization, [shipment], senders)
        _number(actor.organization, [shipment])
    shipment.save()
    shipment.items.all().delete()
    ShipmentItem.objects.bulk_create(shipment._pending_items)  # type: ignore[attr-defined]
    from shipdesk.analytics.services import rollups_shipment_changed

    rollups_shipment_changed(before=before, after=shipment)
    ShipmentEvent.objects.create(
        shipment=shipment, from_state=from_state, to_state=shipment.state,
        user=actor.user if getattr(actor.user, "pk", None) else None, api_key=actor.api_key,
        reason=_("Изменено"), data={"fields": changed})
    if registers:
        registration_dispatch([shipment.pk])
    return shipment


# What a parcel keeps once it has its number, its carrier's order or a place in a batch: the
# number, the label and the batch were made for these.
FIXED_AFTER_NUMBERING = ("carrier_code", "carrier_account_id", "service_code", "mail_category",
                         "country")
AMENDABLE_STATES = frozenset({State.READY, State.NUMBERED, State.IN_BATCH})


def shipment_needs_amend(shipment: Shipment) -> bool:
    """Whether a change goes through :func:`shipment_amend` (numbered, in a batch, or
    known to the carrier) rather than :func:`shipment_update`."""
    return shipment.state in (State.NUMBERED, State.IN_BATCH) or bool(
        shipment.carrier_order_id and shipment.registration in AT_CARRIER)


@dataclass(frozen=True)
class AmendResult:
    shipment: Shipment
    reregistered: bool
    cost_before: Decimal | None


@transaction.atomic
def shipment_amend(*, actor: Actor, shipment_id: int, data: Mapping[str, Any]) -> AmendResult:
    """Changes a shipment after it was numbered or registered, until it is handed over:
    recipient, address, weight, sizes, values, comment. The carrier, mail type, category
    and tracking number stay (the number and label were made for them). The parcel is
    rated again; one already at its carrier is cancelled there and registered anew with
    the new data (no carrier adapter updates an order in place)."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    shipment = (Shipment.objects.select_for_update(of=("self",)).select_related("carrier_account")
                .filter(organization=actor.organization, pk=shipment_id).first())
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    if shipment.state not in AMENDABLE_STATES:
        raise InvalidTransition(_("Отправление в состоянии «%(state)s» менять нельзя: оно уже "
                                  "передано перевозчику или закрыто") % {
            "state": State(shipment.state).label})
    merged = _shipment_data(shipment)
    merged.update({k: v for k, v in data.items() if k not in ("order_number", "ready")})
    ctx = dataclasses.replace(validation_context(organization=actor.organization),
                              rule_actions=False)
    cleaned, errors = validate_shipment(merged, ctx)
    for name in (*FIXED_AFTER_NUMBERING, "tracking_number"):
        if name in data and (cleaned[name] or None) != (getattr(shipment, name) or None):
            errors.append(FieldError((name,), _(
                "После присвоения номера это поле не меняется: отмените отправление и "
                "создайте новое")))
    if errors:
        raise ValidationFailed(_("Отправление не прошло проверку"), errors=errors)
    cleaned.update({name: getattr(shipment, name) for name in FIXED_AFTER_NUMBERING})
    changed = sorted(f for f in UPDATABLE_FIELDS if getattr(shipment, f) != cleaned[f])
    cost_before, from_state = shipment.shipping_cost, shipment.state
    for name in UPDATABLE_FIELDS:
        setattr(shipment, name, cleaned[name])
    shipment.sender_id = cleaned["sender_id"]
    shipment.shipping_cost, shipment.rate_breakdown, shipment.unrated_reason = None, [], ""
    senders = {s.pk: s for s in SenderProfile.objects.filter(
        organization=actor.organization, pk=shipment.sender_id or 0)}
    _rate(actor.organization, [shipment], senders)
    at_carrier = bool(shipment.carrier_order_id) and shipment.registration in AT_CARRIER
    if at_carrier and changed and shipment.state == State.IN_BATCH:
        raise InvalidTransition(_("Отправление зарегистрировано у перевозчика и уже в партии: "
                                  "уберите его из партии, затем измените"))
    if at_carrier and changed:
        shipment_cancel_at_carrier(shipment=shipment)
        registration_restart(shipment)
        shipment.registration = Registration.PENDING
        shipment.register_due_at = registration_claimed_until()
        shipment.registration_error = ""
    shipment.save()
    shipment.items.all().delete()
    ShipmentItem.objects.bulk_create([ShipmentItem(shipment=shipment, **i)
                                      for i in cleaned["items"]])
    ShipmentEvent.objects.create(
        shipment=shipment, from_state=from_state, to_state=shipment.state,
        user=actor.user if getattr(actor.user, "pk", None) else None, api_key=actor.api_key,
        reason=(_("Изменено; заказ у перевозчика отменён и передаётся заново")
                if at_carrier and changed else _("Изменено")), data={"fields": changed})
    if at_carrier and changed:
        registration_dispatch([shipment.pk])
    return AmendResult(shipment=shipment, reregistered=at_carrier and bool(changed),
                       cost_before=cost_before)


def shipments_cancel(*, actor: Actor, shipment_ids: Sequence[int], reason: str = "") -> int:
    """Cancels each shipment (at its carrier first), all or none."""
    with transaction.atomic():
        for shipment_id in dict.fromkeys(shipment_ids):
            shipment_cancel(actor=actor, shipment_id=shipment_id, reason=reason)
    return len(set(shipment_ids))


@transaction.atomic
def shipment_cancel(*, actor: Actor, shipment_id: int, reason: str = "") -> Shipment:
    """Cancels a shipment not yet handed over, at its carrier first when it was registered
    there. Its tracking number stays on it (the column is unique), so the number is never
    issued to another parcel."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    shipment = (Shipment.objects.select_for_update(of=("self",)).select_related("carrier_account")
                .filter(organization=actor.organization, pk=shipment_id).first())
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    if State.CANCELLED in TRANSITIONS[shipment.state]:
        shipment_cancel_at_carrier(shipment=shipment)
    return shipments_transition(actor=actor, shipment_ids=[shipment_id],
                                to_state=State.CANCELLED,
                                reason=reason or _("Отменено"))[0]
