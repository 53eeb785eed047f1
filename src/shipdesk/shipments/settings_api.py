"""Senders and delivery rules REST API (/api/v1/shipments/senders/, /delivery-rules/):
thin, every rule is in shipments/senders.py and shipments/delivery_rules.py."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ninja import Field, Router, Schema, Status

from shipdesk.core.apitypes import INTEGER_MAX, DbId, PositiveInt, PositiveSmallInt
from shipdesk.core.typing import ApiRequest
from shipdesk.shipments import delivery_rules as rules
from shipdesk.shipments import senders
from shipdesk.shipments.models import DeliveryRule

router = Router(tags=["senders and delivery rules"])


# --- senders -----------------------------------------------------------------------------

class SenderIn(Schema):
    name: str = Field(..., description="название, напр. «Склад на Мясницкой»")
    contact_name: str = ""
    company: str = ""
    phone: str = Field("", description="любая запись; хранится в E.164")
    email: str = ""
    index: str = Field(..., description="6 цифр")
    region: str = Field("", description="пусто: по индексу")
    district: str = ""
    city: str
    street: str = ""
    house: str = ""
    building: str = ""
    apartment: str = ""
    drop_off_point: str = Field(
        "", description="индекс отделения или код пункта перевозчика, где сдаются отправления;"
                        " пусто: индекс отправителя")
    is_default: bool = Field(False, description="сделать отправителем по умолчанию")


class SenderPatch(Schema):
    name: str | None = None
    contact_name: str | None = None
    company: str | None = None
    phone: str | None = None
    email: str | None = None
    index: str | None = None
    region: str | None = None
    district: str | None = None
    city: str | None = None
    street: str | None = None
    house: str | None = None
    building: str | None = None
    apartment: str | None = None
    drop_off_point: str | None = None


class SenderOut(Schema):
    id: int
    name: str
    contact_name: str
    company: str
    phone: str
    email: str
    index: str
    region: str
    district: str
    city: str
    street: str
    house: str
    building: str
    apartment: str
    drop_off_point: str
    is_default: bool


@router.get("/senders/", response=list[SenderOut], summary="Отправители")
def sender_list(request: ApiRequest) -> Any:
    return list(senders.sender_list(actor=request.auth))


@router.post("/senders/", response={201: SenderOut}, summary="Добавить отправителя")
def sender_create(request: ApiRequest, payload: SenderIn) -> Any:
    return Status(201, senders.sender_create(actor=request.auth, **payload.dict()))


@router.get("/senders/{sender_profile_id}", response=SenderOut, summary="Отправитель")
def sender_get(request: ApiRequest, sender_profile_id: DbId) -> Any:
    return senders.sender_get(actor=request.auth, sender_id=sender_profile_id)


@router.patch("/senders/{sender_profile_id}", response=SenderOut, summary="Изменить отправителя")
def sender_update(request: ApiRequest, sender_profile_id: DbId, payload: SenderPatch) -> Any:
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    return senders.sender_update(actor=request.auth, sender_id=sender_profile_id, **changes)


@router.delete("/senders/{sender_profile_id}", response={204: None},
               summary="Удалить отправителя (нельзя, если он указан в отправлениях)")
def sender_delete(request: ApiRequest, sender_profile_id: DbId) -> Any:
    senders.sender_delete(actor=request.auth, sender_id=sender_profile_id)
    return Status(204, None)


@router.post("/senders/{sender_profile_id}/default", response=SenderOut,
             summary="Сделать отправителем по умолчанию")
def sender_set_default(request: ApiRequest, sender_profile_id: DbId) -> Any:
    return senders.sender_set_default(actor=request.auth, sender_id=sender_profile_id)


# --- delivery rules ------------------------------------------------------------------------

class DeliveryRuleIn(Schema):
    name: str
    is_active: bool = True
    index_prefixes: str | list[str] = Field(
        "", description="начала индексов получателя (1–6 цифр) через запятую или списком")
    min_weight_g: PositiveInt | None = None
    max_weight_g: PositiveInt | None = None
    cod: str = Field("", description="with, without или пусто (любой)")
    delivery: str = Field("", description="pickup, door или пусто (любая)")
    destination: str = Field("", description="domestic, international или пусто (любое)")
    carrier_account_id: DbId
    service_code: str = Field("", description="вид отправления / тариф; пусто: не задан")
    position: int | None = Field(None, ge=1, le=INTEGER_MAX,
                                 description="место в списке (1 — первое); пусто: в конец")
    sources: str | list[str] = Field("", description=(
        "откуда заказ: api, upload, ui, insales, bitrix, shopscript, amocrm, shop_webhook, "
        "moysklad; пусто: откуда угодно"))
    min_value: Decimal | None = Field(None, description="сумма заказа от, ₽")
    max_value: Decimal | None = Field(None, description="сумма заказа до, ₽")
    default_weight_g: PositiveInt | None = Field(None, description="вес, если в заказе нет")
    default_length_cm: PositiveInt | None = None
    default_width_cm: PositiveInt | None = None
    default_height_cm: PositiveInt | None = None
    options: list[str] = Field([], description=(
        "доп. услуги: fragile, sms_notice, inventory, completeness_checking, courier, "
        "with_simple_notice, with_order_of_notice"))
    insure: bool = Field(False, description="объявленная ценность = сумма заказа")
    sender_id: DbId | None = Field(None, description="адрес отправителя, если в заказе нет")
    notify_channels: list[str] | None = Field(None, description=(
        "уведомления получателю только по этим каналам (sms, email, webhook); [] — без "
        "уведомлений; null — как в настройках уведомлений"))


class DeliveryRulePatch(Schema):
    name: str | None = None
    is_active: bool | None = None
    index_prefixes: str | list[str] | None = None
    min_weight_g: PositiveInt | None = Field(None, description="null: без ограничения")
    max_weight_g: PositiveInt | None = Field(None, description="null: без ограничения")
    cod: str | None = None
    delivery: str | None = None
    destination: str | None = None
    carrier_account_id: DbId | None = None
    service_code: str | None = None
    sources: str | list[str] | None = None
    min_value: Decimal | None = Field(None, description="null: без ограничения")
    max_value: Decimal | None = Field(None, description="null: без ограничения")
    default_weight_g: PositiveInt | None = Field(None, description="null: не задан")
    default_length_cm: PositiveInt | None = None
    default_width_cm: PositiveInt | None = None
    default_height_cm: PositiveInt | None = None
    options: list[str] | None = None
    insure: bool | None = None
    sender_id: DbId | None = Field(None, description="null: не задан")
    notify_channels: list[str] | None = Field(None, description="null: как в настройках")


class DeliveryRuleMoveIn(Schema):
    position: int = Field(..., ge=1, le=INTEGER_MAX, description="новое место в списке (1 — первое)")


class DeliveryRuleOut(Schema):
    id: int
    position: int
    name: str
    is_active: bool
    index_prefixes: list[str]
    min_weight_g: int | None
    max_weight_g: int | None
    cod: str
    delivery: str
    destination: str
    carrier_account_id: int
    carrier_code: str
    service_code: str
    sources: list[str]
    min_value: Decimal | None
    max_value: Decimal | None
    default_weight_g: int | None
    default_length_cm: int | None
    default_width_cm: int | None
    default_height_cm: int | None
    options: list[str]
    insure: bool
    sender_id: int | None
    notify_channels: list[str] | None
    description: str = Field(description="правило словами")


def _rule_out(rule: DeliveryRule, names: dict[tuple[str, str], str] | None = None) -> dict[str, Any]:
    facts = rules.delivery_rule_facts(rule)
    return {
        "id": rule.pk, "position": rule.position, "name": rule.name, "is_active": rule.is_active,
        "index_prefixes": list(facts.index_prefixes), "min_weight_g": rule.min_weight_g,
        "max_weight_g": rule.max_weight_g, "cod": rule.cod, "delivery": rule.delivery,
        "destination": rule.destination, "carrier_account_id": rule.carrier_account_id,
        "carrier_code": facts.carrier_code, "service_code": rule.service_code,
        "sources": list(facts.sources), "min_value": rule.min_value, "max_value": rule.max_value,
        "default_weight_g": rule.default_weight_g, "default_length_cm": rule.default_length_cm,
        "default_width_cm": rule.default_width_cm, "default_height_cm": rule.default_height_cm,
        "options": sorted(rule.options or {}), "insure": rule.insure, "sender_id": rule.sender_id,
        "notify_channels": rule.notify_channels,
        "description": rules.rule_describe(
            facts, service_names=rules.service_names() if names is None else names),
    }


@router.get("/delivery-rules/", response=list[DeliveryRuleOut], summary="Правила выбора перевозчика")
def rule_list(request: ApiRequest) -> Any:
    names = rules.service_names()
    return [_rule_out(r, names) for r in rules.delivery_rule_list(actor=request.auth)]


@router.post("/delivery-rules/", response={201: DeliveryRuleOut}, summary="Добавить правило")
def rule_create(request: ApiRequest, payload: DeliveryRuleIn) -> Any:
    rule = rules.delivery_rule_create(actor=request.auth, **payload.dict())
    return Status(201, _rule_out(rules.delivery_rule_get(actor=request.auth, rule_id=rule.pk)))


class DryRunRowOut(Schema):
    shipment_id: int
    order_number: str
    source: str
    rule_id: int | None
    rule_name: str
    carrier: str = Field(description="договор (и вид), который выбрало бы правило")
    fills: dict[str, Any] = Field(description="что правило заполнило бы в заказе: поле → значение")
    note: str


@router.get("/delivery-rules/dry-run", response=list[DryRunRowOut],
            summary="Проверка правил на последних заказах (ничего не меняет)")
def rule_dry_run(request: ApiRequest, limit: PositiveSmallInt = 50) -> Any:
    rows = rules.delivery_rules_dry_run(actor=request.auth, limit=limit)
    return [{"shipment_id": r.shipment_id, "order_number": r.order_number, "source": r.source,
             "rule_id": r.rule.id if r.rule else None, "rule_name": r.rule.name if r.rule else "",
             "carrier": r.carrier, "fills": r.fills, "note": r.note} for r in rows]


@router.get("/delivery-rules/{delivery_rule_id}", response=DeliveryRuleOut, summary="Правило")
def rule_get(request: ApiRequest, delivery_rule_id: DbId) -> Any:
    return _rule_out(rules.delivery_rule_get(actor=request.auth, rule_id=delivery_rule_id))


@router.patch("/delivery-rules/{delivery_rule_id}", response=DeliveryRuleOut, summary="Изменить правило")
def rule_update(request: ApiRequest, delivery_rule_id: DbId, payload: DeliveryRulePatch) -> Any:
    changes = payload.dict(exclude_unset=True)
    # null clears a bound, a default or the sender, and puts notifications back to the
    # settings; for the other fields it means "unchanged"
    nullable = {"min_weight_g", "max_weight_g", "min_value", "max_value", "default_weight_g",
                "default_length_cm", "default_width_cm", "default_height_cm", "sender_id",
                "notify_channels"}
    changes = {k: v for k, v in changes.items() if v is not None or k in nullable}
    rule = rules.delivery_rule_update(actor=request.auth, rule_id=delivery_rule_id, **changes)
    return _rule_out(rule)


@router.delete("/delivery-rules/{delivery_rule_id}", response={204: None},
               summary="Удалить правило")
def rule_delete(request: ApiRequest, delivery_rule_id: DbId) -> Any:
    rules.delivery_rule_delete(actor=request.auth, rule_id=delivery_rule_id)
    return Status(204, None)


@router.post("/delivery-rules/{delivery_rule_id}/move", response=list[DeliveryRuleOut],
             summary="Переставить правило; ответ — все правила по порядку")
def rule_move(request: ApiRequest, delivery_rule_id: DbId, payload: DeliveryRuleMoveIn) -> Any:
    rules.delivery_rule_move(actor=request.auth, rule_id=delivery_rule_id,
                             position=payload.position)
    names = rules.service_names()
    return [_rule_out(r, names) for r in rules.delivery_rule_list(actor=request.auth)]

