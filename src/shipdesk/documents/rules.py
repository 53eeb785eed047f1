"""Document rules as data: which forms a carrier's parcels get, marks, countries, customs
categories and the customs form rule; the names of mail types, tariffs and categories come
from ``carriers.names``, in Russian on the forms. Pure (no database)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pycountry
from django.utils import translation

from shipdesk.carriers import names
from shipdesk.carriers.names import service_name

# What a foreign postal worker reads beside the Russian name (UPU terms).
MAIL_TYPES_EN: dict[str, str] = {
    "PARCEL_INTERNATIONAL": "Parcel", "EMS_INTERNATIONAL": "EMS", "EMS": "EMS",
    "SMALL_PACKET": "Small packet", "LETTER": "Letter", "LETTER_CLASS_1": "Letter",
    "BANDEROL": "Printed papers", "BANDEROL_CLASS_1": "Printed papers", "POSTAL_PARCEL": "Parcel",
}
# UPU letter post (CN22 possible); everything else is a parcel (always CN23).
LETTER_POST_TYPES = frozenset({"LETTER", "LETTER_CLASS_1", "BANDEROL", "BANDEROL_CLASS_1",
                               "SMALL_PACKET"})
MARKS: dict[str, str] = {
    "fragile": "Осторожно", "inventory": "С описью", "completeness_checking": "Проверка комплектности",
    "sms_notice": "SMS-уведомление", "simple_notice": "С уведомлением",
    "order_of_notice": "С заказным уведомлением", "courier": "Курьер",
}
CN22_LIMIT_SDR = Decimal("300")


def mail_type_name(code: str, *, carrier_code: str = "", foreign: bool = False) -> str:
    """The Russian name of a mail type or tariff, never a raw code like PARCEL_INTERNATIONAL
    (with the UPU English term for a foreign parcel): «Тариф 136» for an unknown numeric
    tariff, else the code's words."""
    with translation.override("ru"):
        name = service_name(code, carrier_code=carrier_code)
    english = MAIL_TYPES_EN.get(code) if foreign else None
    return f"{name} / {english}" if english else name


def mail_category_name(code: str) -> str:
    with translation.override("ru"):
        return names.mail_category_name(code)


def marks_for(options: dict[str, object]) -> tuple[str, ...]:
    return tuple(label for key, label in MARKS.items() if options.get(key))


def customs_form(*, mail_type: str, contents_value_rub: Decimal, sdr_rate_rub: Decimal) -> str:
    """UPU rule: CN22 for letter-post items worth up to 300 SDR, CN23 above that and for
    parcels."""
    if mail_type not in LETTER_POST_TYPES:
        return "CN23"
    return "CN22" if contents_value_rub <= CN22_LIMIT_SDR * sdr_rate_rub else "CN23"


# --- which forms a carrier's parcels get --------------------------------------------------

@dataclass(frozen=True)
class FormSet:
    """The documents of one carrier's parcels and batches.

    ``label``: "post" (the postal F7p layout, index in large digits) or "courier" (the
    pickup point / city in large letters); ``form_code`` printed on the label;
    ``carrier_labels``: the label is the carrier's own print form when its adapter can print
    (``Capability.LABELS``) and the parcel is registered (``carrier_order_id``);
    ``registry``: "f103" (Russian Post's list) or "act" (a hand-over act);
    ``cod_form``: F112EP for COD parcels; ``inventory_form``: F107;
    ``customs``: CN22/CN23 for parcels abroad (UPU postal forms);
    ``itf_for_14_digits``: a 14-digit number is drawn as ITF (Russian Post's barcode)."""

    label: str
    form_code: str
    carrier_labels: bool
    registry: str
    cod_form: bool
    inventory_form: bool
    customs: bool
    itf_for_14_digits: bool


POSTAL = FormSet(label="post", form_code="Ф7п", carrier_labels=False, registry="f103",
                 cod_form=True, inventory_form=True, customs=True, itf_for_14_digits=True)
COURIER = FormSet(label="courier", form_code="", carrier_labels=True, registry="act",
                  cod_form=False, inventory_form=False, customs=False, itf_for_14_digits=False)
# Carrier code -> its forms. A carrier not listed is a courier service: its own label (or
# ours in its layout) and a hand-over act, never Russian Post's forms. "" (no carrier
# chosen yet) keeps the postal forms the numbers were issued for.
CARRIER_FORMS: dict[str, FormSet] = {"russian_post": POSTAL, "": POSTAL}


def forms_for(carrier_code: str) -> FormSet:
    return CARRIER_FORMS.get(carrier_code, COURIER)


# Document kinds (``models.DocumentKind`` values) each kind of form set offers.
_POSTAL_KINDS = ("labels_thermal", "labels_a4", "f103_pdf", "f103_xlsx", "f103_signed",
                 "customs", "f112ep", "f107", "batch_print")
_COURIER_KINDS = ("labels_thermal", "labels_a4", "handover_act", "batch_print")


def document_kinds(carrier_code: str) -> tuple[str, ...]:
    return _POSTAL_KINDS if forms_for(carrier_code).registry == "f103" else _COURIER_KINDS


# --- countries ----------------------------------------------------------------------------

HOME_COUNTRY = "RU"


def is_foreign(country: str) -> bool:
    return bool(country) and country.upper() != HOME_COUNTRY


def country_line(code: str) -> str:
    """The destination line of an international address: the country's English short name
    in capitals and its ISO 3166-1 code, e.g. ``GERMANY DE`` (ISO names from pycountry)."""
    code = code.upper()
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    name = getattr(country, "common_name", None) or country.name
    return f"{name.upper()} {code}"


# --- customs declaration (CN22 / CN23) ----------------------------------------------------

# shipment.options["customs_category"]: one of these keys (Otpravka's entries-type values
# such as "SALE_OF_GOODS" are accepted too); default sale of goods.
CUSTOMS_CATEGORIES: dict[str, str] = {
    "gift": "Подарок / Gift",
    "documents": "Документы / Documents",
    "commercial_sample": "Коммерческий образец / Commercial sample",
    "returned_goods": "Возврат товара / Returned goods",
    "sale_of_goods": "Продажа товаров / Sale of goods",
    "other": "Прочее / Other",
}
DEFAULT_CUSTOMS_CATEGORY = "sale_of_goods"
# The other shipment.options keys the declaration reads.
CUSTOMS_OPTION_KEYS = ("customs_category", "customs_explanation", "customs_comments",
                       "customs_invoice_number", "customs_licence_number",
                       "customs_certificate_number")
CUSTOMS_DECLARATION_TEXT = (
    "Я, нижеподписавшийся, удостоверяю, что сведения, указанные в настоящей декларации, "
    "верны и что это отправление не содержит опасных предметов или предметов, запрещённых "
    "законодательством или почтовыми либо таможенными правилами. / I, the undersigned, "
    "certify that the particulars given in this customs declaration are correct and that "
    "this item does not contain any dangerous article or articles prohibited by legislation "
    "or by postal or customs regulations.")


def customs_category(value: object) -> str:
    """The category key of ``options["customs_category"]``; ``ValueError`` naming the
    allowed values for anything else."""
    if value in (None, ""):
        return DEFAULT_CUSTOMS_CATEGORY
    key = str(value).strip().lower().replace("-", "_").replace(" ", "_")
    if key == "sample":
        key = "commercial_sample"
    if key not in CUSTOMS_CATEGORIES:
        raise ValueError(", ".join(CUSTOMS_CATEGORIES))
    return key
