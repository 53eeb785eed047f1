"""Registration of shipments with their carriers (write side).

A shipment whose carrier account registers parcels through the carrier's API is sent to the
carrier as due work: intake marks it ``Registration.PENDING`` with ``register_due_at`` and
dispatches :func:`shipments_register` for the stored ids after commit; the sweep takes any
whose message was lost once the lease runs out. Per carrier account, in the carrier's
batch size:

1. parcels whose earlier attempt got no answer are first looked up at the carrier by our
   order number (``find_parcels``), so a lost answer never registers a parcel twice;
2. new parcels are created (``create_parcels``); each gets the carrier's id, and its number
   when the carrier gives one at once (PickPoint, the sandbox);
3. carriers that create asynchronously (CDEK: HTTP 202, then validation) are read back
   (``registration_check``) until the order is created with its number or refused;
4. carriers that number a parcel only in their own batch (Russian Post's Otpravka) get the
   batch made now, dated by the organization's drop-off day, so that the label carries the
   carrier's number; the hand-over checks that batch in (documents' ``batch_close``).

The carrier's refusal is kept on the shipment with the carrier's own words
(``Registration.REJECTED``); the shipment stays editable and is sent again after a fix. A
carrier that is down or slow is retried with backoff. A registered, numbered shipment is
NUMBERED and tracked from then on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.carriers import registry
from shipdesk.carriers.base import CarrierAdapter, CarrierError, CreateResult, ParcelRequest
from shipdesk.core.errors import Conflict, NotFound
from shipdesk.shipments.models import Registration, Shipment, ShipmentEvent, State
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor

log = logging.getLogger(__name__)

# How long a dispatched registration owns its shipments before the sweep may send them again.
REGISTRATION_LEASE = timedelta(minutes=10)
# An asynchronously created order (CDEK) is read back after this long.
READ_BACK_AFTER = timedelta(seconds=15)
# A carrier that is down: tried again after 1, 2, 4 ... minutes, at most every hour.
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
# Parcels registered after this local hour are handed over on the next day.
DROP_OFF_CUTOFF_HOUR = 17


def registration_claimed_until(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + REGISTRATION_LEASE


def registration_dispatch(shipment_ids: Sequence[int]) -> None:
    """Sends the (already claimed) shipments to their carriers once the transaction that
    stored them commits."""
    if not shipment_ids:
        return
    from shipdesk.shipments.tasks import register_task

    transaction.on_commit(partial(register_task.delay, list(shipment_ids)))


def drop_off_day(organization: Any, now: datetime) -> date:
    """The day the parcels registered now are handed over: today in the organization's
    time zone, tomorrow after the cut-off hour; post offices take no parcels on Sundays."""
    local = now.astimezone(organization.zone)
    day = local.date() + timedelta(days=1 if local.hour >= DROP_OFF_CUTOFF_HOUR else 0)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return day


@dataclass
class RegistrationOutcome:
    registered: int = 0
    rejected: int = 0
    waiting: int = 0  # at the carrier without its answer yet, or the carrier is down


@dataclass
class _Work:
    """One shipment on its way through the steps, and what happened to it."""

    shipment: Shipment
    errors: list[str] = field(default_factory=list)
    transient: str = ""  # the carrier could not be reached: retried later

    @property
    def settled(self) -> bool:
        return bool(self.errors or self.transient)


def shipments_register(*, shipment_ids: Sequence[int], now: datetime | None = None
                       ) -> RegistrationOutcome:
    """Registers the PENDING shipments among ``shipment_ids`` with their carriers (the
    task's service; idempotent: registered or cancelled shipments are left alone)."""
    now = now or timezone.now()
    outcome = RegistrationOutcome()
    shipments = list(Shipment.objects.filter(pk__in=list(shipment_ids),
                                             registration=Registration.PENDING)
                     .select_related("carrier_account", "sender", "organization")
                     .prefetch_related("items").order_by("pk"))
    by_account: dict[int, list[_Work]] = defaultdict(list)
    for shipment in shipments:
        work = _Work(shipment)
        account = shipment.carrier_account
        if account is None or not account.is_active:
            work.errors.append(_("Нет действующего договора с перевозчиком"))
            _finish([work], now, outcome)
            continue
        by_account[account.pk].append(work)
    for works in by_account.values():
        account = works[0].shipment.carrier_account
        try:
            adapter = registry.adapter_for_account(account)  # type: ignore[arg-type]
        except (registry.UnknownCarrier, ValueError) as exc:
            for work in works:
                work.errors.append(_("Договор с перевозчиком не работает: %(e)s") % {"e": exc})
            _finish(works, now, outcome)
            continue
        size = max(1, adapter.create_batch_size)
        for start in range(0, len(works), size):
            chunk = works[start:start + size]
            _register_chunk(adapter, chunk, now)
            _finish(chunk, now, outcome)
    return outcome


def _register_chunk(adapter: CarrierAdapter, works: list[_Work], now: datetime) -> None:
    try:
        _adopt_lost(adapter, [w for w in works if not w.shipment.carrier_order_id
                              and w.shipment.registration_attempts])
        _create(adapter, [w for w in works if not w.shipment.carrier_order_id])
        unnumbered = [w for w in works if w.shipment.carrier_order_id
                      and not w.shipment.tracking_number and not w.settled]
        if adapter.numbers_at_batch:
            _batch(adapter, unnumbered, now)
        else:
            _read_back(adapter, unnumbered)
    except CarrierError as exc:
        message = str(exc) or exc.__class__.__name__
        for work in works:
            if work.settled:
                continue
            if exc.transient:
                work.transient = message
            elif not (work.shipment.carrier_order_id and work.shipment.tracking_number):
                work.errors.append(message)


def _adopt_lost(adapter: CarrierAdapter, works: list[_Work]) -> None:
    """Parcels whose create had no answer: the ones the carrier did create are taken."""
    if not works:
        return
    try:
        found = adapter.find_parcels([w.shipment.order_number for w in works])
    except NotImplementedError:
        return
    by_reference = {parcel.reference: parcel for parcel in found}
    for work in works:
        parcel = by_reference.get(work.shipment.order_number)
        if parcel is not None:
            work.shipment.carrier_order_id = parcel.carrier_id
            if parcel.tracking_number:
                work.shipment.tracking_number = parcel.tracking_number


def _create(adapter: CarrierAdapter, works: list[_Work]) -> None:
    if not works:
        return
    from shipdesk.shipments.services import parcel_request

    # the attempt is counted before the call: after a crash mid-call, the next one looks
    # the parcels up at the carrier before creating them again
    Shipment.objects.filter(pk__in=[w.shipment.pk for w in works]).update(
        registration_attempts=F("registration_attempts") + 1)
    for work in works:
        work.shipment.registration_attempts += 1
        work.shipment._pending_items = list(work.shipment.items.all())  # type: ignore[attr-defined]
    requests = [parcel_request(w.shipment, w.shipment.sender) for w in works]
    requests = _carrier_normalised(adapter, requests)
    result = adapter.create_parcels(requests)
    _apply(result, {w.shipment.order_number: w for w in works})


def _carrier_normalised(adapter: CarrierAdapter, requests: list[ParcelRequest]
                        ) -> list[ParcelRequest]:
    """The recipients' address, phone and name as the carrier's own normalisation has them
    (Russian Post's clean services); as given when the carrier has none or it fails: the
    carrier validates the order itself and says what is wrong."""
    try:
        return adapter.normalize_parcels(requests)
    except CarrierError as exc:
        log.warning("%s: normalisation failed, parcels sent as given: %s", adapter.code, exc)
        return requests


def _apply(result: CreateResult, works: dict[str, _Work], *, refused_forget: bool = False) -> None:
    for parcel in result.created:
        work = works.get(parcel.reference)
        if work is None:
            continue
        work.shipment.carrier_order_id = parcel.carrier_id
        if parcel.tracking_number:
            work.shipment.tracking_number = parcel.tracking_number
    for error in result.errors:
        work = works.get(error.reference)
        if work is None:
            continue
        where = f" ({error.field})" if error.field else ""
        work.errors.append(f"{error.message or error.code}{where}")
        if refused_forget:
            # an order the carrier refused after accepting it was never created
            work.shipment.carrier_order_id = ""


def _read_back(adapter: CarrierAdapter, works: list[_Work]) -> None:
    if not works:
        return
    try:
        result = adapter.registration_check([w.shipment.carrier_order_id for w in works])
    except NotImplementedError:
        return  # created without a number: registered, numbered later by hand or batch
    _apply_by_carrier_id(result, works)


def _apply_by_carrier_id(result: CreateResult, works: list[_Work]) -> None:
    by_id = {w.shipment.carrier_order_id: w for w in works}
    # the carrier answers by its own id here: map it back to our order numbers
    keyed = CreateResult(
        created=tuple(p.__class__(reference=by_id[p.reference].shipment.order_number,
                                  carrier_id=p.carrier_id, tracking_number=p.tracking_number,
                                  raw=p.raw) for p in result.created if p.reference in by_id),
        errors=tuple(e.__class__(reference=by_id[e.reference].shipment.order_number,
                                 message=e.message, code=e.code, field=e.field)
                     for e in result.errors if e.reference in by_id))
    _apply(keyed, {w.shipment.order_number: w for w in works}, refused_forget=True)


def _batch(adapter: CarrierAdapter, works: list[_Work], now: datetime) -> None:
    if not works:
        return
    day = drop_off_day(works[0].shipment.organization, now)
    result = adapter.create_batch([w.shipment.carrier_order_id for w in works],
                                  shipping_date=day)
    by_id = {w.shipment.carrier_order_id: w for w in works}
    for carrier_id, number in result.tracking_numbers.items():
        work = by_id.get(carrier_id)
        if work is not None:
            work.shipment.tracking_number = number
            work.shipment.carrier_batch_id = result.batch_id
    for error in result.errors:
        work = by_id.get(error.reference)
        if work is not None:
            work.errors.append(error.message or error.code)


def _retry_delay(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), LONGEST_RETRY)


