from __future__ import annotations

from datetime import date, datetime

from ninja import Schema
from pydantic import Field

from shipdesk.core.apitypes import DbId


class BatchOut(Schema):
    id: int
    number: str
    carrier_code: str
    carrier_account_id: int | None
    mail_type: str
    mail_category: str
    shipping_date: date
    drop_off_point: str
    state: str
    carrier_batch_id: str
    closed_at: datetime | None
    parcel_count: int
    created_at: datetime
    # the documents this batch's carrier uses (POST /batches/{id}/documents "kind")
    document_kinds: list[str] = Field(default_factory=list,
                                      examples=[["labels_a4", "handover_act", "batch_print"]])


class BatchCreateIn(Schema):
    shipment_ids: list[DbId] = Field(min_length=1, max_length=20000)
    shipping_date: date | None = None


class AutoGroupIn(Schema):
    shipping_date: date | None = None


class ShipmentIdsIn(Schema):
    shipment_ids: list[DbId] = Field(min_length=1, max_length=20000)


class MoveIn(Schema):
    shipment_ids: list[DbId] = Field(min_length=1, max_length=20000)
    to_batch_id: DbId


class DocumentIn(Schema):
    kind: str = Field(examples=["f103_pdf"])


class DocumentOut(Schema):
    id: int
    batch_id: int
    kind: str
    status: str
    progress: int
    frozen: bool
    stale: bool
    error: str
    filename: str
    size: int
    content_hash: str
    generated_at: datetime | None
    download_url: str | None


class CertificateIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    pkcs12_base64: str
    password: str = ""


class CertificateOut(Schema):
    id: int
    name: str
    subject: str
    not_before: datetime | None
    not_after: datetime | None
    is_demo: bool
    is_active: bool


class CourierOrderIn(Schema):
    """A courier to collect the batch at the sender's address (CDEK: a pick-up request)."""

    day: date
    time_from: str = Field(examples=["10:00"], description="ЧЧ:ММ")
    time_to: str = Field(examples=["18:00"], description="ЧЧ:ММ")
    comment: str = Field("", max_length=255)


class CourierPickupOut(Schema):
    id: int
    batch_id: int
    carrier_id: str
    number: str = Field(description="номер заявки у перевозчика (после её проверки)")
    state: str = Field(description="код состояния у перевозчика, напр. ACCEPTED, CREATED, "
                                   "APPOINTED_COURIER, DONE, REMOVED, INVALID")
    state_name: str
    error: str = Field(description="ответ перевозчика, если он отклонил заявку")
    day: date
    time_from: str
    time_to: str
    address: str
    created_at: datetime
