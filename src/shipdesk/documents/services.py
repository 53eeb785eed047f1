"""Batches and their documents (write side).

A batch holds NUMBERED shipments of one carrier (account), mail type and category, shipping
date and drop-off point. Shipment states change only through
``shipments.services.shipments_transition``: NUMBERED → IN_BATCH when added,
IN_BATCH → NUMBERED when removed, IN_BATCH → HANDED_OVER when the batch is closed.

Rendering (reportlab) and signing (pyHanko) are imported inside the functions that use them:
at module level they cost about a second on every process start (each web worker, beat),
and only the documents worker ever renders.
"""

from __future__ import annotations

import hashlib
import io
import logging
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.carriers.base import Capability, CarrierAdapter, CarrierError
from shipdesk.carriers.models import CarrierAccount
from shipdesk.core import crypto
from shipdesk.core.errors import Conflict, FieldError, NotFound, ServiceError, ValidationFailed
from shipdesk.documents import rules, selectors
from shipdesk.documents.models import (
    Batch,
    BatchEntry,
    BatchState,
    DocumentKind,
    DocumentStatus,
    GeneratedDocument,
    SigningCertificate,
)
from shipdesk.shipments.models import Shipment, State
from shipdesk.shipments.services import shipments_transition
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

log = logging.getLogger(__name__)

GroupKey = tuple[str, int | None, str, str, str]
# Labels above this count are drawn with a helper process computing QR codes ahead.
PARALLEL_LABELS_FROM = 500


# --- carrier hooks (tests replace ``_adapter_for``) --------------------------------------

def _adapter_for(account: CarrierAccount) -> CarrierAdapter:
    from shipdesk.carriers.registry import adapter_for_account

    return adapter_for_account(account)


def _batch_limit(account: CarrierAccount | None) -> int | None:
    """The carrier's most parcels per batch: the account's ``max_batch_size`` setting, else
    the adapter class's ``max_batch_size``; ``None`` = no limit."""
    if account is None:
        return None
    value = (account.settings or {}).get("max_batch_size")
    if value is None:
        try:
            from shipdesk.carriers.registry import adapter_class

            value = getattr(adapter_class(account.carrier_code), "max_batch_size", None)
        except Exception:  # an unknown carrier code: no limit known
            value = None
    return int(value) if value else None


# --- grouping ----------------------------------------------------------------------------

def drop_off_point_of(shipment: Shipment) -> str:
    """Where the parcel is handed over: the shipment's ``options.drop_off_point`` (a post
    office index or a courier's point code), else its sender's index."""
    point = (shipment.options or {}).get("drop_off_point")
    if point:
        return str(point)
    if shipment.sender is None:
        return ""
    return shipment.sender.drop_off_point or shipment.sender.index


def _key(shipment: Shipment) -> GroupKey:
    return (shipment.carrier_code, shipment.carrier_account_id, shipment.service_code,
            shipment.mail_category, drop_off_point_of(shipment))


def _batch_key(batch: Batch) -> GroupKey:
    return (batch.carrier_code, batch.carrier_account_id, batch.mail_type, batch.mail_category,
            batch.drop_off_point)


def _describe(key: GroupKey) -> str:
    """A batch's kind in words: «Почта России / Посылка онлайн / Обыкновенное / 101000»."""
    from shipdesk.carriers.names import carrier_name, mail_category_name, service_name

    carrier, _account, mail_type, category, point = key
    words = (carrier_name(carrier), service_name(mail_type, carrier_code=carrier),
             mail_category_name(category), point)
    return " / ".join(p for p in words if p) or "—"


