"""Ordering a courier from the carrier to collect a batch at the sender's address (CDEK's
courier pick-up request, ``/v2/intakes``): the request, its state as the carrier reports
it, and its cancellation. The carrier's refusal is shown in its own words; nothing is
stored for a request the carrier did not accept."""

from __future__ import annotations

import re
from datetime import date

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.carriers.base import Address, Capability, CarrierError, CourierPickupRequest, Party
from shipdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from shipdesk.documents import selectors, services
from shipdesk.documents.models import Batch, CourierPickup
from shipdesk.shipments.models import SenderProfile
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
# The carrier's states after which the request no longer stands.
FINISHED_STATES = frozenset({"REMOVED", "INVALID", "DONE"})


def courier_supported(batch: Batch) -> bool:
    """Whether the batch's carrier takes courier requests through its API."""
    if batch.carrier_account is None:
        return False
    from shipdesk.carriers.registry import UnknownCarrier, adapter_class

    try:
        return Capability.COURIER_PICKUP in adapter_class(batch.carrier_account.carrier_code).capabilities
    except UnknownCarrier:
        return False


def courier_pickups(batch: Batch) -> QuerySet[CourierPickup]:
    return CourierPickup.objects.filter(batch=batch, organization=batch.organization)


def _sender_of(batch: Batch) -> SenderProfile:
    """The address the courier comes to: the batch's parcels' sender, else the
    organization's default sender address."""
    sender = next((s.sender for s in selectors.batch_shipments(batch) if s.sender is not None), None)
    sender = sender or SenderProfile.objects.filter(organization=batch.organization,
                                                    is_default=True).first()
    if sender is None:
        raise ValidationFailed(_("Нет адреса отправителя: курьеру некуда приехать"), errors=[
            FieldError(("sender",), _("Добавьте адрес отправителя в настройках"))])
    return sender


def _party(sender: SenderProfile, batch: Batch) -> Party:
    org = batch.organization
    return Party(
        name=sender.contact_name or sender.company or org.legal_name or org.name,
        company=sender.company or org.legal_name or org.name,
        phone=sender.phone or org.phone,
        email=sender.email,
        address=Address(index=sender.index, region=sender.region, district=sender.district,
                        city=sender.city, street=sender.street, house=sender.house,
                        building=sender.building, apartment=sender.apartment))


def _address_line(sender: SenderProfile) -> str:
    return ", ".join(p for p in (sender.index, sender.city, sender.street, sender.house,
                                 sender.building, sender.apartment) if p)


def _check_window(day: date, time_from: str, time_to: str) -> None:
    errors = []
    if day < timezone.localdate():
        errors.append(FieldError(("day",), _("Дата уже прошла")))
    for name, value in (("time_from", time_from), ("time_to", time_to)):
        if not TIME_RE.match(value):
            errors.append(FieldError((name,), _("Время в виде ЧЧ:ММ, например 10:00")))
    if not errors and time_from >= time_to:
        errors.append(FieldError(("time_to",), _("Конец интервала раньше начала")))
    if errors:
        raise ValidationFailed(_("Неверные дата или время вызова курьера"), errors=errors)


def courier_order(*, actor: Actor, batch_id: int, day: date, time_from: str, time_to: str,
                  comment: str = "") -> CourierPickup:
    """Orders a courier for the batch: the date and time window given, the address and
    contact of the sender, the batch's parcels' weight as the cargo."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    batch = selectors.batch_get(actor=actor, batch_id=batch_id)
    if not courier_supported(batch):
        raise ValidationFailed(_("Перевозчик этой партии не принимает вызов курьера через API"))
    _check_window(day, time_from, time_to)
    standing = courier_pickups(batch).exclude(state__in=FINISHED_STATES).first()
    if standing is not None:
        raise Conflict(_("Курьер для партии уже вызван: заявка %(n)s на %(d)s") % {
            "n": standing.number or standing.carrier_id, "d": standing.day.strftime("%d.%m.%Y")})
    shipments = list(selectors.batch_shipments(batch))
    if not shipments:
        raise ValidationFailed(_("Партия %(n)s пуста") % {"n": batch.display_number})
    sender = _sender_of(batch)
    request = CourierPickupRequest(
        day=day, time_from=time_from, time_to=time_to, sender=_party(sender, batch),
        cargo=_("Партия %(n)s: отправлений %(c)s") % {"n": batch.display_number, "c": len(shipments)},
        weight_g=sum(s.weight_g or 0 for s in shipments), comment=comment)
    assert batch.carrier_account is not None  # courier_supported
    try:
        with services._adapter_for(batch.carrier_account) as adapter:
            answer = adapter.courier_pickup_create(request)
    except CarrierError as exc:
        if exc.transient:
            raise Conflict(_("Перевозчик недоступен, повторите позже: %(m)s") % {"m": str(exc)}) from exc
        raise ValidationFailed(_("Перевозчик отказал: %(m)s") % {"m": str(exc)}) from exc
    with transaction.atomic():
        pickup = CourierPickup.objects.create(
            organization=batch.organization, batch=batch, carrier_id=answer.carrier_id,
            number=answer.number, state=answer.state, state_name=answer.state_name,
            error=answer.error[:1000], day=day, time_from=time_from, time_to=time_to,
            address=_address_line(sender)[:500])
        audit(actor, "batch.courier_order", batch, carrier_id=answer.carrier_id, number=answer.number)
    return pickup


def _pickup_get(actor: Actor, pickup_id: int) -> CourierPickup:
    pickup = (CourierPickup.objects.select_related("batch__carrier_account")
              .filter(organization=actor.organization, pk=pickup_id).first())
    if pickup is None:
        raise NotFound(_("Вызов курьера не найден"))
    return pickup


def courier_refresh(*, actor: Actor, pickup_id: int) -> CourierPickup:
    """Reads the request's number and state from the carrier again."""
    pickup = _pickup_get(actor, pickup_id)
    account = pickup.batch.carrier_account
    if account is None:
        return pickup
    try:
        with services._adapter_for(account) as adapter:
            answer = adapter.courier_pickup_get(pickup.carrier_id)
    except CarrierError as exc:
        raise Conflict(_("Перевозчик не ответил: %(m)s") % {"m": str(exc)}) from exc
    pickup.number = answer.number or pickup.number
    pickup.state, pickup.state_name, pickup.error = answer.state, answer.state_name, answer.error[:1000]
    pickup.save(update_fields=["number", "state", "state_name", "error", "updated_at"])
    return pickup


def courier_cancel(*, actor: Actor, pickup_id: int) -> CourierPickup:
    actor.require(Perm.MANAGE_SHIPMENTS)
    pickup = _pickup_get(actor, pickup_id)
    if pickup.state in FINISHED_STATES or pickup.batch.carrier_account is None:
        raise Conflict(_("Заявку в этом состоянии отменить нельзя"))
    try:
        with services._adapter_for(pickup.batch.carrier_account) as adapter:
            adapter.courier_pickup_cancel(pickup.carrier_id)
    except CarrierError as exc:
        raise Conflict(_("Перевозчик отказал: %(m)s") % {"m": str(exc)}) from exc
    audit(actor, "batch.courier_cancel", pickup.batch, carrier_id=pickup.carrier_id)
    return courier_refresh(actor=actor, pickup_id=pickup.pk)
