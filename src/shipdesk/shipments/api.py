"""Shipments REST API (/api/v1/shipments/): thin, every rule is in services/selectors."""


import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpResponse
from ninja import Field, File, Form, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import CursorPagination, paginate

from shipdesk.core.apitypes import BoundedInt, DbId
from shipdesk.core.typing import ApiRequest
from shipdesk.shipments import importing, registration, selectors, services
from shipdesk.shipments.models import Shipment
from shipdesk.shipments.validation import shipment_warnings

router = Router(tags=["shipments"])

Money = Decimal | str | BoundedInt | None
Number = BoundedInt | str | None


class ItemIn(Schema):
    name: str
    article: str = ""
    quantity: Number = 1
    unit_price: Money = None
    weight_g: Number = None
    vat_rate: Number = None
    hs_code: str = ""
    origin_country: str = ""


class ShipmentIn(Schema):
    """One shipment. Money is rubles as a string or number with at most two decimals."""

    order_number: str = Field(..., description="номер заказа магазина, уникален")
    carrier_code: str = Field("", description="перевозчик; пусто: по правилам организации")
    carrier_account_id: DbId | str | None = Field(
        None, description="договор с перевозчиком (id или название); пусто: договор "
                          "перевозчика по умолчанию или по правилам выбора")
    service_code: str = Field("", description="вид отправления, напр. POSTAL_PARCEL")
    mail_category: str = ""
    sender_id: DbId | None = None
    recipient_name: str = Field("", description="ФИО одной строкой (вместо частей)")
    recipient_surname: str = ""
    recipient_given_name: str = ""
    recipient_patronymic: str = ""
    recipient_company: str = ""
    recipient_phone: str = ""
    recipient_email: str = ""
    country: str = "RU"
    index: str = ""
    region: str = ""
    district: str = ""
    city: str = ""
    street: str = ""
    house: str = ""
    building: str = ""
    apartment: str = ""
    address: str = Field("", description="адрес одной строкой (вместо частей)")
    pickup_point_code: str = ""
    weight_g: Number = None
    length_cm: Number = None
    width_cm: Number = None
    height_cm: Number = None
    declared_value: Money = None
    cod_amount: Money = None
    tracking_number: str = ""
    options: dict[str, Any] = {}
    comment: str = ""
    items: list[ItemIn] = []
    draft: bool = Field(False, description="сохранить черновиком: без тарифа и номера")


class ShipmentPatch(Schema):
    carrier_code: str | None = None
    carrier_account_id: DbId | str | None = None
    service_code: str | None = None
    mail_category: str | None = None
    sender_id: DbId | None = None
    recipient_surname: str | None = None
    recipient_given_name: str | None = None
    recipient_patronymic: str | None = None
    recipient_company: str | None = None
    recipient_phone: str | None = None
    recipient_email: str | None = None
    country: str | None = None
    index: str | None = None
    region: str | None = None
    district: str | None = None
    city: str | None = None
    street: str | None = None
    house: str | None = None
    building: str | None = None
    apartment: str | None = None
    address: str | None = None
    pickup_point_code: str | None = None
    weight_g: Number = None
    length_cm: Number = None
    width_cm: Number = None
    height_cm: Number = None
    declared_value: Money = None
    cod_amount: Money = None
    tracking_number: str | None = None
    options: dict[str, Any] | None = None
    comment: str | None = None
    items: list[ItemIn] | None = None
    ready: bool | None = Field(None, description="true: проверить и присвоить номер")


class ItemOut(Schema):
    name: str
    article: str
    quantity: int
    unit_price: Decimal
    weight_g: int
    vat_rate: int | None
    hs_code: str
    origin_country: str


class WarningOut(Schema):
    loc: list[str | int]
    message: str
    code: str


