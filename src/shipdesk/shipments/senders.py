"""Senders (the organization's return addresses and drop-off points), write and read side.

Exactly one sender of an organization is the default (the first one created becomes it);
a sender that shipments name cannot be deleted (the foreign key protects it). Every change
needs ``Perm.MANAGE_SETTINGS`` and is audited.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import ProtectedError, QuerySet
from django.utils.translation import gettext as _

from shipdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed, refuse_unknown_fields
from shipdesk.shipments.models import SenderProfile, Shipment
from shipdesk.shipments.regions import region_for_index, region_matches
from shipdesk.shipments.validation import normalize_address, parse_phone, text
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

# field -> max length (the model's), in the order a form shows them
SENDER_FIELDS: dict[str, int] = {
    "name": 200, "contact_name": 200, "company": 300, "phone": 20, "email": 254, "index": 6,
    "region": 200, "district": 200, "city": 200, "street": 200, "house": 50, "building": 50,
    "apartment": 50, "drop_off_point": 64,
}
_ADDRESS_PARTS = ("region", "district", "city", "street", "house", "building", "apartment")


# --- read side ---------------------------------------------------------------------------

def sender_list(*, actor: Actor) -> QuerySet[SenderProfile]:
    """The organization's senders, the default one first."""
    actor.require(Perm.VIEW)
    return SenderProfile.objects.filter(organization=actor.organization).order_by(
        "-is_default", "name", "id")


def sender_get(*, actor: Actor, sender_id: int) -> SenderProfile:
    actor.require(Perm.VIEW)
    sender = SenderProfile.objects.filter(organization=actor.organization, pk=sender_id).first()
    if sender is None:
        raise NotFound(_("Отправитель не найден"))
    return sender


def sender_usage(*, sender: SenderProfile) -> int:
    """How many shipments name this sender."""
    return Shipment.objects.filter(organization_id=sender.organization_id, sender=sender).count()


# --- validation --------------------------------------------------------------------------

def _index_error(index: str, what: str) -> str | None:
    if not (len(index) == 6 and index.isdecimal()):
        return _("%(what)s «%(v)s»: нужно ровно 6 цифр") % {"what": what, "v": index}
    if region_for_index(index) is None:
        return _("Индекса %(v)s не существует: нет региона с таким началом индекса") % {
            "v": index}
    return None


def _clean(values: dict[str, Any]) -> dict[str, str]:
    """The sender's fields checked and normalised; every problem at once, each at its field."""
    errors: list[FieldError] = []
    out = {name: text(values.get(name)) for name in SENDER_FIELDS}
    for name in ("name", "city", "index"):
        if not out[name]:
            errors.append(FieldError((name,), _("Обязательное поле"), code="required"))
    for name, limit in SENDER_FIELDS.items():
        if name not in ("index", "phone") and len(out[name]) > limit:
            errors.append(FieldError((name,), _("Не длиннее %(n)s знаков") % {"n": limit}))
    out["index"] = out["index"].replace(" ", "")
    if out["index"]:
        error = _index_error(out["index"], _("Индекс"))
        region = region_for_index(out["index"]) if error is None else None
        if error:
            errors.append(FieldError(("index",), error))
        elif region and out["region"] and not region_matches(region, out["region"]):
            errors.append(FieldError(("index",), _(
                "Индекс %(v)s относится к региону «%(r)s», а указан «%(given)s»") % {
                "v": out["index"], "r": region, "given": out["region"]}))
        elif region and not out["region"]:
            out["region"] = region
    phone, error = parse_phone(out["phone"])
    if error:
        errors.append(FieldError(("phone",), error))
    out["phone"] = phone
    if out["email"]:
        try:
            validate_email(out["email"])
        except DjangoValidationError:
            errors.append(FieldError(("email",), _("«%(v)s» — не адрес e-mail") % {
                "v": out["email"]}))
    point = out["drop_off_point"]
    if point.replace(" ", "").isdecimal():  # a post office's index; else a courier point's code
        point = point.replace(" ", "")
        error = _index_error(point, _("Индекс отделения сдачи"))
        if error:
            errors.append(FieldError(("drop_off_point",), error))
    out["drop_off_point"] = point
    if errors:
        raise ValidationFailed(_("Проверьте данные отправителя"), errors=errors)
    out.update(normalize_address({k: out[k] for k in _ADDRESS_PARTS}))
    return out


