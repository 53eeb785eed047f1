from __future__ import annotations

from datetime import date
from decimal import Decimal

from ninja import Field, Schema

from shipdesk.core.apitypes import PositiveInt


class RateIn(Schema):
    from_index: str = Field(..., pattern=r"^\d{6}$", description="Индекс отправителя")
    to_index: str = Field(..., pattern=r"^\d{6}$", description="Индекс получателя")
    weight_g: int = Field(..., gt=0, le=1_000_000)
    length_cm: PositiveInt = 0
    width_cm: PositiveInt = 0
    height_cm: PositiveInt = 0
    declared_value: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    cod_amount: Decimal = Field(Decimal("0"), ge=0, max_digits=12, decimal_places=2)
    service_code: str = Field("", max_length=64, description="Вид отправления; пусто — все")
    mail_category: str = Field("", max_length=64)
    fragile: bool = False
    careful: bool = False
    sms_notice: bool = False
    inventory: bool = False


class LineOut(Schema):
    name: str
    amount: Decimal


class OfferOut(Schema):
    account_id: int
    account_name: str
    carrier_code: str
    source: str
    chosen: bool
    service_code: str | None
    service_name: str | None
    total: Decimal | None
    vat: Decimal | None
    days_min: int | None
    days_max: int | None
    lines: list[LineOut]
    error: str
    note: str


class RateOut(Schema):
    rule: str
    offers: list[OfferOut]


class TariffRuleIn(Schema):
    prefer: str = Field(..., description="cheapest или fastest")


class TariffRuleOut(Schema):
    prefer: str


class TableOut(Schema):
    carrier_code: str
    name: str
    version: str
    effective_from: date | None
    services: list[str]
    next_effective_from: date | None