def _finish(works: list[_Work], now: datetime, outcome: RegistrationOutcome) -> None:
    """Stores what the carrier said: registered (numbered), refused, or to ask again."""
    if not works:
        return
    events: list[ShipmentEvent] = []
    watched: list[int] = []
    with transaction.atomic():
        still = set(Shipment.objects.select_for_update().filter(
            pk__in=[w.shipment.pk for w in works], registration=Registration.PENDING)
            .values_list("pk", flat=True))
        works = [w for w in works if w.shipment.pk in still]  # cancelled meanwhile: left
        numbers = [w.shipment.tracking_number for w in works if w.shipment.tracking_number]
        # numbers are unique per organization: only its own shipments can clash
        taken = {(org, number): order for org, number, order in Shipment.objects.filter(
            tracking_number__in=numbers,
            organization_id__in={w.shipment.organization_id for w in works})
            .exclude(pk__in=[w.shipment.pk for w in works])
            .values_list("organization_id", "tracking_number", "order_number")}
        for work in works:
            s = work.shipment
            if (s.organization_id, s.tracking_number) in taken:
                work.errors.append(_("Номер перевозчика %(n)s уже у отправления %(o)s") % {
                    "n": s.tracking_number,
                    "o": taken[(s.organization_id, s.tracking_number)]})
                s.tracking_number = None
            before = s.state
            if work.errors:
                s.registration, s.register_due_at = Registration.REJECTED, None
                s.registration_error = "; ".join(dict.fromkeys(work.errors))[:1000]
                outcome.rejected += 1
                events.append(ShipmentEvent(shipment=s, from_state=before, to_state=before,
                                            reason=(_("Перевозчик отклонил: %(m)s") % {
                                                "m": s.registration_error})[:500],
                                            data={"registration": s.registration}))
            elif work.transient:
                s.register_due_at = now + _retry_delay(s.registration_attempts)
                s.registration_error = (_("Перевозчик недоступен (%(m)s); повторим в %(t)s") % {
                    "m": work.transient, "t": timezone.localtime(s.register_due_at)
                    .strftime("%H:%M")})[:1000]
                outcome.waiting += 1
            elif s.carrier_order_id and not s.tracking_number and _expects_number(s):
                s.register_due_at = now + READ_BACK_AFTER  # the carrier is still at it
                s.registration_error = ""
                outcome.waiting += 1
            else:
                s.registration, s.register_due_at, s.registration_error = (
                    Registration.REGISTERED, None, "")
                if s.tracking_number and s.state == State.READY:
                    s.state = State.NUMBERED
                if s.tracking_number:
                    watched.append(s.pk)
                outcome.registered += 1
                events.append(ShipmentEvent(
                    shipment=s, from_state=before, to_state=s.state,
                    reason=(_("Зарегистрировано у перевозчика, номер %(n)s") % {
                        "n": s.tracking_number} if s.tracking_number
                        else _("Зарегистрировано у перевозчика")),
                    data={"registration": s.registration, "carrier_id": s.carrier_order_id}))
            s.updated_at = now
        _store([w.shipment for w in works])
        ShipmentEvent.objects.bulk_create(events, batch_size=1000)
        if watched:
            transaction.on_commit(partial(_watch, watched, now))