class ShipmentOut(Schema):
    id: int
    order_number: str
    state: str
    carrier_code: str
    carrier_account_id: int | None
    registration: str = Field(description="у перевозчика: pending (передаётся), registered, "
                                          "rejected (см. registration_error), cancelled")
    registration_error: str = Field(description="ответ перевозчика, если он отклонил "
                                                "отправление или недоступен")
    carrier_order_id: str
    numbering_error: str = Field(description="почему номер из пулов не присвоен (нет пула, "
                                             "нет пула S10 для международного, пул исчерпан)")
    service_code: str
    mail_category: str
    sender_id: int | None
    recipient_name: str
    recipient_surname: str
    recipient_given_name: str
    recipient_patronymic: str
    recipient_company: str
    recipient_phone: str
    recipient_email: str
    country: str
    index: str
    region: str
    district: str
    city: str
    street: str
    house: str
    building: str
    apartment: str
    address_as_given: str
    pickup_point_code: str
    weight_g: int | None
    length_cm: int | None
    width_cm: int | None
    height_cm: int | None
    declared_value: Decimal
    cod_amount: Decimal
    shipping_cost: Decimal | None
    unrated_reason: str = Field(description="Почему стоимость не рассчитана (пусто, если "
                                            "рассчитана или ещё черновик)")
    rate_breakdown: list[Any]
    delivery_days_min: int | None
    delivery_days_max: int | None
    tracking_number: str | None
    tracking_status: str
    options: dict[str, Any]
    comment: str
    created_at: datetime
    updated_at: datetime
    warnings: list[WarningOut] = Field(description="Что проверить, хотя отправление принято "
                                                   "(например, адрес не разобран на улицу и дом)")

    @staticmethod
    def resolve_warnings(obj: Shipment) -> list[dict[str, Any]]:
        return [w.as_dict() for w in shipment_warnings(obj)]


class ShipmentDetailOut(ShipmentOut):
    items: list[ItemOut]

    @staticmethod
    def resolve_items(obj: Shipment) -> list[Any]:
        return list(obj.items.all())


class ShipmentListOut(Schema):
    id: int
    order_number: str
    state: str
    carrier_code: str
    registration: str
    service_code: str
    recipient_name: str
    recipient_phone: str
    index: str
    city: str
    weight_g: int | None
    declared_value: Decimal
    cod_amount: Decimal
    shipping_cost: Decimal | None
    unrated_reason: str
    tracking_number: str | None
    tracking_status: str
    created_at: datetime


class ErrorOut(Schema):
    loc: list[str | int]
    message: str
    code: str


class BulkIn(Schema):
    mode: Literal["valid_rows", "all_or_nothing"] = "valid_rows"
    draft: bool = False
    items: list[dict[str, Any]] = Field(
        ..., max_length=services.MAX_ITEMS_PER_CALL,
        description="до 10 000 отправлений, каждое в форме ShipmentIn")


class BulkItemOut(Schema):
    index: int
    ok: bool
    id: int | None
    order_number: str
    state: str
    tracking_number: str | None
    errors: list[ErrorOut]
    warnings: list[ErrorOut]


class BulkOut(Schema):
    created: int
    rejected: int
    rolled_back: bool
    results: list[BulkItemOut]


class ShipmentEventOut(Schema):
    from_state: str
    to_state: str
    reason: str
    data: dict[str, Any]
    user: str | None
    api_key: str | None
    created_at: datetime

    @staticmethod
    def resolve_user(obj: Any) -> str | None:
        return obj.user.get_username() if obj.user_id else None

    @staticmethod
    def resolve_api_key(obj: Any) -> str | None:
        return obj.api_key.name if obj.api_key_id else None


class CancelIn(Schema):
    reason: str = ""


class ListFilters(Schema):
    state: list[str] = Field([], description="состояния (можно несколько)")
    carrier: str = ""
    created_from: date | None = None
    created_to: date | None = None
    order_number: str = ""
    tracking_number: str = ""
    recipient_phone: str = ""
    q: str = Field("", description="поиск: номер заказа, трек-номер, телефон, фамилия")


class ImportJobOut(Schema):
    id: int
    filename: str
    status: str
    mode: str
    total_rows: int
    processed_rows: int
    percent: int
    created_count: int
    skipped_count: int
    rejected_count: int
    unnumbered_count: int
    mapping: dict[str, str]
    units: dict[str, str]
    message: str
    errors: list[dict[str, Any]]
    created_at: datetime
    finished_at: datetime | None


@router.post("/", response={201: ShipmentDetailOut}, summary="Создать отправление")
def create_shipment(request: ApiRequest, payload: ShipmentIn) -> Status[Shipment]:
    data = payload.dict(exclude={"draft"})
    return Status(201, services.shipment_create(actor=request.auth, data=data,
                                                draft=payload.draft))


