from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.crypto import EncryptedJSONField
from shipdesk.core.models import TenantModel


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

    class Meta:
        verbose_name = _("договор с перевозчиком")
        verbose_name_plural = _("договоры с перевозчиками")

    def __str__(self) -> str:
        return self.name