_STORED = ("carrier_order_id", "tracking_number", "carrier_batch_id", "registration",
           "registration_error", "register_due_at", "state", "updated_at")
_PG_TYPES = ("text", "text", "text", "text", "text", "timestamptz", "text", "timestamptz")


def _store(shipments: list[Shipment]) -> None:
    """One statement for the chunk (``bulk_update``'s CASE per field and row cost most of a
    registration's time): ``UPDATE … FROM unnest(arrays)`` on PostgreSQL, else executemany."""
    if not shipments:
        return
    columns = [[getattr(s, name) for s in shipments] for name in _STORED]
    ids = [s.pk for s in shipments]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            sets = ", ".join(f"{name} = v.{name}" for name in _STORED)
            arrays = ", ".join(f"%s::{kind}[]" for kind in _PG_TYPES)
            cursor.execute(
                f"UPDATE shipments_shipment AS s SET {sets} "  # noqa: S608 (our column names)
                f"FROM unnest(%s::bigint[], {arrays}) AS v(id, {', '.join(_STORED)}) "
                "WHERE s.id = v.id", [ids, *columns])
        else:
            sets = ", ".join(f"{name} = %s" for name in _STORED)
            adapt = connection.ops.adapt_datetimefield_value
            rows = [[adapt(v) if isinstance(v, datetime) else v for v in row] + [pk]
                    for pk, row in zip(ids, zip(*columns, strict=True), strict=True)]
            cursor.executemany(f"UPDATE shipments_shipment SET {sets} WHERE id = %s",  # noqa: S608
                               rows)