@router.post("/bulk", response=BulkOut, summary="Создать много отправлений (до 10 000)")
def create_shipments(request: ApiRequest, payload: BulkIn) -> HttpResponse:
    result = services.shipments_create_many(actor=request.auth, items=payload.items,
                                            mode=payload.mode, draft=payload.draft)
    # Up to 10,000 results: serialised directly (the shape is BulkOut's, as documented);
    # validating each result through the output schema would cost more than storing it.
    body = {
        "created": result.created, "rejected": result.rejected,
        "rolled_back": result.rolled_back,
        "results": [{"index": r.ref, "ok": r.ok, "id": r.shipment_id,
                     "order_number": r.order_number, "state": r.state,
                     "tracking_number": r.tracking_number,
                     "errors": [e.as_dict() for e in r.errors],
                     "warnings": [w.as_dict() for w in r.warnings]} for r in result.results],
    }
    return HttpResponse(json.dumps(body, ensure_ascii=False), content_type="application/json")


@router.get("/", response=list[ShipmentListOut], summary="Список отправлений")
@paginate(CursorPagination, ordering=("-id",), page_size=50, max_page_size=500)
def list_shipments(request: ApiRequest, filters: Query[ListFilters]) -> Any:
    return selectors.shipment_list(actor=request.auth, filters=filters.dict())


@router.get("/imports/{job_id}", response=ImportJobOut, summary="Ход загрузки файла")
def get_import(request: ApiRequest, job_id: DbId) -> Any:
    return selectors.import_job_get(actor=request.auth, job_id=job_id)


@router.post("/imports", response={202: ImportJobOut, 200: ImportJobOut},
             summary="Загрузить файл XLSX/XLS/ODS/CSV")
def upload_import(request: ApiRequest, file: File[UploadedFile],
                  mode: Form[Literal["valid_rows", "all_or_nothing"]] = "valid_rows",
                  weight_unit: Form[Literal["", "kg", "g"]] = "") -> Status[Any]:
    """A weight column whose unit neither its header («Вес, кг») nor its values tell
    needs ``weight_unit``; the mapping remembered from the upload page for the same
    headers is used."""
    job, created = importing.import_job_create(actor=request.auth, upload=file, mode=mode,
                                               weight_unit=weight_unit or None)
    return Status(202 if created else 200, job)


@router.get("/{shipment_id}", response=ShipmentDetailOut, summary="Отправление")
def get_shipment(request: ApiRequest, shipment_id: DbId) -> Shipment:
    return selectors.shipment_get(actor=request.auth, shipment_id=shipment_id)


@router.patch("/{shipment_id}", response=ShipmentDetailOut,
              summary="Изменить (пока черновик или проверено)")
def update_shipment(request: ApiRequest, shipment_id: DbId, payload: ShipmentPatch) -> Shipment:
    data = payload.dict(exclude_unset=True)
    services.shipment_update(actor=request.auth, shipment_id=shipment_id, data=data)
    return selectors.shipment_get(actor=request.auth, shipment_id=shipment_id)


@router.post("/{shipment_id}/cancel", response=ShipmentDetailOut, summary="Отменить")
def cancel_shipment(request: ApiRequest, shipment_id: DbId, payload: CancelIn) -> Shipment:
    services.shipment_cancel(actor=request.auth, shipment_id=shipment_id,
                             reason=payload.reason)
    return selectors.shipment_get(actor=request.auth, shipment_id=shipment_id)


@router.post("/{shipment_id}/register", response=ShipmentDetailOut,
             summary="Передать перевозчику (снова, после исправления)")
def register_shipment(request: ApiRequest, shipment_id: DbId) -> Shipment:
    registration.shipment_register(actor=request.auth, shipment_id=shipment_id)
    return selectors.shipment_get(actor=request.auth, shipment_id=shipment_id)


@router.get("/{shipment_id}/history", response=list[ShipmentEventOut], summary="История")
def shipment_history(request: ApiRequest, shipment_id: DbId) -> Any:
    return selectors.shipment_history(actor=request.auth, shipment_id=shipment_id)
