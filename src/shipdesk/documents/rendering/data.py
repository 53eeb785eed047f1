"""The typed data the renderers draw. Built from the database by ``documents.selectors``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class PartyData:
    name: str
    address: str  # one line without the index: "г. Москва, ул. Ленина, д. 1, кв. 2"
    index: str = ""
    phone: str = ""
    company: str = ""
    country: str = "RU"
    inn: str = ""


@dataclass(frozen=True)
class LabelData:
    tracking_number: str
    order_number: str
    carrier_name: str
    mail_type: str  # human label, e.g. "Посылка онлайн"
    mail_category: str  # human label, e.g. "С объявленной ценностью"
    sender: PartyData
    recipient: PartyData
    weight_g: int
    declared_value: Decimal = Decimal("0")
    cod_amount: Decimal = Decimal("0")
    marks: tuple[str, ...] = ()  # "Осторожно", "С описью", ...
    form_code: str = "Ф7п"
    # "post": the postal layout (index in large digits, F7p); "courier": a courier
    # service's layout (the pickup point or the city in large letters, no form code).
    style: str = "post"
    pickup_point: str = ""
    city: str = ""
    pickup_point_address: str = ""  # from the pickup-point directory, when loaded
    destination: str = ""  # abroad: the country line, e.g. "GERMANY DE"
    symbology: str = ""  # "I2of5" / "Code128"; "" = by the number's format


@dataclass(frozen=True)
class RegistryRow:
    position: int
    tracking_number: str
    recipient: str
    index: str
    address: str
    weight_g: int
    declared_value: Decimal
    cod_amount: Decimal
    fee: Decimal
    marks: str = ""


class _ParcelTotals:
    """The totals a list of handed-over parcels ends with (F103, the courier's act)."""

    rows: tuple[Any, ...]

    @property
    def total_weight_g(self) -> int:
        return sum(r.weight_g for r in self.rows)

    @property
    def total_declared_value(self) -> Decimal:
        return sum((r.declared_value for r in self.rows), Decimal("0"))

    @property
    def total_cod(self) -> Decimal:
        return sum((r.cod_amount for r in self.rows), Decimal("0"))


@dataclass(frozen=True)
class RegistryData(_ParcelTotals):
    """Form F103: the list of a batch's parcels handed over together."""

    number: str
    date: date
    sender: PartyData
    carrier_name: str
    mail_type: str
    mail_category: str
    drop_off_point: str
    rows: tuple[RegistryRow, ...]

    @property
    def total_fee(self) -> Decimal:
        return sum((r.fee for r in self.rows), Decimal("0"))


@dataclass(frozen=True)
class ActRow:
    position: int
    tracking_number: str
    order_number: str
    recipient: str
    destination: str  # the pickup point code, else the city
    packages: int
    weight_g: int
    declared_value: Decimal
    cod_amount: Decimal


@dataclass(frozen=True)
class ActData(_ParcelTotals):
    """A courier service's hand-over act (акт приёма-передачи): the parcels the sender
    hands to the carrier together, signed by both."""

    number: str
    date: date
    sender: PartyData
    carrier_name: str
    drop_off_point: str
    rows: tuple[ActRow, ...]
    carrier_batch_id: str = ""

    @property
    def total_packages(self) -> int:
        return sum(r.packages for r in self.rows)


@dataclass(frozen=True)
class CustomsItemData:
    description: str
    quantity: int
    weight_g: int
    value: Decimal  # line total, in ``currency``
    hs_code: str
    origin_country: str


@dataclass(frozen=True)
class CustomsData:
    form: str  # "CN22" or "CN23"
    tracking_number: str
    sender: PartyData
    recipient: PartyData
    items: tuple[CustomsItemData, ...]
    category: str = "sale_of_goods"  # a key of ``rules.CUSTOMS_CATEGORIES``
    currency: str = "RUB"
    gross_weight_g: int = 0
    date: date | None = None
    explanation: str = ""  # what "other" is (or anything about the category)
    comments: str = ""
    postage: Decimal = Decimal("0")  # postage / fees, in ``currency``
    invoice_number: str = ""
    licence_number: str = ""
    certificate_number: str = ""

    @property
    def total_value(self) -> Decimal:
        return sum((i.value for i in self.items), Decimal("0"))

    @property
    def total_net_weight_g(self) -> int:
        return sum(i.weight_g for i in self.items)


@dataclass(frozen=True)
class CodTransferData:
    """Form F112EP: the money transfer of a cash-on-delivery amount back to the shop."""

    tracking_number: str
    amount: Decimal
    payee: PartyData  # the shop
    payer: PartyData  # the parcel's recipient
    payee_bank: tuple[tuple[str, str], ...] = field(default_factory=tuple)  # (label, value)


@dataclass(frozen=True)
class InventoryItemData:
    name: str
    quantity: int
    value: Decimal  # line declared value, rubles


@dataclass(frozen=True)
class InventoryData:
    """Form F107: the inventory of a parcel's contents."""

    tracking_number: str
    sender: PartyData
    recipient: PartyData
    items: tuple[InventoryItemData, ...]

    @property
    def total_quantity(self) -> int:
        return sum(i.quantity for i in self.items)

    @property
    def total_value(self) -> Decimal:
        return sum((i.value for i in self.items), Decimal("0"))


@dataclass(frozen=True)
class ParcelForms:
    """Everything one parcel needs besides its label, in the order the operator works."""

    customs: CustomsData | None = None
    cod_transfer: CodTransferData | None = None
    inventory: InventoryData | None = None


@dataclass(frozen=True)
class BatchPrintData:
    registry: RegistryData | None
    labels: Iterable[LabelData]  # may be a one-pass generator (read in chunks)
    forms: tuple[ParcelForms, ...] = ()
    act: ActData | None = None  # a courier service's hand-over act instead of the F103
