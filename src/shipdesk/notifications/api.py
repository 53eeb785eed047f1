"""/api/v1/notifications/: settings, rules, channels, templates, preview, outbox, reports."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from pydantic import BeforeValidator, field_validator

from shipdesk.core.apitypes import DbId, Omitted, PositiveSmallInt, refuse_null
from shipdesk.core.typing import ApiRequest
from shipdesk.notifications import selectors, services
from shipdesk.notifications.models import Message
from shipdesk.tenancy.permissions import Perm

router = Router(tags=["notifications"])


# The sending window is a wall-clock time in the recipient's zone, without an offset: not
# JSON Schema's "time" format (RFC 3339 wants one), so plain text of a documented shape.
LocalTime = Annotated[str, BeforeValidator(lambda v: v.isoformat() if isinstance(v, dt.time) else v),
                      Field(pattern=r"^\d{2}:\d{2}(:\d{2}(\.\d+)?)?$",
                            description="местное время получателя, ЧЧ:ММ:СС")]


class SettingsOut(Schema):
    window_start: LocalTime
    window_end: LocalTime
    sms_segment_warn: int
    sms_segment_limit: int
    review_url: str
    shop_phone: str
    staff_email: str
    sms_gateway: str


class SettingsIn(Schema):
    window_start: dt.time | Omitted = None
    window_end: dt.time | Omitted = None
    sms_segment_warn: PositiveSmallInt | Omitted = None
    sms_segment_limit: PositiveSmallInt | Omitted = None
    review_url: str | None = Field(None, description="null или пусто: нет ссылки")
    shop_phone: str | None = None
    staff_email: str | None = None
    sms_gateway: str | None = None

    _no_null = refuse_null("window_start", "window_end", "sms_segment_warn", "sms_segment_limit")

    @field_validator("window_start", "window_end")
    @classmethod
    def _local_time(cls, value: dt.time | None) -> dt.time | None:
        # an offset would mean nothing here (and made a 500 before)
        if value is not None and value.tzinfo is not None:
            raise ValueError(_("Время окна — местное время получателя: без часового пояса, ЧЧ:ММ"))
        return value


class NotificationRuleOut(Schema):
    kind: str
    enabled: bool
    channels: list[str]
    fallback: bool
    interval_days: int
    max_reminders: int


class NotificationRuleIn(Schema):
    enabled: bool | None = None
    channels: list[str] | None = None
    fallback: bool | None = None
    interval_days: PositiveSmallInt | None = None
    max_reminders: PositiveSmallInt | None = None


class ChannelIn(Schema):
    gateway: str
    enabled: bool = True
    config: dict[str, Any]


class ChannelOut(Schema):
    gateway: str
    enabled: bool
    configured_keys: list[str]


class TestSendIn(Schema):
    to: str


class TemplateIn(Schema):
    rule: str
    channel: str
    subject: str = ""
    body: str


class TemplateOut(Schema):
    rule: str
    channel: str
    subject: str
    body: str


class PreviewIn(Schema):
    channel: str
    subject: str = ""
    body: str


class PreviewOut(Schema):
    subject: str
    body: str
    sms: dict[str, Any] | None
    warnings: list[str]
    blocked: bool


class SuppressionIn(Schema):
    channel: str
    address: str


class MessageOut(Schema):
    id: int
    shipment_id: int
    order_number: str
    rule: str
    occurrence: int
    channel: str
    gateway: str
    recipient: str
    status: str
    due_at: dt.datetime | None
    attempts: int
    subject: str
    body: str
    segments: int
    cost: Decimal
    error: str
    sent_at: dt.datetime | None
    delivered_at: dt.datetime | None

    @staticmethod
    def resolve_order_number(obj: Message) -> str:
        return obj.shipment.order_number


class OutboxPage(Schema):
    items: list[MessageOut]
    next_before_id: int | None


@router.get("/settings/", response=SettingsOut)
def get_settings(request: ApiRequest) -> Any:
    request.auth.require(Perm.VIEW)
    return services.settings_ensure(organization=request.auth.organization)


@router.patch("/settings/", response=SettingsOut)
def patch_settings(request: ApiRequest, payload: SettingsIn) -> Any:
    return services.settings_update(actor=request.auth, **payload.dict(exclude_unset=True))


@router.get("/rules/", response=list[NotificationRuleOut])
def list_rules(request: ApiRequest) -> Any:
    request.auth.require(Perm.VIEW)
    return selectors.rules_list(actor=request.auth)


@router.patch("/rules/{kind}/", response=NotificationRuleOut)
def patch_rule(request: ApiRequest, kind: str, payload: NotificationRuleIn) -> Any:
    return services.rule_update(actor=request.auth, kind=kind, **payload.dict(exclude_unset=True))


def _channel_out(c: Any) -> dict[str, Any]:
    return {"gateway": c.gateway, "enabled": c.enabled, "configured_keys": sorted(c.config)}


@router.get("/channels/", response=list[ChannelOut])
def list_channels(request: ApiRequest) -> Any:
    request.auth.require(Perm.MANAGE_SETTINGS)
    return [_channel_out(c) for c in selectors.channels_list(actor=request.auth)]


@router.post("/channels/", response={201: ChannelOut})
def save_channel(request: ApiRequest, payload: ChannelIn) -> Any:
    obj = services.channel_config_save(actor=request.auth, gateway=payload.gateway,
                                       config=payload.config, enabled=payload.enabled)
    return Status(201, _channel_out(obj))


@router.post("/channels/{gateway}/test/", response=dict[str, str])
def test_channel(request: ApiRequest, gateway: str, payload: TestSendIn) -> Any:
    return {"result": services.channel_test_send(actor=request.auth, gateway=gateway,
                                                 to=payload.to)}


@router.get("/templates/", response=list[TemplateOut])
def list_templates(request: ApiRequest) -> Any:
    request.auth.require(Perm.VIEW)
    return selectors.templates_list(actor=request.auth)


@router.post("/templates/", response={201: TemplateOut})
def save_template(request: ApiRequest, payload: TemplateIn) -> Any:
    return Status(201, services.template_save(actor=request.auth, **payload.dict()))


@router.post("/templates/preview/", response=PreviewOut)
def preview_template(request: ApiRequest, payload: PreviewIn) -> Any:
    return services.template_preview(actor=request.auth, **payload.dict())


class SuppressionOut(Schema):
    id: int
    channel: str
    address: str
    source: str
    created_at: dt.datetime


@router.post("/suppressions/", response={201: SuppressionOut})
def add_suppression(request: ApiRequest, payload: SuppressionIn) -> Any:
    return Status(201, services.suppression_add(actor=request.auth, channel=payload.channel,
                                                address=payload.address))


@router.get("/suppressions/", response=list[SuppressionOut])
def list_suppressions(request: ApiRequest, q: str = "") -> Any:
    request.auth.require(Perm.VIEW)
    return selectors.suppressions_list(actor=request.auth, q=q)


@router.delete("/suppressions/{suppression_id}/", response={204: None})
def remove_suppression(request: ApiRequest, suppression_id: DbId) -> Any:
    services.suppression_remove(actor=request.auth, suppression_id=suppression_id)
    return Status(204, None)


@router.get("/outbox/", response=OutboxPage)
def list_outbox(request: ApiRequest, status: str = "", rule: str = "",
                shipment_id: DbId | None = None, before_id: DbId | None = None) -> Any:
    request.auth.require(Perm.VIEW)
    items = selectors.outbox_list(actor=request.auth, status=status, rule=rule,
                                  shipment_id=shipment_id, before_id=before_id, limit=50)
    return {"items": items, "next_before_id": items[-1].pk if len(items) == 50 else None}


@router.get("/outbox/{message_id}/", response=MessageOut)
def get_message(request: ApiRequest, message_id: DbId) -> Any:
    request.auth.require(Perm.VIEW)
    return selectors.outbox_get(actor=request.auth, message_id=message_id)


@router.post("/outbox/{message_id}/requeue/", response=MessageOut)
def requeue_message(request: ApiRequest, message_id: DbId) -> Any:
    return services.outbox_requeue(actor=request.auth, message_id=message_id)


@router.get("/reports/", response=dict[str, Any])
def report(request: ApiRequest) -> Any:
    request.auth.require(Perm.VIEW)
    data = selectors.notifications_report(actor=request.auth)
    data["sms_cost"] = str(data["sms_cost"])
    for r in data["by_rule"]:
        r["cost"] = str(r["cost"])
    return data