def _lock_shipments(actor: Actor, shipment_ids: Sequence[int]) -> list[Shipment]:
    ids = list(dict.fromkeys(shipment_ids))
    if not ids:
        raise ValidationFailed(_("Не выбрано ни одного отправления"),
                               errors=[FieldError(loc=("shipment_ids",), code="required",
                                                  message=_("Выберите отправления"))])
    found = {s.pk: s for s in Shipment.objects.select_for_update(of=("self",))
             .select_related("sender", "carrier_account")
             .filter(organization=actor.organization, pk__in=ids)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(_("Отправление не найдено: %(ids)s") % {"ids": ", ".join(map(str, missing))})
    return [found[i] for i in ids]


def _check_numbered(shipments: list[Shipment]) -> None:
    errors = [FieldError(loc=("shipment_ids", n), code="invalid_state", message=_(
        "Отправление %(order)s в состоянии «%(state)s»: в партию можно добавить только "
        "отправления с присвоенным номером") % {"order": s.order_number,
                                                   "state": State(s.state).label})
        for n, s in enumerate(shipments) if s.state != State.NUMBERED or not s.tracking_number]
    if errors:
        raise ValidationFailed(_("Не все отправления можно добавить в партию"), errors=errors)


def _check_same_key(shipments: list[Shipment], key: GroupKey) -> None:
    errors = []
    for n, s in enumerate(shipments):
        other = _key(s)
        if other == key:
            continue
        if other[:2] != key[:2]:
            what = _("другой перевозчик или договор")
        elif other[2:4] != key[2:4]:
            what = _("другой вид или категория отправления")
        else:
            what = _("другое место сдачи")
        errors.append(FieldError(loc=("shipment_ids", n), code="mixed", message=_(
            "Отправление %(order)s не подходит к партии (%(batch)s): %(what)s (%(its)s)")
            % {"order": s.order_number, "batch": _describe(key), "what": what,
               "its": _describe(other)}))
    if errors:
        raise ValidationFailed(_("В одной партии — один перевозчик, вид и категория отправлений, "
                                 "дата и место сдачи"), errors=errors)


def _next_number(organization: Organization, year: int) -> int:
    # The organization row lock serialises numbering within one organization.
    Organization.objects.select_for_update().filter(pk=organization.pk).first()
    last = Batch.objects.filter(organization=organization, year=year).aggregate(m=Max("number"))
    return (last["m"] or 0) + 1


def _new_batch(actor: Actor, key: GroupKey, shipping_date: date,
               account: CarrierAccount | None) -> Batch:
    carrier, account_id, mail_type, category, point = key
    batch = Batch.objects.create(
        organization=actor.organization, year=shipping_date.year,
        number=_next_number(actor.organization, shipping_date.year), carrier_code=carrier,
        carrier_account_id=account_id, mail_type=mail_type, mail_category=category,
        shipping_date=shipping_date, drop_off_point=point)
    audit(actor, "batch.create", batch, number=batch.display_number)
    return batch


def _fill(actor: Actor, batch: Batch, shipments: list[Shipment], limit: int | None,
          account: CarrierAccount | None) -> list[Batch]:
    """Adds the shipments to ``batch``; what does not fit under the carrier's limit goes
    into new batches with the same key (split). Returns the batches that received parcels."""
    touched: list[Batch] = []
    remaining = list(shipments)
    current = batch
    while remaining:
        count = current.entries.count()
        room = len(remaining) if limit is None else max(limit - count, 0)
        if room == 0:
            current = _new_batch(actor, _batch_key(batch), batch.shipping_date, account)
            continue
        take, remaining = remaining[:room], remaining[room:]
        last = current.entries.aggregate(m=Max("position"))["m"] or 0
        BatchEntry.objects.bulk_create([BatchEntry(batch=current, shipment=s, position=last + n)
                                        for n, s in enumerate(take, 1)])
        touched.append(current)
    shipments_transition(actor=actor, shipment_ids=[s.pk for s in shipments],
                         to_state=State.IN_BATCH, reason=_("Добавлено в партию"))
    return touched


def _open_batch_for_update(actor: Actor, batch_id: int) -> Batch:
    batch = (Batch.objects.select_for_update(of=("self",)).select_related("carrier_account")
             .filter(organization=actor.organization, pk=batch_id).first())
    if batch is None:
        raise NotFound(_("Партия не найдена"))
    if batch.state != BatchState.OPEN:
        raise Conflict(_("Партия %(n)s уже передана перевозчику: её состав изменить нельзя")
                       % {"n": batch.display_number})
    return batch


@transaction.atomic
def batch_create(*, actor: Actor, shipment_ids: Sequence[int],
                 shipping_date: date | None = None) -> list[Batch]:
    """A batch from the chosen shipments, by hand. They must share carrier, mail type and
    category and drop-off point. Split into several when over the carrier's limit."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    shipments = _lock_shipments(actor, shipment_ids)
    _check_numbered(shipments)
    key = _key(shipments[0])
    _check_same_key(shipments, key)
    account = shipments[0].carrier_account
    batch = _new_batch(actor, key, shipping_date or timezone.localdate(), account)
    return _fill(actor, batch, shipments, _batch_limit(account), account)


@transaction.atomic
def batch_auto_group(*, actor: Actor, shipping_date: date | None = None,
                     shipment_ids: Sequence[int] | None = None) -> list[Batch]:
    """Puts every NUMBERED shipment of the organization (or those of ``shipment_ids`` the
    operator chose) into an open batch of its group (carrier, mail type + category,
    shipping date, drop-off point), creating batches as needed and splitting at the
    carrier's limit. Returns the batches that received parcels."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    day = shipping_date or timezone.localdate()
    if shipment_ids is not None:
        _check_numbered(_lock_shipments(actor, shipment_ids))
    query = (Shipment.objects.select_for_update(of=("self",))
             .select_related("sender", "carrier_account")
             .filter(organization=actor.organization, state=State.NUMBERED,
                     tracking_number__isnull=False, batch_entry__isnull=True))
    if shipment_ids is not None:
        query = query.filter(pk__in=list(shipment_ids))
    shipments = list(query.order_by("created_at", "pk"))
    groups: dict[GroupKey, list[Shipment]] = defaultdict(list)
    for s in shipments:
        groups[_key(s)].append(s)
    touched: list[Batch] = []
    for key, members in groups.items():
        account = members[0].carrier_account
        existing = (Batch.objects.select_for_update()
                    .filter(organization=actor.organization, state=BatchState.OPEN,
                            carrier_code=key[0], carrier_account_id=key[1], mail_type=key[2],
                            mail_category=key[3], drop_off_point=key[4], shipping_date=day)
                    .order_by("-number").first())
        batch = existing or _new_batch(actor, key, day, account)
        for b in _fill(actor, batch, members, _batch_limit(account), account):
            if b not in touched:
                touched.append(b)
    return touched


@dataclass(frozen=True)
class PlannedBatch:
    """One group of a batch forming preview: where its parcels would go and their totals."""

    key: GroupKey
    carrier: str
    mail_type: str
    mail_category: str
    drop_off_point: str
    count: int
    weight_g: int
    cod_total: Decimal
    declared_total: Decimal
    cost_total: Decimal
    joins: str  # the open batch they would join ("" = a new one)
    batches: int  # how many batches the carrier's limit makes of them


def batch_auto_group_preview(*, actor: Actor, shipment_ids: Sequence[int],
                             shipping_date: date | None = None) -> list[PlannedBatch]:
    """What ``batch_auto_group`` would do with the chosen shipments, nothing written: the
    groups, their counts and totals, and the open batch each would join. A shipment that
    cannot go into a batch is refused with its order number, as forming would."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    from shipdesk.documents import rules as form_rules

    ids = list(dict.fromkeys(shipment_ids))
    shipments = list(Shipment.objects.select_related("sender", "carrier_account")
                     .filter(organization=actor.organization, pk__in=ids).order_by("pk"))
    if len(shipments) != len(ids) or not ids:
        _lock_shipments(actor, ids)  # the same "not found" / "none chosen" errors
    _check_numbered(shipments)
    day = shipping_date or timezone.localdate()
    groups: dict[GroupKey, list[Shipment]] = defaultdict(list)
    for s in shipments:
        groups[_key(s)].append(s)
    plan = []
    for key, members in groups.items():
        existing = (Batch.objects.filter(organization=actor.organization, state=BatchState.OPEN,
                                         carrier_code=key[0], carrier_account_id=key[1],
                                         mail_type=key[2], mail_category=key[3],
                                         drop_off_point=key[4], shipping_date=day)
                    .order_by("-number").first())
        limit = _batch_limit(members[0].carrier_account)
        room_first = (len(members) if limit is None
                      else max(limit - (existing.entries.count() if existing else 0), 0))
        rest = max(len(members) - room_first, 0)
        extra = 0 if limit is None or not rest else -(-rest // limit)
        account = members[0].carrier_account
        plan.append(PlannedBatch(
            key=key, carrier=account.name if account else selectors.carrier_display_name(key[0]),
            mail_type=form_rules.mail_type_name(key[2], carrier_code=key[0]),
            mail_category=form_rules.mail_category_name(key[3]), drop_off_point=key[4],
            count=len(members), weight_g=sum(s.weight_g or 0 for s in members),
            cod_total=sum((s.cod_amount or Decimal(0) for s in members), Decimal(0)),
            declared_total=sum((s.declared_value or Decimal(0) for s in members), Decimal(0)),
            cost_total=sum((s.shipping_cost or Decimal(0) for s in members), Decimal(0)),
            joins=existing.display_number if existing and room_first else "",
            batches=(1 if room_first else 0) + extra))
    return plan


def batches_open_for(*, actor: Actor, shipment_id: int) -> list[Batch]:
    """The open batches a numbered shipment may join (same carrier, mail type, category and
    drop-off point), newest first."""
    actor.require(Perm.VIEW)
    shipment = (Shipment.objects.select_related("sender")
                .filter(organization=actor.organization, pk=shipment_id).first())
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    carrier, account_id, mail_type, category, point = _key(shipment)
    return list(Batch.objects.filter(
        organization=actor.organization, state=BatchState.OPEN, carrier_code=carrier,
        carrier_account_id=account_id, mail_type=mail_type, mail_category=category,
        drop_off_point=point).order_by("-shipping_date", "-number")[:20])


def shipment_add_to_batch(*, actor: Actor, shipment_id: int,
                          batch_id: int | None = None) -> Batch:
    """Puts one numbered shipment into the chosen open batch, or into a new one."""
    if batch_id is None:
        return batch_create(actor=actor, shipment_ids=[shipment_id])[0]
    return batch_add(actor=actor, batch_id=batch_id, shipment_ids=[shipment_id])[-1]


# Labels printed at once from the list or a shipment's page (a bigger print is a batch's).
LABELS_AT_ONCE = 2000


def shipment_labels_pdf(*, actor: Actor, shipment_ids: Sequence[int],
                        layout: str = "thermal") -> bytes:
    """The labels of the chosen numbered shipments as one PDF, drawn now (our layout, the
    same as in a batch's labels). A shipment without a tracking number has no label."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    from shipdesk.documents.rendering import labels

    ids = list(dict.fromkeys(shipment_ids))
    if len(ids) > LABELS_AT_ONCE:
        raise ValidationFailed(_("За раз печатается не больше %(n)d ярлыков: сформируйте партию")
                               % {"n": LABELS_AT_ONCE})
    found = {s.pk: s for s in Shipment.objects.select_related("sender", "carrier_account")
             .filter(organization=actor.organization, pk__in=ids)}
    if not ids or len(found) != len(ids):
        _lock_shipments(actor, ids)  # the same "not found" / "none chosen" errors
    shipments = [found[i] for i in ids]
    errors = [FieldError(loc=("shipment_ids", n), code="no_number", message=_(
        "У отправления %(order)s нет трек-номера: ярлык печатается после присвоения номера")
        % {"order": s.order_number}) for n, s in enumerate(shipments)
        if not s.tracking_number or s.state == State.CANCELLED]
    if errors:
        raise ValidationFailed(_("Не для всех отправлений можно напечатать ярлык"), errors=errors)
    buffer = io.BytesIO()
    labels.render_labels(selectors.shipments_label_data(shipments, actor.organization), buffer,
                         layout=layout)
    return buffer.getvalue()


@transaction.atomic
def batch_add(*, actor: Actor, batch_id: int, shipment_ids: Sequence[int]) -> list[Batch]:
    actor.require(Perm.MANAGE_SHIPMENTS)
    batch = _open_batch_for_update(actor, batch_id)
    shipments = _lock_shipments(actor, shipment_ids)
    _check_numbered(shipments)
    _check_same_key(shipments, _batch_key(batch))
    return _fill(actor, batch, shipments, _batch_limit(batch.carrier_account),
                 batch.carrier_account)


def _entries_of(batch: Batch, shipment_ids: Sequence[int]) -> list[BatchEntry]:
    ids = list(dict.fromkeys(shipment_ids))
    entries = list(BatchEntry.objects.filter(batch=batch, shipment_id__in=ids))
    if len(entries) != len(ids):
        found = {e.shipment_id for e in entries}
        raise ValidationFailed(_("Не все отправления есть в партии %(n)s")
                               % {"n": batch.display_number},
                               errors=[FieldError(loc=("shipment_ids", n), code="not_in_batch",
                                                  message=_("Отправления нет в этой партии"))
                                       for n, i in enumerate(ids) if i not in found])
    return entries


@transaction.atomic
def batch_remove(*, actor: Actor, batch_id: int, shipment_ids: Sequence[int]) -> Batch:
    """Takes shipments out of an open batch; they are NUMBERED again."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    batch = _open_batch_for_update(actor, batch_id)
    entries = _entries_of(batch, shipment_ids)
    BatchEntry.objects.filter(pk__in=[e.pk for e in entries]).delete()
    shipments_transition(actor=actor, shipment_ids=[e.shipment_id for e in entries],
                         to_state=State.NUMBERED, reason=_("Убрано из партии"))
    return batch


@transaction.atomic
def batch_move(*, actor: Actor, batch_id: int, to_batch_id: int,
               shipment_ids: Sequence[int]) -> Batch:
    """Moves shipments between two open batches of the same group (they stay IN_BATCH)."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    source = _open_batch_for_update(actor, batch_id)
    target = _open_batch_for_update(actor, to_batch_id)
    if _batch_key(source) != _batch_key(target):
        raise ValidationFailed(_("Партии %(a)s и %(b)s разных перевозчиков, видов или мест сдачи")
                               % {"a": source.display_number, "b": target.display_number},
                               errors=[FieldError(loc=("to_batch_id",), code="mixed", message=_(
                                   "Перенести можно только в партию того же перевозчика, вида, "
                                   "категории и места сдачи"))])
    entries = _entries_of(source, shipment_ids)
    limit = _batch_limit(source.carrier_account)
    if limit is not None and target.entries.count() + len(entries) > limit:
        raise Conflict(_("В партии %(n)s не больше %(limit)d отправлений")
                       % {"n": target.display_number, "limit": limit})
    last = target.entries.aggregate(m=Max("position"))["m"] or 0
    for n, entry in enumerate(entries, 1):
        entry.batch = target
        entry.position = last + n
    BatchEntry.objects.bulk_update(entries, ["batch", "position"])
    return target


@transaction.atomic
def batch_delete(*, actor: Actor, batch_id: int) -> None:
    """Deletes an open batch; its shipments are NUMBERED again."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    batch = _open_batch_for_update(actor, batch_id)
    ids = list(batch.entries.values_list("shipment_id", flat=True))
    batch.delete()
    if ids:
        shipments_transition(actor=actor, shipment_ids=ids, to_state=State.NUMBERED,
                             reason=_("Партия удалена"))


def batch_close(*, actor: Actor, batch_id: int) -> Batch:
    """Hands the batch over: through the carrier when its adapter has batches
    (``create_batch`` then ``close_batch``), else locally. Afterwards the parcels are
    HANDED_OVER and the batch's documents are frozen."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    with transaction.atomic():
        batch = _open_batch_for_update(actor, batch_id)
        shipments = list(selectors.batch_shipments(batch))
        if not shipments:
            raise ValidationFailed(_("Партия %(n)s пуста") % {"n": batch.display_number})
        account = batch.carrier_account
        carrier_batch_id = ""
        if account is not None:
            adapter = _adapter_for(account)
            if Capability.BATCHES in adapter.capabilities:
                carrier_batch_id = _close_at_carrier(adapter, batch, shipments)
        batch.state = BatchState.CLOSED
        batch.closed_at = timezone.now()
        batch.carrier_batch_id = carrier_batch_id
        batch.save(update_fields=["state", "closed_at", "carrier_batch_id", "updated_at"])
        shipments_transition(actor=actor, shipment_ids=[s.pk for s in shipments],
                             to_state=State.HANDED_OVER,
                             reason=_("Партия %(n)s передана") % {"n": batch.display_number})
        # the statistics count the hand-over now, not when the carrier's first scan comes
        from shipdesk.analytics.services import rollups_batch_handed_over

        rollups_batch_handed_over(shipments=shipments)
        # Documents made from the data as it was handed over stay as they are.
        GeneratedDocument.objects.filter(batch=batch, status=DocumentStatus.DONE).update(
            frozen=True)
        transaction.on_commit(partial(_poll_after_hand_over, [s.pk for s in shipments]))
        audit(actor, "batch.close", batch, carrier_batch_id=carrier_batch_id)
    return batch


# The carrier's first events (acceptance) are asked for this long after the hand-over.
FIRST_POLL_AFTER_HAND_OVER = timedelta(minutes=30)


def _poll_after_hand_over(shipment_ids: list[int]) -> None:
    try:
        from shipdesk.tracking.polling import tracking_poll_soon
    except ImportError:  # the tracking domain not installed
        return
    tracking_poll_soon(shipment_ids=shipment_ids,
                       at=timezone.now() + FIRST_POLL_AFTER_HAND_OVER)


def _checked_in_already(batch: Batch) -> set[str]:
    """The carrier batches an earlier hand-over of this account checked in (one carrier
    batch may hold the parcels of several of our batches)."""
    joined = (Batch.objects.filter(organization_id=batch.organization_id,
                                   carrier_account_id=batch.carrier_account_id,
                                   state=BatchState.CLOSED)
              .exclude(carrier_batch_id="").values_list("carrier_batch_id", flat=True))
    return {name for value in joined for name in value.split(",") if name}


def _close_at_carrier(adapter: CarrierAdapter, batch: Batch, shipments: list[Shipment]) -> str:
    missing = [FieldError(loc=("shipments", s.order_number, "carrier_order_id"), code="required",
                          message=_("Отправление %(order)s не создано у перевозчика")
                          % {"order": s.order_number})
               for s in shipments if not s.carrier_order_id]
    if missing:
        raise ValidationFailed(_("Не все отправления партии созданы у перевозчика"), errors=missing)
    made = [s.carrier_batch_id for s in shipments if s.carrier_batch_id]
    if made:
        # the parcels entered the carrier's batches at registration (where they got their
        # numbers): the hand-over checks those in
        if len(made) != len(shipments):
            raise ValidationFailed(_("Часть отправлений партии ещё не в партии перевозчика"),
                                   errors=[FieldError(loc=("shipments", s.order_number),
                                                      code="not_batched", message=_(
                                                          "Отправление ещё не зарегистрировано "
                                                          "полностью")) for s in shipments
                                           if not s.carrier_batch_id])
        names = ",".join(dict.fromkeys(n for joined in made for n in joined.split(",") if n))
        done = _checked_in_already(batch)
        try:
            if any(name not in done for name in names.split(",")):
                adapter.close_batch(",".join(n for n in names.split(",") if n not in done))
        except CarrierError as exc:
            raise Conflict(_("Перевозчик отказал: %(msg)s") % {"msg": str(exc)}) from exc
        return names[:64]
    try:
        result = adapter.create_batch([s.carrier_order_id for s in shipments],
                                      shipping_date=batch.shipping_date)
        if result.errors:
            by_ref = {s.carrier_order_id: s.order_number for s in shipments}
            raise ValidationFailed(_("Перевозчик не принял партию"), errors=[
                FieldError(loc=("shipments", by_ref.get(e.reference, e.reference)),
                           code=e.code or "carrier", message=e.message) for e in result.errors])
        adapter.close_batch(result.batch_id)
    except CarrierError as exc:
        raise Conflict(_("Перевозчик отказал: %(msg)s") % {"msg": str(exc)}) from exc
    # The carrier may assign its own numbers when parcels enter a batch; ours are on the
    # labels, so a difference must be seen (the shipments domain owns the numbers).
    mismatched = {s.order_number: result.tracking_numbers[s.carrier_order_id]
                  for s in shipments
                  if result.tracking_numbers.get(s.carrier_order_id, s.tracking_number)
                  != s.tracking_number}
    if mismatched:
        log.warning("batch %s: carrier numbers differ from ours: %s", batch.pk, mismatched)
        audit(_system_actor(batch.organization), "batch.carrier_numbers_differ", batch,
              numbers=mismatched)
    return result.batch_id


# --- certificates ------------------------------------------------------------------------

def certificate_upload(*, actor: Actor, name: str, pkcs12_data: bytes,
                       password: str) -> SigningCertificate:
    """Stores an organization's PKCS#12 after checking it opens and is valid now."""
    from shipdesk.documents.signing import CertificateInvalid, inspect_pkcs12

    actor.require(Perm.MANAGE_SETTINGS)
    try:
        info = inspect_pkcs12(pkcs12_data, password, now=timezone.now())
    except CertificateInvalid as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(loc=("certificate",),
                                                            message=str(exc))]) from exc
    return _store_certificate(actor, name, pkcs12_data, password, info, is_demo=False)


