"""The integrations REST API (/api/v1/integrations/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from ninja import Field, Router, Schema, Status

from shipdesk.core.apitypes import DbId
from shipdesk.core.errors import NotFound
from shipdesk.core.typing import ApiRequest
from shipdesk.tenancy.permissions import Perm

router = Router(tags=["integrations"])


# Shop platforms
from shipdesk.integrations.shops import intake as shop_intake  # noqa: E402


class ShopConnectionIn(Schema):
    platform: str = Field(description="insales, bitrix, shopscript, amocrm, shop_webhook")
    name: str
    trigger_status: str = Field("", description="статус / этап, в котором создаётся отправление")
    api_url: str = ""
    api_login: str = ""
    api_password: str = ""
    api_token: str = ""
    application_token: str = Field("", description="Битрикс: токен исходящего вебхука")
    account_id: str = Field("", description="amoCRM: id аккаунта")
    pipeline_id: str = ""
    tracking_field: str = ""
    tracking_field_id: str = ""
    order_prefix: str = ""


class ShopConnectionOut(Schema):
    id: int
    platform: str
    name: str
    is_active: bool
    webhook_path: str = Field(description="адрес вебхука (без хоста; с ?key= где нужно)")
    secret: str = Field(description="ключ: подпись HMAC (shop_webhook) или ?key=")
    config: dict[str, Any]
    last_event_at: datetime | None


class ShopEventOut(Schema):
    id: int
    received_at: datetime
    external_id: str
    outcome: str
    message: str
    shipment_id: int | None


def _shop_out(connection: Any, request: ApiRequest) -> dict[str, Any]:
    # the key only to those who may change the connection
    secret = (str(shop_intake.connection_secrets(connection).get("secret", ""))
              if request.auth.can(Perm.MANAGE_SETTINGS) else "")
    path = reverse("integrations:shop_hook", args=[connection.token])
    if connection.platform in ("insales", "amocrm", "shopscript"):
        path += f"?key={secret}"
    return {"id": connection.pk, "platform": connection.platform, "name": connection.name,
            "is_active": connection.is_active, "webhook_path": path, "secret": secret,
            "config": connection.config or {}, "last_event_at": connection.last_event_at}


@router.get("/shops/", response=list[ShopConnectionOut], summary="Подключения магазинов")
def shop_list(request: ApiRequest) -> Any:
    return [_shop_out(c, request) for c in shop_intake.shop_connection_list(actor=request.auth)]


@router.post("/shops/", response={201: ShopConnectionOut}, summary="Подключить магазин")
def shop_create(request: ApiRequest, payload: ShopConnectionIn) -> Any:
    values = payload.dict()
    connection = shop_intake.shop_connection_create(
        actor=request.auth, platform=values.pop("platform"), name=values.pop("name"), **values)
    return Status(201, _shop_out(connection, request))


@router.get("/shops/{shop_connection_id}", response=ShopConnectionOut,
            summary="Подключение магазина")
def shop_get(request: ApiRequest, shop_connection_id: DbId) -> Any:
    return _shop_out(shop_intake.shop_connection_get(actor=request.auth,
                                                     connection_id=shop_connection_id),
                     request)


@router.get("/shops/{shop_connection_id}/events", response=list[ShopEventOut],
            summary="Последние вебхуки подключения и их итог")
def shop_events(request: ApiRequest, shop_connection_id: DbId) -> Any:
    return shop_intake.shop_connection_events(actor=request.auth,
                                              connection_id=shop_connection_id)

# MoySklad
class MoySkladConnectIn(Schema):
    base_url: str = ""
    token: str = ""
    login: str = ""
    password: str = ""


class MoySkladConfigureIn(Schema):
    trigger_state_id: str
    problem_state_id: str = ""
    completed_state_id: str = ""
    returned_state_id: str = ""
    state_map: dict[str, str] = {}
    tracking_attribute_id: str = ""
    delivery_attribute_id: str = ""
    delivery_map: dict[str, str] = {}


class MoySkladStateOut(Schema):
    id: str
    name: str


class MoySkladConnectionOut(Schema):
    base_url: str
    webhook_url: str
    states: list[MoySkladStateOut]
    trigger_state_id: str
    problem_state_id: str
    completed_state_id: str
    returned_state_id: str
    state_map: dict[str, str]
    tracking_attribute_id: str
    delivery_attribute_id: str
    delivery_map: dict[str, str]
    paused: bool
    paused_reason: str


class MoySkladOrderOut(Schema):
    id: int
    order_id: str
    name: str
    shipment_id: int | None
    tracking_number: str
    problem_kind: str
    problem: str
    edited_in_flight: bool


class MoySkladWebhookOut(Schema):
    accepted: int
    duplicate: bool


def _connection_out(connection: Any) -> dict[str, Any]:
    from shipdesk.integrations.moysklad.services import webhook_url

    return {**{f: getattr(connection, f) for f in (
        "base_url", "states", "trigger_state_id", "problem_state_id", "completed_state_id",
        "returned_state_id", "state_map", "tracking_attribute_id", "delivery_attribute_id",
        "delivery_map", "paused_reason")},
        "webhook_url": webhook_url(connection), "paused": connection.paused_at is not None}


@router.get("/moysklad/", response=MoySkladConnectionOut, summary="Подключение МоегоСклада")
def moysklad_get(request: ApiRequest) -> Any:
    from shipdesk.integrations.moysklad import services

    connection = services.connection_get(actor=request.auth)
    if connection is None:
        raise NotFound("МойСклад не подключён")
    return _connection_out(connection)


@router.post("/moysklad/", response=MoySkladConnectionOut,
             summary="Подключить МойСклад (токен или логин и пароль)")
def moysklad_connect(request: ApiRequest, payload: MoySkladConnectIn) -> Any:
    from shipdesk.integrations.moysklad import services

    return _connection_out(services.connection_connect(actor=request.auth, **payload.dict()))


@router.put("/moysklad/rule", response=MoySkladConnectionOut,
            summary="Состояние-триггер, карта статусов, поля для трек-номера")
def moysklad_configure(request: ApiRequest, payload: MoySkladConfigureIn) -> Any:
    from shipdesk.integrations.moysklad import services

    return _connection_out(services.connection_configure(actor=request.auth, **payload.dict()))


@router.get("/moysklad/orders", response=list[MoySkladOrderOut],
            summary="Заказы МоегоСклада: отправления и проблемы")
def moysklad_orders(request: ApiRequest, problems: bool = False) -> Any:
    from shipdesk.integrations.moysklad import selectors

    return selectors.order_rows(actor=request.auth, problems_only=problems, limit=500)


@router.post("/moysklad/webhook/{token}", auth=None, url_name="moysklad_webhook",
             response={200: MoySkladWebhookOut},
             summary="Приём веб-хуков МоегоСклада (адрес с секретным токеном подключения)")
def moysklad_webhook(request: HttpRequest, token: str, requestId: str = "") -> Any:
    from shipdesk.integrations.moysklad import services

    outcome = services.webhook_receive(token=token, request_id=requestId, body=request.body)
    return {"accepted": outcome.accepted, "duplicate": outcome.duplicate}


class LabelsIn(Schema):
    order_ids: list[DbId]


@router.post("/moysklad/labels", summary="Ярлыки всех перевозчиков по выбранным заказам (PDF)")
def moysklad_labels(request: ApiRequest, payload: LabelsIn) -> HttpResponse:
    from shipdesk.integrations.moysklad import services

    pdf = services.orders_labels_pdf(actor=request.auth, order_ids=payload.order_ids)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="moysklad-labels.pdf"'
    return response
