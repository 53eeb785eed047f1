from __future__ import annotations

from datetime import datetime

from ninja import Field, Schema

from shipdesk.core.apitypes import DbId, PositiveInt


class PoolIn(Schema):
    carrier_code: str = Field(..., max_length=32)
    first_number: str = Field(..., max_length=40, description="Первый номер диапазона с контрольной цифрой")
    last_number: str = Field(..., max_length=40, description="Последний номер диапазона с контрольной цифрой")
    low_threshold: PositiveInt = 1000
    comment: str = Field("", max_length=200)


class PoolPatch(Schema):
    low_threshold: PositiveInt | None = None
    is_active: bool | None = None
    comment: str | None = Field(None, max_length=200)


class PoolOut(Schema):
    id: int
    carrier_code: str
    kind: str
    source: str
    first_number: str
    last_number: str
    size: int
    issued: int
    remaining: int
    low_threshold: int
    is_low: bool
    low_since: datetime | None
    is_active: bool
    comment: str
    created_at: datetime


class PoolRequestIn(Schema):
    carrier_account_id: DbId
    count: int = Field(..., gt=0, le=1_000_000)


class IssueIn(Schema):
    carrier_code: str = Field(..., max_length=32)
    count: int = Field(..., gt=0, le=10_000)
    international: bool = Field(False, description="S10 номера для международных отправлений")
    service_code: str = Field("", max_length=64,
                              description="Вид отправления: по нему выбирается код услуги S10")


class IssueOut(Schema):
    carrier_code: str
    numbers: list[str]


class ValidateOut(Schema):
    valid: bool
    number: str
    kind: str | None = Field(None, description="rp14, s10 или null (собственный номер перевозчика)")
    carrier_code: str = ""
    error: str


class LowOut(Schema):
    carrier_code: str
    kind: str = Field("", description="rp14 или s10")
    series: str = Field("", description="для S10: первая буква кода услуги (E, C, R…)")
    remaining: int
    threshold: int