def certificate_create_demo(*, actor: Actor) -> SigningCertificate:
    """A self-signed demonstration certificate (embedded mode and sandboxes)."""
    from shipdesk.documents.signing import demo_pkcs12, inspect_pkcs12

    actor.require(Perm.MANAGE_SETTINGS)
    password = hashlib.sha256(f"{actor.organization_id}-{timezone.now()}".encode()).hexdigest()
    now = timezone.now()
    data = demo_pkcs12(organization_name=actor.organization.name, password=password, now=now)
    info = inspect_pkcs12(data, password, now=now)
    return _store_certificate(actor, _("Демонстрационный сертификат"), data, password, info,
                              is_demo=True)


@transaction.atomic
def _store_certificate(actor: Actor, name: str, data: bytes, password: str, info: Any,
                       *, is_demo: bool) -> SigningCertificate:
    SigningCertificate.objects.filter(organization=actor.organization, is_active=True).update(
        is_active=False)
    cert = SigningCertificate.objects.create(
        organization=actor.organization, name=name, pkcs12=data,
        password_encrypted=crypto.encrypt(password), subject=info.subject,
        not_before=info.not_before, not_after=info.not_after, is_demo=is_demo, is_active=True)
    audit(actor, "certificate.store", cert, subject=info.subject, demo=is_demo)
    return cert