def _expects_number(shipment: Shipment) -> bool:
    """Whether the carrier will still give the parcel a number (asynchronous creation)."""
    try:
        cls = registry.adapter_class(shipment.carrier_code)
    except registry.UnknownCarrier:
        return False
    return cls.registration_check is not CarrierAdapter.registration_check


def _watch(ids: list[int], now: datetime) -> None:
    try:
        from shipdesk.tracking.polling import tracking_watch
    except ImportError:  # the tracking domain not installed
        return
    tracking_watch(shipment_ids=ids, now=now)


# --- the operator's actions ----------------------------------------------------------------

def _own(actor: Actor, shipment_id: int) -> Shipment:
    shipment = (Shipment.objects.select_for_update(of=("self",)).select_related("carrier_account")
                .filter(organization=actor.organization, pk=shipment_id).first())
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    return shipment


def registration_restart(shipment: Shipment) -> None:
    """Readies a shipment whose order was cancelled at its carrier for a new order: nothing
    to look up, and the number the carrier gave the old order goes with it (a registering
    carrier numbers its own parcels; it gives the new order a new number)."""
    shipment.carrier_order_id, shipment.registration_attempts = "", 0
    shipment.tracking_number = None
    if shipment.state == State.NUMBERED:
        shipment.state = State.READY


AT_CARRIER = frozenset({Registration.PENDING, Registration.REGISTERED})


