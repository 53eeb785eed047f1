"""Recipient notifications: channel settings, rules, templates, unsubscribes and the outbox.

The outbox (:class:`Message`) is what makes "exactly once" a fact rather than a hope: one row
per (shipment, rule, occurrence, channel), enforced by a UNIQUE constraint; planning inserts
with ``ignore_conflicts``; sending claims rows, and marks them sent only after the gateway
accepted them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.crypto import EncryptedJSONField
from shipdesk.core.models import TenantModel


class RuleKind(models.TextChoices):
    ACCEPTED = "accepted", _("Принято перевозчиком")
    ARRIVED = "arrived", _("Прибыло в пункт выдачи")
    REMINDER = "reminder", _("Напоминание о посылке в пункте выдачи")
    DELIVERED = "delivered", _("Вручено")
    RETURNING = "returning", _("Возврат (для сотрудников магазина)")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")
    WEBHOOK = "webhook", _("Вебхук")


class Gateway(models.TextChoices):
    """How a channel is delivered: the SMTP server, one of the SMS gateways, a webhook."""

    SMTP = "smtp", _("SMTP")
    SMSRU = "smsru", _("SMS.ru")
    SMSC = "smsc", _("SMSC.ru")
    SMSAERO = "smsaero", _("SMS Aero")
    WEBHOOK = "webhook", _("Вебхук")


GATEWAY_CHANNEL: dict[str, str] = {
    Gateway.SMTP: Channel.EMAIL, Gateway.SMSRU: Channel.SMS, Gateway.SMSC: Channel.SMS,
    Gateway.SMSAERO: Channel.SMS, Gateway.WEBHOOK: Channel.WEBHOOK,
}


class ChannelConfig(TenantModel):
    """One gateway of an organization with its (encrypted) credentials.

    ``config`` keys by gateway: smtp — host, port, username, password, use_tls, use_ssl,
    from_email (empty host = the installation's SMTP settings); smsru — api_id, sender;
    smsc — login, password, sender; smsaero — email, api_key, sign; webhook — url, secret.
    Every one may carry ``base_url`` (a sandbox / emulator address).
    """

    gateway = models.CharField(_("шлюз"), max_length=16, choices=Gateway.choices)
    enabled = models.BooleanField(_("включён"), default=True)
    config = EncryptedJSONField(_("настройки"), blank=True, default=dict)
    # the secret part of this gateway's delivery-report callback URL (unguessable, per org)
    callback_token = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "gateway"],
                                               name="notif_channel_gateway_per_org")]

    @property
    def channel(self) -> str:
        return GATEWAY_CHANNEL[self.gateway]


class NotificationSettings(TenantModel):
    """The shop's knobs: the sending window, SMS segment limits, links shown in messages."""

    window_start = models.TimeField(_("начало окна отправки"), default=dt.time(9, 0))
    window_end = models.TimeField(_("конец окна отправки"), default=dt.time(21, 0))
    sms_segment_warn = models.PositiveSmallIntegerField(_("предупреждать, если SMS длиннее (частей)"),
                                                        default=3)
    sms_segment_limit = models.PositiveSmallIntegerField(_("не отправлять SMS длиннее (частей)"),
                                                         default=6)
    review_url = models.URLField(_("ссылка на отзыв"), blank=True)
    shop_phone = models.CharField(_("телефон магазина"), max_length=20, blank=True)
    staff_email = models.EmailField(_("e-mail сотрудников для возвратов"), blank=True)
    sms_gateway = models.CharField(_("SMS-шлюз"), max_length=16, blank=True,
                                   choices=[(g, g.label) for g in (Gateway.SMSRU, Gateway.SMSC,
                                                                    Gateway.SMSAERO)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"],
                                               name="notif_settings_one_per_org")]


class Rule(TenantModel):
    kind = models.CharField(_("событие"), max_length=16, choices=RuleKind.choices)
    enabled = models.BooleanField(_("включено"), default=True)
    # channels in order of preference; with ``fallback`` only the first usable one is used
    channels = models.JSONField(_("каналы"), default=list)
    fallback = models.BooleanField(_("только первый доступный канал"), default=True)
    interval_days = models.PositiveSmallIntegerField(_("интервал напоминаний, дней"), default=5)
    max_reminders = models.PositiveSmallIntegerField(_("напоминаний не более"), default=3)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "kind"],
                                               name="notif_rule_kind_per_org")]


class Template(TenantModel):
    rule = models.CharField(_("событие"), max_length=16, choices=RuleKind.choices)
    channel = models.CharField(_("канал"), max_length=16, choices=Channel.choices)
    subject = models.CharField(_("тема"), max_length=300, blank=True)
    body = models.TextField(_("текст"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "rule", "channel"],
                                               name="notif_template_per_rule_channel")]


class Suppression(TenantModel):
    """A recipient (phone or e-mail) who gets no more messages from this organization."""

    channel = models.CharField(_("канал"), max_length=16, choices=Channel.choices)
    address = models.CharField(_("адрес"), max_length=254)
    source = models.CharField(_("кто отключил"), max_length=16, default="link")  # link | staff

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "channel", "address"],
                                               name="notif_suppression_uniq")]


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("Ожидает отправки")
    SENDING = "sending", _("Отправляется")
    SENT = "sent", _("Отправлено")
    DELIVERED = "delivered", _("Доставлено")
    UNDELIVERED = "undelivered", _("Не доставлено")
    FAILED = "failed", _("Ошибка")
    SKIPPED = "skipped", _("Пропущено")
    UNKNOWN = "unknown", _("Неизвестно (сбой во время отправки)")


class Message(TenantModel):
    """The outbox: one row per (shipment, rule, occurrence, channel)."""

    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE,
                                 related_name="+")
    rule = models.CharField(max_length=16, choices=RuleKind.choices)
    occurrence = models.PositiveSmallIntegerField(default=0)  # reminder number, 0 otherwise
    channel = models.CharField(max_length=16, choices=Channel.choices)
    gateway = models.CharField(max_length=16, choices=Gateway.choices, blank=True)
    recipient = models.CharField(max_length=254, blank=True)
    status = models.CharField(max_length=16, choices=MessageStatus.choices,
                              default=MessageStatus.PENDING)
    due_at = models.DateTimeField(null=True, blank=True)  # null once nothing is left to do
    lease_until = models.DateTimeField(null=True, blank=True)
    attempt_id = models.UUIDField(default=uuid.uuid4)
    # when the current attempt was handed to the gateway (written, with the rendered text,
    # before the gateway is called: recovery asks the gateway about exactly this attempt)
    attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    segments = models.PositiveSmallIntegerField(default=0)
    provider_id = models.CharField(max_length=64, blank=True)
    cost = models.DecimalField(max_digits=10, decimal_places=2, default=Decimal("0"))
    error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["shipment", "rule", "occurrence", "channel"],
            name="notif_message_exactly_once")]
        indexes = [models.Index(fields=["status", "due_at"]),
                   models.Index(fields=["organization", "-created_at"])]


class ShortLink(TenantModel):
    """A short unsubscribe link for SMS: ``/u/<code>`` → (organization, channel, address).
    The code carries 66 bits from a keyed hash, so it cannot be guessed or enumerated."""

    code = models.CharField(max_length=16, unique=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    address = models.CharField(max_length=254)


class FeedCursor(models.Model):
    """A periodic job of this domain: how far it has read the tracking status-change feed
    (``last_id``) and when it runs next (``due_at``, handed out by the due-work sweep)."""

    name = models.CharField(max_length=64, unique=True)
    last_id = models.BigIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
