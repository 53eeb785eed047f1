from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.crypto import EncryptedJSONField
from shipdesk.core.models import TenantModel


def new_webhook_token() -> str:
    return secrets.token_urlsafe(32)


class CarrierAccount(TenantModel):
    """An organization's contract with a carrier: which adapter, where, with what secrets."""

    carrier_code = models.CharField(_("перевозчик"), max_length=32)
    name = models.CharField(_("название"), max_length=100)
    base_url = models.URLField(_("адрес API"), max_length=300)
    credentials = EncryptedJSONField(_("учётные данные"), blank=True)
    settings = models.JSONField(_("настройки"), default=dict, blank=True)
    is_sandbox = models.BooleanField(_("песочница"), default=False)
    is_active = models.BooleanField(_("активен"), default=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_error = models.CharField(max_length=500, blank=True)
    # The secret part of this account's webhook URL: carriers such as CDEK do not sign
    # their webhooks, so the unguessable URL is what authenticates them.
    webhook_token = models.CharField(max_length=64, unique=True, default=new_webhook_token,
                                     editable=False)

    class Meta:
        verbose_name = _("договор с перевозчиком")
        verbose_name_plural = _("договоры с перевозчиками")

    def __str__(self) -> str:
        return self.name


class CarrierExchange(TenantModel):
    """One HTTP request to a carrier and its answer, secrets masked: what support looks at."""

    account = models.ForeignKey(CarrierAccount, on_delete=models.CASCADE, related_name="exchanges",
                                null=True, blank=True)
    shipment_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    method = models.CharField(max_length=10)
    url = models.CharField(max_length=1000)
    status = models.PositiveSmallIntegerField(null=True, blank=True)  # None: no answer at all
    duration_ms = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=1)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = _("обмен с перевозчиком")
        verbose_name_plural = _("обмены с перевозчиками")
        indexes = [models.Index(fields=["account", "-created_at"])]
        ordering = ["-created_at", "-id"]


class WebhookInbox(TenantModel):
    """Tracking events received by webhook, kept until the tracking domain takes them
    (used only when ``shipdesk.tracking.services.tracking_events_ingest`` is absent)."""

    account = models.ForeignKey(CarrierAccount, on_delete=models.CASCADE, related_name="+")
    tracking_number = models.CharField(max_length=64, db_index=True)
    occurred_at = models.DateTimeField()
    raw_code = models.CharField(max_length=64)
    status = models.CharField(max_length=32, blank=True)
    payload = models.JSONField(default=dict)
    processed_at = models.DateTimeField(null=True, blank=True)
