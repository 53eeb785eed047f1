"""Reads: batches of the actor's organization, and the typed data the renderers draw."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.documents import rules
from shipdesk.documents.models import Batch, BatchEntry, GeneratedDocument, SigningCertificate
from shipdesk.documents.rendering.data import (
    BatchPrintData,
    CodTransferData,
    CustomsData,
    CustomsItemData,
    InventoryData,
    InventoryItemData,
    LabelData,
    ParcelForms,
    PartyData,
    RegistryData,
    RegistryRow,
)
from shipdesk.numbering.validation import tracking_number_kind
from shipdesk.shipments.models import SenderProfile, Shipment
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor

# Roubles per SDR for the CN22/CN23 value rule; override with settings.SHIPDESK_SDR_RUB.
DEFAULT_SDR_RUB = Decimal("120")
RENDERER_VERSION = "1"
_CHUNK = 2000


def batch_list(*, actor: Actor, state: str | None = None) -> QuerySet[Batch]:
    actor.require(Perm.VIEW)
    qs = Batch.objects.filter(organization=actor.organization).annotate(
        parcel_count=Count("entries")).order_by("-created_at", "-id")
    if state:
        qs = qs.filter(state=state)
    return qs


def batch_get(*, actor: Actor, batch_id: int) -> Batch:
    actor.require(Perm.VIEW)
    batch = Batch.objects.filter(organization=actor.organization, pk=batch_id).first()
    if batch is None:
        raise NotFound(_("Партия не найдена"))
    return batch


def batch_shipments(batch: Batch) -> QuerySet[Shipment]:
    return (Shipment.objects.filter(batch_entry__batch=batch)
            .select_related("sender", "carrier_account")
            .order_by("batch_entry__position", "batch_entry__id"))


def document_get(*, actor: Actor, document_id: int) -> GeneratedDocument:
    actor.require(Perm.VIEW)
    doc = (GeneratedDocument.objects.select_related("batch")
           .filter(organization=actor.organization, pk=document_id).first())
    if doc is None:
        raise NotFound(_("Документ не найден"))
    return doc


def certificate_list(*, actor: Actor) -> QuerySet[SigningCertificate]:
    actor.require(Perm.VIEW)
    return SigningCertificate.objects.filter(organization=actor.organization).order_by("-pk")


def batch_fingerprint(batch: Batch, *, extra: str = "") -> str:
    """What the batch's documents depend on: the batch, each parcel's last change and its
    position, the organization's details. Cheap (one query of ids and timestamps)."""
    digest = hashlib.sha256()
    digest.update(f"{RENDERER_VERSION}|{batch.pk}|{batch.number}|{batch.year}|{batch.state}|"
                  f"{batch.shipping_date}|{batch.drop_off_point}|{extra}".encode())
    org = Organization.objects.filter(pk=batch.organization_id).values_list("updated_at").first()
    digest.update(repr(org).encode())
    rows = (BatchEntry.objects.filter(batch=batch).order_by("position", "pk")
            .values_list("shipment_id", "position", "shipment__updated_at",
                         "shipment__sender__updated_at"))
    for row in rows.iterator(chunk_size=_CHUNK):
        digest.update(repr(row).encode())
    return digest.hexdigest()


# --- typed data for the renderers ---------------------------------------------------------

def _address(obj: Shipment | SenderProfile) -> str:
    parts = [obj.region, obj.district, obj.city, obj.street,
             f"д. {obj.house}" if obj.house else "",
             f"корп. {obj.building}" if obj.building else "",
             f"кв. {obj.apartment}" if obj.apartment else ""]
    text = ", ".join(p for p in parts if p)
    raw = getattr(obj, "address_as_given", "")
    return text or raw


def _sender_party(sender: SenderProfile | None, org: Organization) -> PartyData:
    name = org.legal_name or org.name
    if sender is None:
        return PartyData(name=name, address=org.postal_address or org.legal_address,
                         phone=org.phone, inn=org.inn)
    return PartyData(name=sender.company or name, address=_address(sender), index=sender.index,
                     phone=sender.phone or org.phone, inn=org.inn)


def _recipient_party(s: Shipment) -> PartyData:
    return PartyData(name=s.recipient_name, address=_address(s), index=s.index,
                     phone=s.recipient_phone, company=s.recipient_company, country=s.country)


def _carrier_name(s: Shipment) -> str:
    return s.carrier_account.name if s.carrier_account else s.carrier_code


def _label_style(tracking_number: str) -> str:
    """Postal numbers (Russian Post 14 digits, UPU S10) get the postal F7p layout; any other
    carrier's number the courier layout."""
    return "post" if tracking_number_kind(tracking_number) else "courier"


def label_data(s: Shipment, org: Organization) -> LabelData:
    style = _label_style(s.tracking_number or "")
    return LabelData(
        tracking_number=s.tracking_number or "", order_number=s.order_number,
        carrier_name=_carrier_name(s), mail_type=rules.mail_type_name(s.service_code),
        mail_category=rules.mail_category_name(s.mail_category),
        sender=_sender_party(s.sender, org), recipient=_recipient_party(s),
        weight_g=s.weight_g or 0, declared_value=s.declared_value, cod_amount=s.cod_amount,
        marks=rules.marks_for(s.options or {}),
        style=style, form_code="Ф7п" if style == "post" else "",
        pickup_point=s.pickup_point_code, city=s.city,
    )