def _active_certificate(actor: Actor) -> SigningCertificate:
    cert = SigningCertificate.objects.filter(organization=actor.organization,
                                             is_active=True).order_by("-pk").first()
    if cert is None and settings.SHIPDESK_MODE == "embedded":
        cert = certificate_create_demo(actor=actor)
    if cert is None:
        raise ValidationFailed(_("Для электронного реестра загрузите сертификат подписи (PKCS#12)"),
                               errors=[FieldError(loc=("certificate",), code="required",
                                                  message=_("Сертификат не загружен"))])
    if cert.not_after and cert.not_after < timezone.now():
        raise ValidationFailed(_("Срок действия сертификата «%(name)s» истёк %(d)s")
                               % {"name": cert.name, "d": f"{cert.not_after:%d.%m.%Y}"},
                               errors=[FieldError(loc=("certificate",), code="expired",
                                                  message=_("Сертификат просрочен"))])
    return cert


# --- documents ---------------------------------------------------------------------------

_FILES: dict[str, tuple[str, str]] = {
    DocumentKind.LABELS_THERMAL: ("labels-100x150.pdf", "application/pdf"),
    DocumentKind.LABELS_A4: ("labels-a4.pdf", "application/pdf"),
    DocumentKind.F103_PDF: ("f103.pdf", "application/pdf"),
    DocumentKind.F103_XLSX: ("f103.xlsx",
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    DocumentKind.F103_SIGNED: ("f103-signed.pdf", "application/pdf"),
    DocumentKind.CUSTOMS: ("customs.pdf", "application/pdf"),
    DocumentKind.COD_TRANSFER: ("f112ep.pdf", "application/pdf"),
    DocumentKind.INVENTORY: ("f107.pdf", "application/pdf"),
    DocumentKind.BATCH_PRINT: ("batch.pdf", "application/pdf"),
    DocumentKind.HANDOVER_ACT: ("act.pdf", "application/pdf"),
}


RETRY_AFTER = timedelta(minutes=15)


def _fingerprint(batch: Batch, kind: str, cert: SigningCertificate | None = None) -> str:
    extra = kind if cert is None else f"{kind}|cert:{cert.pk}"
    return selectors.batch_fingerprint(batch, extra=extra)


@transaction.atomic
def document_request(*, actor: Actor, batch_id: int, kind: str) -> GeneratedDocument:
    """Asks for a document of the batch. Returns the stored one when it is still current
    (or frozen after hand-over); otherwise (re)generates it in the background, queue
    "documents", and returns it pending."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    if kind not in DocumentKind.values:
        raise ValidationFailed(_("Неизвестный вид документа «%(kind)s»") % {"kind": kind},
                               errors=[FieldError(loc=("kind",), message=_("Неизвестный вид"))])
    batch = Batch.objects.filter(organization=actor.organization, pk=batch_id).first()
    if batch is None:
        raise NotFound(_("Партия не найдена"))
    if not batch.entries.exists():
        raise ValidationFailed(_("Партия %(n)s пуста") % {"n": batch.display_number})
    _check_kind_applies(batch, kind)
    doc, _created = GeneratedDocument.objects.select_for_update().get_or_create(
        batch=batch, kind=kind, defaults={"organization": actor.organization})
    if doc.frozen and doc.status == DocumentStatus.DONE:
        return doc
    cert = _active_certificate(actor) if kind == DocumentKind.F103_SIGNED else None
    fingerprint = _fingerprint(batch, kind, cert)
    if doc.data_fingerprint == fingerprint and doc.status != DocumentStatus.FAILED:
        return doc  # current, or being made from the same data
    doc.status = DocumentStatus.PENDING
    doc.progress = 0
    doc.error = ""
    doc.data_fingerprint = fingerprint
    doc.attempt += 1
    doc.retry_at = timezone.now() + RETRY_AFTER
    doc.save(update_fields=["status", "progress", "error", "data_fingerprint", "attempt",
                            "retry_at", "updated_at"])
    from shipdesk.documents.tasks import generate_document

    doc_id, attempt = doc.pk, doc.attempt
    transaction.on_commit(lambda: generate_document.delay(doc_id, attempt))
    return doc


def batch_document_kinds(batch: Batch) -> list[tuple[str, str]]:
    """(kind, name) of the documents this batch's carrier uses (``rules.document_kinds``)."""
    kinds = rules.document_kinds(batch.carrier_code)
    return [(value, str(label)) for value, label in DocumentKind.choices if value in kinds]


def _check_kind_applies(batch: Batch, kind: str) -> None:
    """Russian Post's forms (F103, F112EP, F107, CN22/CN23) are never made for another
    carrier's batch, nor a hand-over act for Russian Post's."""
    allowed = batch_document_kinds(batch)
    if kind in dict(allowed):
        return
    carrier = selectors.carrier_display_name(batch.carrier_code) or _("без перевозчика")
    raise ValidationFailed(
        _("«%(kind)s» не составляется для партии %(n)s перевозчика «%(carrier)s». "
          "Для неё: %(allowed)s") % {"kind": DocumentKind(kind).label,
                                     "n": batch.display_number, "carrier": carrier,
                                     "allowed": "; ".join(name for _v, name in allowed)},
        errors=[FieldError(loc=("kind",), code="not_for_carrier",
                           message=_("Этот документ — не для этого перевозчика"))])


# How many orders one print request of a carrier asks for (CDEK prints up to 100).
CARRIER_PRINT_CHUNK = 100


def _carrier_labels(batch: Batch) -> tuple[bytes, set[int]] | None:
    """The carrier's own label print form of the batch's registered parcels, when its form
    set prints through the carrier and its adapter can (``Capability.LABELS``): the PDF and
    the ids of the shipments it covers. ``None`` when ours are drawn for all."""
    orders = selectors.carrier_label_orders(batch)
    if not orders or batch.carrier_account is None:
        return None
    adapter = _adapter_for(batch.carrier_account)
    if Capability.LABELS not in adapter.capabilities:
        return None
    ids = [order for _pk, order in orders]
    parts: list[bytes] = []
    try:
        for start in range(0, len(ids), CARRIER_PRINT_CHUNK):
            parts.append(adapter.labels(ids[start:start + CARRIER_PRINT_CHUNK]).content)
    except NotImplementedError:
        return None
    except CarrierError as exc:
        raise Conflict(_("%(carrier)s не выдал ярлыки для партии %(n)s: %(error)s")
                       % {"carrier": adapter.name, "n": batch.display_number,
                          "error": str(exc)}) from exc
    return _merge_pdfs(parts), {pk for pk, _order in orders}


def _carrier_registry(batch: Batch) -> bytes:
    """The carrier's own registry of a batch handed over through it (``carrier_batch_id``,
    ``Capability.BATCHES``: PickPoint's ``getreestr``), to go with our act; b"" when none."""
    if not batch.carrier_batch_id or batch.carrier_account is None:
        return b""
    adapter = _adapter_for(batch.carrier_account)
    if Capability.BATCHES not in adapter.capabilities:
        return b""
    try:
        return adapter.batch_documents(batch.carrier_batch_id).content
    except NotImplementedError:
        return b""
    except CarrierError as exc:
        raise Conflict(_("%(carrier)s не выдал реестр партии %(n)s: %(error)s")
                       % {"carrier": adapter.name, "n": batch.display_number,
                          "error": str(exc)}) from exc


def _merge_pdfs(parts: Sequence[bytes], out: Any = None) -> bytes:
    """The pages of ``parts`` in order, as one PDF (written to ``out`` when given)."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(io.BytesIO(part))
    target = out if out is not None else io.BytesIO()
    writer.write(target)
    writer.close()
    return target.getvalue() if out is None else b""


def _our_labels(batch: Batch, skip: set[int], layout: str,
                progress: Callable[[int], None] | None = None, workers: int = 1) -> bytes:
    """Our labels of the parcels the carrier does not print (b"" when there are none)."""
    from shipdesk.documents.rendering import labels

    buffer = io.BytesIO()
    count = labels.render_labels(selectors.iter_label_data(batch, skip=skip), buffer,
                                 layout=layout, progress=progress, workers=workers)
    return buffer.getvalue() if count else b""


def _render_labels(batch: Batch, out: Any, layout: str, progress: Callable[[int], None],
                   workers: int) -> None:
    from shipdesk.documents.rendering import labels

    carrier = _carrier_labels(batch)
    if carrier is None:
        labels.render_labels(selectors.iter_label_data(batch), out, layout=layout,
                             progress=progress, workers=workers)
        return
    pdf, covered = carrier
    ours = _our_labels(batch, covered, layout, progress, workers)
    _merge_pdfs([p for p in (pdf, ours) if p], out)


def _render_batch_print(batch: Batch, out: Any, progress: Callable[[int], None],
                        workers: int) -> None:
    """One PDF in the operator's order. With the carrier's own labels: the act (or F103),
    the carrier's labels, ours for the parcels it did not print, then the forms."""
    from shipdesk.documents.rendering import bundle
    from shipdesk.documents.rendering.data import BatchPrintData

    carrier = _carrier_labels(batch) if rules.forms_for(batch.carrier_code).carrier_labels \
        else None
    if carrier is None:
        bundle.render_batch(selectors.batch_print_data(batch), out, progress=progress,
                            workers=workers)
        return
    pdf, covered = carrier
    data = selectors.batch_print_data(batch, skip_labels=covered)
    head, tail = io.BytesIO(), io.BytesIO()
    bundle.render_batch(BatchPrintData(registry=data.registry, labels=(), act=data.act), head)
    parts = [head.getvalue(), pdf, _our_labels(batch, covered, "a4", progress, workers)]
    if any(f.customs or f.cod_transfer or f.inventory for f in data.forms):
        bundle.render_batch(BatchPrintData(registry=None, labels=(), forms=data.forms), tail)
        parts.append(tail.getvalue())
    _merge_pdfs([p for p in parts if p], out)


def _set_progress(doc_id: int, total: int) -> Callable[[int], None]:
    def progress(done: int) -> None:
        GeneratedDocument.objects.filter(pk=doc_id).update(
            progress=min(99, int(done * 100 / max(total, 1))))
    return progress


def _render(doc: GeneratedDocument, out: Any) -> None:
    from shipdesk.documents.rendering import act, registry
    from shipdesk.documents.signing import CertificateInvalid, inspect_pkcs12, sign_pdf

    batch = doc.batch
    kind = doc.kind
    _check_kind_applies(batch, kind)
    count = batch.entries.count()
    progress = _set_progress(doc.pk, count)
    workers = 2 if count >= PARALLEL_LABELS_FROM else 1
    if kind in (DocumentKind.LABELS_THERMAL, DocumentKind.LABELS_A4):
        _render_labels(batch, out, "thermal" if kind == DocumentKind.LABELS_THERMAL else "a4",
                       progress, workers)
    elif kind == DocumentKind.HANDOVER_ACT:
        ours = act.render_act_pdf(selectors.act_data(batch))
        theirs = _carrier_registry(batch)
        if theirs:
            _merge_pdfs([ours, theirs], out)
        else:
            out.write(ours)
    elif kind == DocumentKind.F103_PDF:
        registry.render_registry_pdf(selectors.registry_data(batch), out)
    elif kind == DocumentKind.F103_XLSX:
        out.write(registry.render_registry_xlsx(selectors.registry_data(batch)))
    elif kind == DocumentKind.F103_SIGNED:
        actor = _system_actor(batch.organization)
        cert = _active_certificate(actor)
        pdf = registry.render_registry_pdf(selectors.registry_data(batch))
        try:
            inspect_pkcs12(bytes(cert.pkcs12), crypto.decrypt(cert.password_encrypted),
                           now=timezone.now())
        except CertificateInvalid as exc:
            raise ValidationFailed(str(exc)) from exc
        out.write(sign_pdf(pdf, pkcs12_data=bytes(cert.pkcs12),
                           password=crypto.decrypt(cert.password_encrypted),
                           reason=_("Список ф.103 № %(n)s") % {"n": batch.display_number}))
    elif kind == DocumentKind.BATCH_PRINT:
        _render_batch_print(batch, out, progress, workers)
    else:
        _render_forms(batch, kind, out)


def _render_forms(batch: Batch, kind: str, out: Any) -> None:
    from shipdesk.documents.rendering import forms

    parcel_forms = selectors.batch_forms(batch)
    canvas = forms.new_canvas(out, forms.A4, str(DocumentKind(kind).label))
    drawn = 0
    for pf in parcel_forms:
        if kind == DocumentKind.CUSTOMS and pf.customs is not None:
            forms.draw_customs(canvas, pf.customs)
        elif kind == DocumentKind.COD_TRANSFER and pf.cod_transfer is not None:
            forms.draw_cod_transfer(canvas, pf.cod_transfer)
        elif kind == DocumentKind.INVENTORY and pf.inventory is not None:
            forms.draw_inventory(canvas, pf.inventory)
        else:
            continue
        drawn += 1
    if not drawn:
        raise ValidationFailed(_("В партии %(n)s нет отправлений, которым нужен этот документ")
                               % {"n": batch.display_number})
    canvas.save()


def _system_actor(organization: Organization) -> Actor:
    from shipdesk.tenancy.services import system_actor

    return system_actor(organization)


def document_generate(*, document_id: int, attempt: int) -> GeneratedDocument | None:
    """Makes the document's file (the background task's work). Idempotent: a stale attempt
    or an already finished document is left alone. The file is stored only when complete;
    on a problem the document is FAILED with the reason and keeps no file."""
    from shipdesk.documents.rendering.layout import TextDoesNotFit
    from shipdesk.documents.signing import CertificateInvalid

    with transaction.atomic():
        doc = (GeneratedDocument.objects.select_for_update(of=("self",))
               .select_related("batch__organization")
               .filter(pk=document_id).first())
        if doc is None or doc.attempt != attempt or doc.status not in (
                DocumentStatus.PENDING, DocumentStatus.RUNNING):
            return doc
        doc.status = DocumentStatus.RUNNING
        doc.save(update_fields=["status", "updated_at"])
    filename, content_type = _FILES[doc.kind]
    try:
        with tempfile.SpooledTemporaryFile(max_size=32 * 1024 * 1024) as out:
            _render(doc, out)
            out.seek(0)
            digest = hashlib.sha256()
            for chunk in iter(lambda: out.read(1 << 20), b""):
                digest.update(chunk)
            size = out.tell()
            out.seek(0)
            name = (f"documents/{doc.organization_id}/{doc.batch_id}/"
                    f"{doc.kind}-{digest.hexdigest()[:16]}-{filename}")
            stored = default_storage.save(name, File(out, name=filename))
    except (ServiceError, TextDoesNotFit, CertificateInvalid) as exc:
        message = _describe_error(exc)
        GeneratedDocument.objects.filter(pk=doc.pk, attempt=attempt).update(
            status=DocumentStatus.FAILED, error=message, progress=0, retry_at=None,
            updated_at=timezone.now())
        log.info("document %s failed: %s", doc.pk, message)
        return GeneratedDocument.objects.get(pk=doc.pk)
    except Exception:
        GeneratedDocument.objects.filter(pk=doc.pk, attempt=attempt).update(
            status=DocumentStatus.FAILED, error=_("Внутренняя ошибка при формировании документа"),
            progress=0, retry_at=None, updated_at=timezone.now())
        raise
    with transaction.atomic():
        current = GeneratedDocument.objects.select_for_update().get(pk=doc.pk)
        if current.attempt != attempt:  # a newer request superseded this one
            default_storage.delete(stored)
            return current
        old = current.file.name if current.file else ""
        current.file.name = stored
        current.filename = f"{current.batch.display_number.replace('/', '-')}-{filename}"
        current.content_type = content_type
        current.size = size
        current.content_hash = digest.hexdigest()
        current.status = DocumentStatus.DONE
        current.progress = 100
        current.generated_at = timezone.now()
        current.frozen = current.batch.state == BatchState.CLOSED
        current.retry_at = None
        current.save()
        if old and old != stored:
            transaction.on_commit(lambda: default_storage.delete(old))
    return current


def _describe_error(exc: Exception) -> str:
    from shipdesk.documents.rendering.layout import TextDoesNotFit

    if isinstance(exc, TextDoesNotFit):
        return _("Текст не помещается в поле «%(block)s» даже мелким шрифтом: «%(text)s». "
                 "Сократите его.") % {"block": exc.block, "text": exc.text[:200]}
    if isinstance(exc, ServiceError):
        parts = [str(exc.detail)] + [f"{'.'.join(map(str, e.loc))}: {e.message}"
                                     for e in exc.errors]
        return "\n".join(parts)
    return str(exc)


def document_open(*, actor: Actor, document_id: int) -> tuple[Any, str, str]:
    """The finished document's file (to download), its file name and content type."""
    doc = selectors.document_get(actor=actor, document_id=document_id)
    if doc.status != DocumentStatus.DONE or not doc.file:
        raise Conflict(_("Документ ещё не готов (%(status)s)")
                       % {"status": DocumentStatus(doc.status).label})
    return default_storage.open(str(doc.file.name), "rb"), doc.filename, doc.content_type


def document_is_stale(doc: GeneratedDocument) -> bool:
    """A finished, not frozen document made from data that has changed since."""
    if doc.frozen or doc.status != DocumentStatus.DONE:
        return False
    cert = None
    if doc.kind == DocumentKind.F103_SIGNED:
        cert = SigningCertificate.objects.filter(organization_id=doc.organization_id,
                                                 is_active=True).order_by("-pk").first()
    return _fingerprint(doc.batch, doc.kind, cert) != doc.data_fingerprint


def document_retry(*, document_id: int) -> GeneratedDocument | None:
    """Runs a requested generation again (a lost or crashed task): same attempt number."""
    doc = GeneratedDocument.objects.filter(pk=document_id).first()
    if doc is None or doc.status not in (DocumentStatus.PENDING, DocumentStatus.RUNNING):
        if doc is not None and doc.retry_at is not None:
            GeneratedDocument.objects.filter(pk=doc.pk).update(retry_at=None)
        return doc
    return document_generate(document_id=doc.pk, attempt=doc.attempt)
