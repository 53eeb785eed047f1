"""The integrations domain's tables."""


# --- Shop platforms ---
# (shops18: connections of InSales, 1C-Bitrix, Shop-Script, amoCRM and the generic order
# webhook; what they sent; which order became which shipment. See integrations/shops/.)

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.crypto import EncryptedJSONField
from shipdesk.core.models import TenantModel


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
