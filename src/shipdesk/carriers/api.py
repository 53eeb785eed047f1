"""Carrier accounts REST API (/api/v1/carriers/): thin; secrets are accepted, never returned."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from shipdesk.carriers import registry, selectors, services
from shipdesk.carriers.base import CarrierError
from shipdesk.core.apitypes import DbId, PositiveInt
from shipdesk.core.errors import Conflict, NotFound
from shipdesk.core.typing import ApiRequest
from shipdesk.tenancy.permissions import Perm

router = Router(tags=["carriers"])


class CarrierOut(Schema):
    code: str
    name: str
    default_base_url: str
    credential_fields: list[dict[str, Any]]
    capabilities: list[str]


class AccountIn(Schema):
    carrier_code: str
    name: str
    base_url: str = Field("", description="пусто: адрес API перевозчика по умолчанию")
    credentials: dict[str, str] = Field(default_factory=dict, description="по полям перевозчика")
    settings: dict[str, Any] = Field(default_factory=dict)


class AccountPatch(Schema):
    name: str | None = None
    base_url: str | None = None
    credentials: dict[str, str] | None = Field(None, description="пустое поле: не менять")
    settings: dict[str, Any] | None = None
    is_active: bool | None = None


class AccountOut(Schema):
    id: int
    carrier_code: str
    carrier_name: str
    name: str
    base_url: str
    is_sandbox: bool
    is_active: bool
    settings: dict[str, Any]
    credentials_set: list[str] = Field(description="какие учётные данные заданы (без значений)")
    capabilities: list[str]
    last_checked_at: datetime | None
    last_check_error: str
    webhook_url: str = ""


class CheckOut(Schema):
    ok: bool
    message: str
    code: str


class PickupPointOut(Schema):
    code: str
    name: str
    index: str
    city: str
    address: str
    work_hours: str
    latitude: float | None
    longitude: float | None
    is_locker: bool


class ExchangeOut(Schema):
    id: int
    account_id: int | None
    shipment_id: int | None
    created_at: datetime
    method: str
    url: str
    status: int | None
    duration_ms: int
    attempt: int
    request_headers: dict[str, Any]
    request_body: str
    response_headers: dict[str, Any]
    response_body: str
    error: str


class WebhookOut(Schema):
    accepted: int


def _out(request: ApiRequest, account: Any) -> dict[str, Any]:
    data = selectors.carrier_account_public(account)
    # the address carries its secret token: owners only (other roles get "")
    if request.auth.can(Perm.VIEW_SECRETS):
        data["webhook_url"] = request.build_absolute_uri(
            f"/api/v1/carriers/webhooks/{account.webhook_token}")
    return data


@router.get("/carriers", response=list[CarrierOut], summary="Доступные перевозчики")
def carriers(request: ApiRequest) -> Any:
    return selectors.carrier_choices()


@router.get("/accounts", response=list[AccountOut], summary="Договоры с перевозчиками")
def account_list(request: ApiRequest) -> Any:
    return [_out(request, a) for a in selectors.carrier_account_list(actor=request.auth)]


@router.post("/accounts", response={201: AccountOut}, summary="Подключить договор")
def account_create(request: ApiRequest, payload: AccountIn) -> Any:
    account = services.carrier_account_create(actor=request.auth, **payload.dict())
    return Status(201, _out(request, account))


@router.get("/accounts/{account_id}", response=AccountOut)
def account_get(request: ApiRequest, account_id: DbId) -> Any:
    return _out(request, selectors.carrier_account_get(actor=request.auth, account_id=account_id))


@router.patch("/accounts/{account_id}", response=AccountOut)
def account_update(request: ApiRequest, account_id: DbId, payload: AccountPatch) -> Any:
    account = services.carrier_account_update(
        actor=request.auth, account_id=account_id, **payload.dict(exclude_unset=True)
    )
    return _out(request, account)


@router.delete("/accounts/{account_id}", response={204: None})
def account_delete(request: ApiRequest, account_id: DbId) -> Any:
    services.carrier_account_delete(actor=request.auth, account_id=account_id)
    return Status(204, None)


@router.post("/accounts/{account_id}/test", response=CheckOut, summary="Проверить соединение")
def account_test(request: ApiRequest, account_id: DbId) -> Any:
    return services.carrier_account_test(actor=request.auth, account_id=account_id)


@router.get(
    "/accounts/{account_id}/pickup-points",
    response=list[PickupPointOut],
    summary="Пункты выдачи и постаматы перевозчика",
)
def pickup_points(request: ApiRequest, account_id: DbId, city: str = "", index: str = "") -> Any:
    account = selectors.carrier_account_get(actor=request.auth, account_id=account_id)
    adapter = registry.adapter_for_account(account)
    try:
        points = adapter.pickup_points(city=city, index=index)
    except NotImplementedError:
        raise NotFound("Перевозчик не даёт список пунктов выдачи") from None
    except CarrierError as exc:
        raise Conflict(f"Перевозчик не ответил: {exc}") from exc
    return [
        {
            "code": p.code,
            "name": p.name,
            "index": p.address.index,
            "city": p.address.city,
            "address": p.address.street or p.address.raw,
            "work_hours": p.work_hours,
            "latitude": p.latitude,
            "longitude": p.longitude,
            "is_locker": p.is_locker,
        }
        for p in points
    ]


@router.get("/exchanges", response=list[ExchangeOut], summary="Журнал обмена с перевозчиками")
def exchanges(
    request: ApiRequest, account_id: DbId | None = None, shipment_id: DbId | None = None,
    limit: PositiveInt = 100,
) -> Any:
    return list(
        selectors.carrier_exchange_list(
            actor=request.auth,
            account_id=account_id,
            shipment_id=shipment_id,
            limit=min(max(limit, 1), 500),
        )
    )


@router.post(
    "/webhooks/{token}",
    auth=None,
    response={200: WebhookOut},
    summary="Приём уведомлений перевозчика (адрес с секретным токеном договора)",
)
def webhook(request: HttpRequest, token: str) -> Any:
    headers = {k.lower(): v for k, v in request.headers.items()}
    outcome = services.carrier_webhook_receive(token=token, headers=headers, body=request.body)
    return {"accepted": outcome.accepted}