def iter_label_data(batch: Batch) -> Iterator[LabelData]:
    """Labels in batch order, read in chunks (a 10,000-parcel batch is never all in memory)."""
    org = batch.organization
    for s in batch_shipments(batch).iterator(chunk_size=_CHUNK):
        yield label_data(s, org)


def registry_data(batch: Batch) -> RegistryData:
    org = batch.organization
    rows: list[RegistryRow] = []
    sender: PartyData | None = None
    carrier_name = batch.carrier_code
    for position, s in enumerate(batch_shipments(batch).iterator(chunk_size=_CHUNK), 1):
        if sender is None:
            sender = _sender_party(s.sender, org)
            carrier_name = _carrier_name(s)
        rows.append(RegistryRow(
            position=position, tracking_number=s.tracking_number or "",
            recipient=s.recipient_name, index=s.index, address=_address(s),
            weight_g=s.weight_g or 0, declared_value=s.declared_value,
            cod_amount=s.cod_amount, fee=s.shipping_cost or Decimal("0"),
            marks=", ".join(rules.marks_for(s.options or {}))))
    return RegistryData(
        number=batch.display_number, date=batch.shipping_date,
        sender=sender or _sender_party(None, org), carrier_name=carrier_name,
        mail_type=rules.mail_type_name(batch.mail_type),
        mail_category=rules.mail_category_name(batch.mail_category),
        drop_off_point=batch.drop_off_point, rows=tuple(rows))


def _sdr_rate() -> Decimal:
    return Decimal(str(getattr(settings, "SHIPDESK_SDR_RUB", DEFAULT_SDR_RUB)))


def parcel_forms(s: Shipment, org: Organization, errors: list[FieldError]) -> ParcelForms:
    """The forms one parcel needs; problems are appended to ``errors`` pointing at the
    parcel (by order number) and field."""
    where: tuple[str | int, ...] = ("shipments", s.order_number)
    items = list(s.items.all())
    customs = cod = inventory = None
    sender, recipient = _sender_party(s.sender, org), _recipient_party(s)
    if s.country and s.country.upper() != "RU":
        if not items:
            errors.append(FieldError(loc=(*where, "items"), code="required", message=_(
                "Международное отправление %(order)s без вложений: для таможенной декларации "
                "нужны товары с кодом ТН ВЭД, весом, стоимостью и страной происхождения")
                % {"order": s.order_number}))
        else:
            for n, item in enumerate(items):
                if not item.hs_code:
                    errors.append(FieldError(loc=(*where, "items", n, "hs_code"), code="required",
                                             message=_("Не указан код ТН ВЭД товара «%(name)s»")
                                             % {"name": item.name}))
                if not item.origin_country:
                    errors.append(FieldError(loc=(*where, "items", n, "origin_country"),
                                             code="required", message=_(
                                                 "Не указана страна происхождения товара «%(name)s»")
                                             % {"name": item.name}))
            customs_items = tuple(CustomsItemData(
                description=i.name, quantity=i.quantity, weight_g=i.weight_g * i.quantity,
                value=i.unit_price * i.quantity, hs_code=i.hs_code, origin_country=i.origin_country)
                for i in items)
            value = sum((i.value for i in customs_items), Decimal("0"))
            form = rules.customs_form(mail_type=s.service_code, contents_value_rub=value,
                                      sdr_rate_rub=_sdr_rate())
            customs = CustomsData(form=form, tracking_number=s.tracking_number or "",
                                  sender=sender, recipient=recipient, items=customs_items,
                                  gross_weight_g=s.weight_g or 0, date=timezone.localdate())
    if s.cod_amount and s.cod_amount > 0:
        bank = tuple((label, value) for label, value in (
            ("Банк", org.bank_name), ("БИК", org.bik), ("Р/с", org.bank_account),
            ("К/с", org.correspondent_account), ("ИНН", org.inn)) if value)
        payee = PartyData(name=org.legal_name or org.name,
                          address=org.postal_address or org.legal_address or sender.address,
                          index=sender.index, inn=org.inn, phone=org.phone)
        cod = CodTransferData(tracking_number=s.tracking_number or "", amount=s.cod_amount,
                              payee=payee, payer=recipient, payee_bank=bank)
    if (s.options or {}).get("inventory"):
        if not items:
            errors.append(FieldError(loc=(*where, "items"), code="required", message=_(
                "Для описи вложения (ф.107) отправления %(order)s нужен список вложений")
                % {"order": s.order_number}))
        else:
            inventory = InventoryData(
                tracking_number=s.tracking_number or "", sender=sender, recipient=recipient,
                items=tuple(InventoryItemData(name=i.name, quantity=i.quantity,
                                              value=i.unit_price * i.quantity) for i in items))
    return ParcelForms(customs=customs, cod_transfer=cod, inventory=inventory)


def batch_forms(batch: Batch) -> list[ParcelForms]:
    """Every parcel's forms, in batch order; all problems at once as ``ValidationFailed``."""
    org = batch.organization
    errors: list[FieldError] = []
    forms = [parcel_forms(s, org, errors) for s in
             batch_shipments(batch).prefetch_related("items").iterator(chunk_size=_CHUNK)]
    if errors:
        raise ValidationFailed(_("Для документов партии %(batch)s не хватает данных")
                               % {"batch": batch.display_number}, errors=errors)
    return forms


def batch_print_data(batch: Batch) -> BatchPrintData:
    forms = batch_forms(batch)
    return BatchPrintData(registry=registry_data(batch), labels=iter_label_data(batch),
                          forms=tuple(forms))