def _lock_organization(actor: Actor) -> None:
    """Serialises changes of the default sender within one organization."""
    Organization.objects.select_for_update().filter(pk=actor.organization_id).first()


def _locked(actor: Actor, sender_id: int) -> SenderProfile:
    sender = SenderProfile.objects.select_for_update().filter(
        organization=actor.organization, pk=sender_id).first()
    if sender is None:
        raise NotFound(_("Отправитель не найден"))
    return sender


def _make_default(actor: Actor, sender: SenderProfile) -> None:
    SenderProfile.objects.filter(organization=actor.organization, is_default=True).exclude(
        pk=sender.pk).update(is_default=False)
    if not sender.is_default:
        sender.is_default = True
        SenderProfile.objects.filter(pk=sender.pk).update(is_default=True)


# --- write side --------------------------------------------------------------------------

@transaction.atomic
def sender_create(*, actor: Actor, is_default: bool = False, **values: Any) -> SenderProfile:
    """A new sender from the fields of ``SENDER_FIELDS``. The organization's first sender is
    its default; ``is_default=True`` makes a later one the default."""
    actor.require(Perm.MANAGE_SETTINGS)
    refuse_unknown_fields(values, SENDER_FIELDS)
    clean = _clean(values)
    _lock_organization(actor)
    first = not SenderProfile.objects.filter(organization=actor.organization).exists()
    sender = SenderProfile.objects.create(organization=actor.organization, is_default=first,
                                          **clean)
    if is_default and not first:
        _make_default(actor, sender)
    audit(actor, "sender.create", sender, name=sender.name, is_default=sender.is_default)
    return sender


@transaction.atomic
def sender_update(*, actor: Actor, sender_id: int, **changes: Any) -> SenderProfile:
    """Changes the given fields (the others stay); the result is checked as a whole."""
    actor.require(Perm.MANAGE_SETTINGS)
    refuse_unknown_fields(changes, SENDER_FIELDS)
    sender = _locked(actor, sender_id)
    current = {name: getattr(sender, name) for name in SENDER_FIELDS}
    clean = _clean({**current, **changes})
    changed = sorted(name for name, value in clean.items() if current[name] != value)
    for name in changed:
        setattr(sender, name, clean[name])
    if changed:
        sender.save(update_fields=changed)
    audit(actor, "sender.update", sender, fields=changed)
    return sender


@transaction.atomic
def sender_set_default(*, actor: Actor, sender_id: int) -> SenderProfile:
    actor.require(Perm.MANAGE_SETTINGS)
    _lock_organization(actor)
    sender = _locked(actor, sender_id)
    _make_default(actor, sender)
    audit(actor, "sender.set_default", sender, name=sender.name)
    return sender


@transaction.atomic
def sender_delete(*, actor: Actor, sender_id: int) -> None:
    """Refused (Conflict) while shipments name the sender: it stays, so that their labels
    and documents keep their return address. Deleting the default makes the oldest
    remaining sender the default."""
    actor.require(Perm.MANAGE_SETTINGS)
    _lock_organization(actor)
    sender = _locked(actor, sender_id)
    used = sender_usage(sender=sender)
    if used:
        raise _in_use(sender, used)
    was_default, pk, name = sender.is_default, sender.pk, sender.name
    try:
        with transaction.atomic():
            sender.delete()
    except ProtectedError:  # a shipment named it in the meantime
        raise _in_use(sender, sender_usage(sender=sender)) from None
    sender.pk = pk  # for the audit entry
    audit(actor, "sender.delete", sender, name=name)
    if was_default:
        successor = SenderProfile.objects.filter(organization=actor.organization).order_by(
            "id").first()
        if successor is not None:
            _make_default(actor, successor)


def _in_use(sender: SenderProfile, used: int) -> Conflict:
    return Conflict(_(
        "Отправитель «%(name)s» указан в отправлениях (%(n)s): удалить его нельзя, иначе "
        "их ярлыки и документы потеряют обратный адрес. Оставьте его; для новых отправлений "
        "назначьте по умолчанию другого отправителя.") % {"name": sender.name, "n": used})
