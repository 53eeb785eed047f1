"""The integrations REST API (/api/v1/integrations/)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from shipdesk.core.errors import NotFound
from shipdesk.core.typing import ApiRequest

router = Router(tags=["integrations"])


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
    order_ids: list[int]


@router.post("/moysklad/labels", summary="Ярлыки всех перевозчиков по выбранным заказам (PDF)")
def moysklad_labels(request: ApiRequest, payload: LabelsIn) -> HttpResponse:
    from shipdesk.integrations.moysklad import services

    pdf = services.orders_labels_pdf(actor=request.auth, order_ids=payload.order_ids)
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="moysklad-labels.pdf"'
    return response
