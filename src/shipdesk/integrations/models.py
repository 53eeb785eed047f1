"""The integrations domain's tables."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.crypto import EncryptedJSONField
from shipdesk.core.models import TenantModel

# --- MoySklad ---------------------------------------------------------------------------

MOYSKLAD_API = "https://api.moysklad.ru/api/remap/1.2"


def new_moysklad_webhook_token() -> str:
    return secrets.token_urlsafe(32)


class MoySkladConnection(TenantModel):
    """One MoySklad account connected to an organization: how to reach it, which state of a
    customer order starts a delivery, and how our statuses map to the account's states.

    ``due_at``: when the connection's work (fetch the orders webhooks named, register them,
    write back, post the accounting operations) is due; the sweep hands it out."""

    name = models.CharField(_("название"), max_length=200, default="МойСклад")
    base_url = models.URLField(_("адрес API"), max_length=300, default=MOYSKLAD_API)
    credentials = EncryptedJSONField(_("учётные данные"), blank=True)  # token / login+password
    account_id = models.CharField(max_length=64, blank=True)  # MoySklad's accountId
    webhook_token = models.CharField(max_length=64, unique=True,
                                     default=new_moysklad_webhook_token)
    webhook_ids = models.JSONField(default=list, blank=True)  # MoySklad's webhook ids
    # the account's own states and custom fields of customer orders (read at connect)
    states = models.JSONField(default=list, blank=True)  # [{id, name, stateType}]
    attributes = models.JSONField(default=list, blank=True)  # [{id, name, type}]
    organization_href = models.CharField(max_length=300, blank=True)  # our seller entity
    trigger_state_id = models.CharField(_("состояние-триггер"), max_length=64, blank=True)
    problem_state_id = models.CharField(_("состояние «проблема»"), max_length=64, blank=True)
    completed_state_id = models.CharField(_("состояние «выполнен»"), max_length=64, blank=True)
    returned_state_id = models.CharField(_("состояние «возврат»"), max_length=64, blank=True)
    # Shipdesk status ("numbered", "in_transit", "delivered", ...) -> the account's state id
    state_map = models.JSONField(default=dict, blank=True)
    tracking_attribute_id = models.CharField(_("поле для трек-номера"), max_length=64,
                                             blank=True)
    delivery_attribute_id = models.CharField(_("поле «способ доставки»"), max_length=64,
                                             blank=True)
    # a value of the delivery field -> "carrier_code" or "carrier_code:service_code"
    delivery_map = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    paused_reason = models.TextField(blank=True)  # e.g. the token was revoked
    paused_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    feed_last_id = models.BigIntegerField(default=0)  # tracking's status-change feed
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = _("подключение МоегоСклада")

    def __str__(self) -> str:
        return self.name

    def state_name(self, state_id: str) -> str:
        return next((s["name"] for s in self.states if s.get("id") == state_id), "")


class MoySkladOrder(TenantModel):
    """A customer order of a connected account that reached us: its shipment, what we last
    wrote to it (so that a state a person set afterwards is not overwritten) and its problem."""

    connection = models.ForeignKey(MoySkladConnection, on_delete=models.CASCADE,
                                   related_name="orders")
    order_id = models.CharField(max_length=64)  # MoySklad's uuid
    name = models.CharField(max_length=64, blank=True)  # the order's number in MoySklad
    state_id = models.CharField(max_length=64, blank=True)  # as last read
    description = models.TextField(blank=True)  # as last read (we append our notes)
    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.SET_NULL, null=True,
                                 blank=True, related_name="+")
    fetch_due = models.BooleanField(default=False, db_index=True)  # a webhook named it
    push_due = models.BooleanField(default=False, db_index=True)  # something to write back
    content_hash = models.CharField(max_length=64, blank=True)  # address+positions at intake
    state_we_set = models.CharField(max_length=64, blank=True)
    pushed_tracking = models.CharField(max_length=64, blank=True)
    pushed_status = models.CharField(max_length=32, blank=True)
    pushed_problem = models.TextField(blank=True)
    problem = models.TextField(blank=True)
    problem_kind = models.CharField(max_length=32, blank=True)  # address, delivery, carrier, ...
    edited_in_flight = models.BooleanField(default=False)
    demand_id = models.CharField(max_length=64, blank=True)
    agent_href = models.CharField(max_length=300, blank=True)
    sum_kop = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = _("заказ МоегоСклада")
        constraints = [models.UniqueConstraint(fields=["connection", "order_id"],
                                               name="moysklad_order_once")]
        indexes = [models.Index(fields=["connection", "fetch_due"]),
                   models.Index(fields=["connection", "push_due"])]


class MoySkladWebhookDelivery(TenantModel):
    """A webhook notification received, by its ``requestId`` (MoySklad repeats it)."""

    connection = models.ForeignKey(MoySkladConnection, on_delete=models.CASCADE,
                                   related_name="deliveries")
    request_id = models.CharField(max_length=64)
    events = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "request_id"],
                                               name="moysklad_webhook_once")]


class MoySkladOperation(TenantModel):
    """A document we created in MoySklad (payment, services, return) or a state we set for
    the money, keyed by the ``syncId`` we chose: sent again, it creates nothing twice."""

    class Kind(models.TextChoices):
        DEMAND = "demand", _("Отгрузка")
        PAYMENT_IN = "paymentin", _("Входящий платёж")
        SERVICES_ACCEPTED = "supply", _("Приёмка услуг перевозчика")
        SERVICES_PAID = "paymentout", _("Оплата услуг перевозчика")
        RETURN = "salesreturn", _("Возврат покупателя")
        COMPLETED = "completed", _("Состояние «Выполнен»")
        RETURNED = "returned", _("Состояние «Возврат»")

    connection = models.ForeignKey(MoySkladConnection, on_delete=models.CASCADE,
                                   related_name="operations")
    order = models.ForeignKey(MoySkladOrder, on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sync_id = models.UUIDField()
    entity_id = models.CharField(max_length=64, blank=True)
    sum_kop = models.BigIntegerField(default=0)
    error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "kind"],
                                               name="moysklad_operation_once")]


# --- Shop platforms ---------------------------------------------------------------------
# (connections of InSales, 1C-Bitrix, Shop-Script, amoCRM and the generic order webhook;
# what they sent; which order became which shipment. See integrations/shops/.)

class ShopPlatform(models.TextChoices):
    INSALES = "insales", _("InSales")
    BITRIX = "bitrix", _("1С-Битрикс")
    SHOPSCRIPT = "shopscript", _("Shop-Script (Webasyst)")
    AMOCRM = "amocrm", _("amoCRM")
    GENERIC = "shop_webhook", _("Любой магазин (вебхук Shipdesk)")


class ShopConnection(TenantModel):
    """A shop platform sending its orders to Shipdesk. ``token`` is the public part of the
    webhook address (it names the connection); ``secrets`` holds what the platform signs
    or authenticates with (encrypted): ``secret`` (our HMAC key / the key in the address),
    ``application_token`` (Bitrix), ``api_password`` / ``api_token`` for writing back."""

    platform = models.CharField(_("платформа"), max_length=20, choices=ShopPlatform.choices)
    name = models.CharField(_("название"), max_length=200)
    token = models.CharField(max_length=40, unique=True)
    secrets = EncryptedJSONField(_("ключи"), blank=True)
    # not secret: the shop's API address, its account id / subdomain, the trigger state,
    # the order number prefix
    config = models.JSONField(_("настройки"), default=dict, blank=True)
    is_active = models.BooleanField(_("включено"), default=True)
    last_event_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("подключение магазина")
        verbose_name_plural = _("подключения магазинов")

    def __str__(self) -> str:
        return self.name


class ShopEventOutcome(models.TextChoices):
    CREATED = "created", _("Создано отправление")
    DUPLICATE = "duplicate", _("Повтор: уже принято")
    IGNORED = "ignored", _("Пропущено: не тот статус")
    INVALID = "invalid", _("Ошибка в заказе")
    REFUSED = "refused", _("Отклонено: подпись или ключ")
    FAILED = "failed", _("Не удалось получить заказ")


class ShopEvent(models.Model):
    """One webhook call of a connection and what came of it (the connection page lists the
    last ones)."""

    connection = models.ForeignKey(ShopConnection, on_delete=models.CASCADE,
                                   related_name="events")
    received_at = models.DateTimeField(auto_now_add=True)
    external_id = models.CharField(max_length=100, blank=True)
    outcome = models.CharField(max_length=12, choices=ShopEventOutcome.choices)
    message = models.CharField(max_length=1000, blank=True)
    shipment_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField(default=dict, blank=True)  # trimmed, for a person to look at

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["connection", "-id"])]


class ShopOrder(models.Model):
    """An order of a connection that became a shipment: the idempotency key (one per
    external order id) and the state of writing back to the shop."""

    connection = models.ForeignKey(ShopConnection, on_delete=models.CASCADE,
                                   related_name="orders")
    external_id = models.CharField(max_length=100)
    shipment_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # what was last written back (tracking number, status), and when to look again
    pushed = models.JSONField(default=dict, blank=True)
    push_due_at = models.DateTimeField(null=True, blank=True)
    push_error = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["connection", "external_id"],
                                               name="shop_order_once_per_connection")]
        indexes = [models.Index(fields=["push_due_at"], name="shop_order_push_due",
                                condition=models.Q(push_due_at__isnull=False))]
