"""Reads: batches of the actor's organization, and the typed data the renderers draw."""

from __future__ import annotations

import hashlib
from collections.abc import Container, Iterable, Iterator
from decimal import Decimal
from itertools import islice

from django.conf import settings
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.documents import rules
from shipdesk.documents.models import Batch, BatchEntry, GeneratedDocument, SigningCertificate
from shipdesk.documents.rendering.data import (
    ActData,
    ActRow,
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
from shipdesk.shipments.models import SenderProfile, Shipment, ShipmentItem
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor

# Roubles per SDR for the CN22/CN23 value rule; override with settings.SHIPDESK_SDR_RUB.
DEFAULT_SDR_RUB = Decimal("120")
RENDERER_VERSION = "2"
_CHUNK = 2000


def batch_list(*, actor: Actor, state: str | None = None) -> QuerySet[Batch]:
    actor.require(Perm.VIEW)
    qs = Batch.objects.filter(organization=actor.organization).annotate(
        parcel_count=Count("entries")).select_related("carrier_account").order_by("-created_at", "-id")
    if state:
        qs = qs.filter(state=state)
    return qs


def batch_candidates(*, actor: Actor, carrier: str = "", service: str = "",
                     q: str = "") -> list[Shipment]:
    """Numbered shipments not in a batch yet, oldest first (the order batches are formed
    in), filtered by carrier, mail type and the list's search box."""
    actor.require(Perm.VIEW)
    qs = (Shipment.objects.filter(organization=actor.organization, state="numbered",
                                  tracking_number__isnull=False, batch_entry__isnull=True)
          .select_related("carrier_account", "sender"))
    if carrier:
        qs = qs.filter(carrier_code=carrier)
    if service:
        qs = qs.filter(service_code=service)
    if q:
        from shipdesk.shipments.selectors import shipment_list

        qs = qs.filter(pk__in=shipment_list(actor=actor, filters={"q": q}).values("pk"))
    return list(qs.order_by("created_at", "pk")[:2001])


def candidate_choices(*, actor: Actor) -> dict[str, list[tuple[str, str]]]:
    """The carriers and mail types among the shipments waiting for a batch, as words."""
    pairs = (Shipment.objects.filter(organization=actor.organization, state="numbered",
                                     batch_entry__isnull=True)
             .values_list("carrier_code", "service_code").distinct().order_by())
    carriers: dict[str, str] = {}
    services: dict[str, str] = {}
    for carrier, service in pairs:
        if carrier:
            carriers[carrier] = carrier_display_name(carrier)
        if service:
            services[service] = rules.mail_type_name(service, carrier_code=carrier)
    return {"carriers": sorted(carriers.items(), key=lambda p: p[1]),
            "services": sorted(services.items(), key=lambda p: p[1])}


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
    country = getattr(obj, "country", rules.HOME_COUNTRY)
    if rules.is_foreign(country):
        return _foreign_address(obj)
    parts = [obj.region, obj.district, obj.city, obj.street,
             f"д. {obj.house}" if obj.house else "",
             f"корп. {obj.building}" if obj.building else "",
             f"кв. {obj.apartment}" if obj.apartment else ""]
    text = ", ".join(p for p in parts if p)
    raw = getattr(obj, "address_as_given", "")
    return text or raw


def _foreign_address(obj: Shipment | SenderProfile) -> str:
    """An address abroad as the sender gave it: the one-line address when there is one,
    else its parts in the local order ("Unter den Linden 77, Apt 4", "10117 Berlin",
    region) — never with Russian «д.», «кв.», «ул.», «г.» put in. The country line is
    added by the label (``LabelData.destination``)."""
    raw = getattr(obj, "address_as_given", "")
    if raw:
        return raw
    street = " ".join(p for p in (obj.street, obj.house, obj.building) if p)
    lines = [street, obj.apartment, " ".join(p for p in (obj.index, obj.city) if p),
             obj.district, obj.region]
    return ", ".join(p for p in lines if p)


def _sender_party(sender: SenderProfile | None, org: Organization) -> PartyData:
    name = org.legal_name or org.name
    if sender is None:
        return PartyData(name=name, address=org.postal_address or org.legal_address,
                         phone=org.phone, inn=org.inn)
    return PartyData(name=sender.company or name, address=_address(sender), index=sender.index,
                     phone=sender.phone or org.phone, inn=org.inn)


def _recipient_party(s: Shipment) -> PartyData:
    return PartyData(name=s.recipient_name, address=_address(s), index=s.index,
                     phone=s.recipient_phone, company=s.recipient_company,
                     country=(s.country or rules.HOME_COUNTRY).upper())


def _carrier_name(s: Shipment) -> str:
    if s.carrier_account:
        return s.carrier_account.name
    return carrier_display_name(s.carrier_code)


def carrier_display_name(code: str) -> str:
    """The carrier's own name (``Adapter.name``: «СДЭК», «PickPoint») for its code."""
    if not code:
        return ""
    from shipdesk.carriers.registry import UnknownCarrier, adapter_class

    try:
        return adapter_class(code).name
    except UnknownCarrier:
        return code


def _symbology(forms: rules.FormSet, tracking_number: str) -> str:
    """Russian Post's 14-digit numbers are ITF; S10 numbers and every courier service's
    number (whatever its length) Code 128."""
    if forms.itf_for_14_digits and tracking_number_kind(tracking_number) == "rp14":
        return "I2of5"
    return "Code128"


def label_data(s: Shipment, org: Organization, pickup_addresses: dict[tuple[str, str], str]
               | None = None) -> LabelData:
    """What the label shows, by the carrier's form set (``rules.forms_for``) and the
    destination: abroad the country line and the address as given."""
    forms = rules.forms_for(s.carrier_code)
    number = s.tracking_number or ""
    foreign = rules.is_foreign(s.country)
    point = s.pickup_point_code
    return LabelData(
        tracking_number=number, order_number=s.order_number,
        carrier_name=_carrier_name(s),
        mail_type=rules.mail_type_name(s.service_code, carrier_code=s.carrier_code,
                                       foreign=foreign),
        mail_category=rules.mail_category_name(s.mail_category),
        sender=_sender_party(s.sender, org), recipient=_recipient_party(s),
        weight_g=s.weight_g or 0, declared_value=s.declared_value, cod_amount=s.cod_amount,
        marks=rules.marks_for(s.options or {}),
        style=forms.label, form_code=forms.form_code,
        pickup_point=point, city=s.city,
        pickup_point_address=(pickup_addresses or {}).get((s.carrier_code, point), ""),
        destination=rules.country_line(s.country) if foreign else "",
        symbology=_symbology(forms, number),
    )


def _pickup_addresses(shipments: list[Shipment]) -> dict[tuple[str, str], str]:
    from shipdesk.tracking.selectors import pickup_office_addresses

    keys = {(s.carrier_code, s.pickup_point_code) for s in shipments if s.pickup_point_code}
    return pickup_office_addresses(carrier_and_codes=keys) if keys else {}


def shipments_label_data(shipments: list[Shipment], org: Organization) -> list[LabelData]:
    """Our labels of a few chosen shipments (not a batch), with pickup points' addresses."""
    addresses = _pickup_addresses(shipments)
    return [label_data(s, org, addresses) for s in shipments]


def _chunks(shipments: Iterable[Shipment]) -> Iterator[list[Shipment]]:
    source = iter(shipments)
    while chunk := list(islice(source, _CHUNK)):
        yield chunk


def iter_label_data(batch: Batch, *, skip: Container[int] = ()) -> Iterator[LabelData]:
    """Our labels in batch order, read in chunks (a 10,000-parcel batch is never all in
    memory), with the pickup points' addresses from the directory. ``skip``: shipment ids
    whose label is the carrier's own print form."""
    org = batch.organization
    for chunk in _chunks(batch_shipments(batch).iterator(chunk_size=_CHUNK)):
        wanted = [s for s in chunk if s.pk not in skip]
        addresses = _pickup_addresses(wanted)
        for s in wanted:
            yield label_data(s, org, addresses)


def carrier_label_orders(batch: Batch) -> list[tuple[int, str]]:
    """(shipment id, carrier order id) of the parcels whose label is the carrier's own print
    form: the carrier's forms allow it and the parcel is registered with the carrier. Whether
    the adapter can print is the caller's check (``Capability.LABELS``)."""
    if not rules.forms_for(batch.carrier_code).carrier_labels or batch.carrier_account_id is None:
        return []
    return [(pk, order) for pk, order in batch_shipments(batch).exclude(carrier_order_id="")
            .values_list("pk", "carrier_order_id")]


def act_data(batch: Batch) -> ActData:
    """The hand-over act of a courier service's batch."""
    org = batch.organization
    rows: list[ActRow] = []
    sender: PartyData | None = None
    carrier_name = carrier_display_name(batch.carrier_code)
    for position, s in enumerate(batch_shipments(batch).iterator(chunk_size=_CHUNK), 1):
        if sender is None:
            sender = _sender_party(s.sender, org)
            carrier_name = _carrier_name(s)
        packages = (s.options or {}).get("packages") or 1
        rows.append(ActRow(
            position=position, tracking_number=s.tracking_number or "",
            order_number=s.order_number, recipient=s.recipient_name,
            destination=" ".join(p for p in (s.pickup_point_code, s.city) if p) or s.index,
            packages=int(packages) if str(packages).isdigit() else 1,
            weight_g=s.weight_g or 0, declared_value=s.declared_value,
            cod_amount=s.cod_amount))
    return ActData(number=batch.display_number, date=batch.shipping_date,
                   sender=sender or _sender_party(None, org), carrier_name=carrier_name,
                   drop_off_point=batch.drop_off_point, rows=tuple(rows),
                   carrier_batch_id=batch.carrier_batch_id)


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


def _option_text(options: dict[str, object], key: str) -> str:
    value = options.get(key)
    return "" if value is None else str(value).strip()


def _customs_data(s: Shipment, items: list[ShipmentItem], sender: PartyData,
                  recipient: PartyData, where: tuple[str | int, ...],
                  errors: list[FieldError]) -> CustomsData | None:
    """CN22/CN23 of a parcel abroad. Fields from ``shipment.options``: ``customs_category``
    (gift, documents, commercial_sample, returned_goods, sale_of_goods — the default —,
    other), ``customs_explanation``, ``customs_comments``, ``customs_invoice_number``,
    ``customs_licence_number``, ``customs_certificate_number``."""
    options = s.options or {}
    if not items:
        errors.append(FieldError(loc=(*where, "items"), code="required", message=_(
            "Международное отправление %(order)s без вложений: для таможенной декларации "
            "нужны товары с кодом ТН ВЭД, весом, стоимостью и страной происхождения")
            % {"order": s.order_number}))
        return None
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
    try:
        category = rules.customs_category(options.get("customs_category"))
    except ValueError as exc:
        errors.append(FieldError(loc=(*where, "options", "customs_category"), code="invalid",
                                 message=_("Категория отправления «%(value)s» не из списка: "
                                           "%(allowed)s") % {"value": options["customs_category"],
                                                             "allowed": str(exc)}))
        category = rules.DEFAULT_CUSTOMS_CATEGORY
    customs_items = tuple(CustomsItemData(
        description=i.name, quantity=i.quantity, weight_g=i.weight_g * i.quantity,
        value=i.unit_price * i.quantity, hs_code=i.hs_code, origin_country=i.origin_country)
        for i in items)
    value = sum((i.value for i in customs_items), Decimal("0"))
    form = rules.customs_form(mail_type=s.service_code, contents_value_rub=value,
                              sdr_rate_rub=_sdr_rate())
    return CustomsData(
        form=form, tracking_number=s.tracking_number or "", sender=sender, recipient=recipient,
        items=customs_items, category=category, gross_weight_g=s.weight_g or 0,
        date=timezone.localdate(), explanation=_option_text(options, "customs_explanation"),
        comments=_option_text(options, "customs_comments"),
        postage=s.shipping_cost or Decimal("0"),
        invoice_number=_option_text(options, "customs_invoice_number"),
        licence_number=_option_text(options, "customs_licence_number"),
        certificate_number=_option_text(options, "customs_certificate_number"))


def parcel_forms(s: Shipment, org: Organization, errors: list[FieldError]) -> ParcelForms:
    """The forms one parcel needs, by its carrier's form set (``rules.forms_for``): a
    courier service's parcel gets none of Russian Post's (F112EP, F107, CN22/CN23).
    Problems are appended to ``errors`` pointing at the parcel (by order number) and field."""
    forms = rules.forms_for(s.carrier_code)
    where: tuple[str | int, ...] = ("shipments", s.order_number)
    items = list(s.items.all())
    customs = cod = inventory = None
    sender, recipient = _sender_party(s.sender, org), _recipient_party(s)
    if forms.customs and rules.is_foreign(s.country):
        customs = _customs_data(s, items, sender, recipient, where, errors)
    if forms.cod_form and s.cod_amount and s.cod_amount > 0:
        bank = tuple((label, value) for label, value in (
            ("Банк", org.bank_name), ("БИК", org.bik), ("Р/с", org.bank_account),
            ("К/с", org.correspondent_account), ("ИНН", org.inn)) if value)
        payee = PartyData(name=org.legal_name or org.name,
                          address=org.postal_address or org.legal_address or sender.address,
                          index=sender.index, inn=org.inn, phone=org.phone)
        cod = CodTransferData(tracking_number=s.tracking_number or "", amount=s.cod_amount,
                              payee=payee, payer=recipient, payee_bank=bank)
    if forms.inventory_form and (s.options or {}).get("inventory"):
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


def batch_print_data(batch: Batch, *, skip_labels: Container[int] = ()) -> BatchPrintData:
    """Everything the batch's printout holds: the F103 (postal) or the hand-over act
    (courier services), our labels (``skip_labels``: those the carrier prints), the forms."""
    forms = batch_forms(batch)
    postal = rules.forms_for(batch.carrier_code).registry == "f103"
    return BatchPrintData(registry=registry_data(batch) if postal else None,
                          labels=iter_label_data(batch, skip=skip_labels), forms=tuple(forms),
                          act=None if postal else act_data(batch))
