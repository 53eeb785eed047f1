"""The integrations REST API (/api/v1/integrations/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from ninja import Field, Router, Schema, Status

from shipdesk.core.apitypes import DbId
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