def register_refusal(shipment: Shipment) -> str:
    """Why the shipment can't be sent to its carrier now ("" when it can): the one rule
    behind both :func:`shipment_register` and the shipment page's button."""
    if shipment.registration == Registration.REGISTERED:
        return _("Отправление уже зарегистрировано у перевозчика")
    if shipment.state not in (State.READY, State.NUMBERED):
        return _("Передать перевозчику можно только проверенное отправление, "
                 "не черновик и не отменённое")
    if shipment.registration == Registration.PENDING:
        return _("Отправление уже передаётся перевозчику")
    account = shipment.carrier_account
    if account is None or not account.is_active:
        return _("Выберите договор с перевозчиком для этого отправления")
    return ""


def carrier_cancel_refusal(shipment: Shipment) -> str:
    """Why the shipment's order can't be cancelled at its carrier ("" when it can): behind
    :func:`shipment_cancel_registration` and the page's button."""
    if shipment.state not in (State.READY, State.NUMBERED, State.IN_BATCH):
        return _("Отправление в состоянии «%(state)s» у перевозчика не отменяется") % {
            "state": State(shipment.state).label}
    if shipment.registration not in AT_CARRIER:
        return _("Отправление не зарегистрировано у перевозчика")
    return ""


def shipment_register(*, actor: Actor, shipment_id: int) -> Shipment:
    """Sends a shipment to its carrier now: again after the carrier refused it and the
    operator fixed it, or for the first time."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    with transaction.atomic():
        shipment = _own(actor, shipment_id)
        refusal = register_refusal(shipment)
        if refusal:
            raise Conflict(refusal)
        if shipment.registration == Registration.CANCELLED:
            registration_restart(shipment)
            shipment.save(update_fields=["carrier_order_id", "registration_attempts",
                                         "tracking_number", "state"])
        shipment.registration = Registration.PENDING
        shipment.register_due_at = registration_claimed_until()
        shipment.registration_error = ""
        shipment.save(update_fields=["registration", "register_due_at", "registration_error",
                                     "updated_at"])
        registration_dispatch([shipment.pk])
    return shipment


def shipment_cancel_at_carrier(*, shipment: Shipment) -> None:
    """Cancels the shipment's order at its carrier before it is cancelled here; a carrier
    that refuses (the parcel is already on its way) stops the cancellation with its words."""
    if shipment.registration in (Registration.NONE, Registration.CANCELLED,
                                 Registration.REJECTED) and not shipment.carrier_order_id:
        return
    if shipment.carrier_order_id and shipment.carrier_account is not None:
        adapter = registry.adapter_for_account(shipment.carrier_account)
        try:
            errors = adapter.cancel_parcels([shipment.carrier_order_id])
        except NotImplementedError:
            raise Conflict(_("Перевозчик не поддерживает отмену через API: отмените заказ в "
                             "его личном кабинете, затем здесь")) from None
        except CarrierError as exc:
            raise Conflict(_("Перевозчик не отменил заказ: %(m)s") % {"m": exc}) from exc
        if errors:
            raise Conflict(_("Перевозчик не отменил заказ: %(m)s") % {
                "m": "; ".join(e.message or e.code for e in errors)})
    Shipment.objects.filter(pk=shipment.pk).update(
        registration=Registration.CANCELLED, register_due_at=None, updated_at=timezone.now())
    shipment.registration = Registration.CANCELLED


def shipment_cancel_registration(*, actor: Actor, shipment_id: int) -> Shipment:
    """Cancels the shipment's order at its carrier and keeps the shipment here (to fix it
    and register it again, or to send it another way); a handed-over parcel is not."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    with transaction.atomic():
        shipment = _own(actor, shipment_id)
        refusal = carrier_cancel_refusal(shipment)
        if refusal:
            raise Conflict(refusal)
        shipment_cancel_at_carrier(shipment=shipment)
        ShipmentEvent.objects.create(
            shipment=shipment, from_state=shipment.state, to_state=shipment.state,
            user=actor.user if getattr(actor.user, "pk", None) else None, api_key=actor.api_key,
            reason=_("Заказ отменён у перевозчика"),
            data={"registration": Registration.CANCELLED})
    return shipment
