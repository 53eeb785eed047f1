from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TimestampedModel
from shipdesk.tenancy import validators


def zone_named(name: str) -> zoneinfo.ZoneInfo:
    """An organization's time zone by its stored name; Moscow when the name is not a zone."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Moscow")


class Organization(TimestampedModel):
    """A shop or a sender: the tenant every other row belongs to."""

    name = models.CharField(_("название"), max_length=200)
    legal_name = models.CharField(_("полное наименование"), max_length=500, blank=True)
    inn = models.CharField(_("ИНН"), max_length=12, blank=True, validators=[validators.validate_inn])
    kpp = models.CharField(_("КПП"), max_length=9, blank=True, validators=[validators.validate_kpp])
    ogrn = models.CharField(_("ОГРН"), max_length=15, blank=True,
                            validators=[validators.validate_ogrn])
    legal_address = models.CharField(_("юридический адрес"), max_length=500, blank=True)
    postal_address = models.CharField(_("почтовый адрес"), max_length=500, blank=True)
    phone = models.CharField(_("телефон"), max_length=20, blank=True)
    email = models.EmailField(_("e-mail"), blank=True)
    bank_name = models.CharField(_("банк"), max_length=300, blank=True)
    bik = models.CharField(_("БИК"), max_length=9, blank=True, validators=[validators.validate_bik])
    bank_account = models.CharField(_("расчётный счёт"), max_length=20, blank=True)
    correspondent_account = models.CharField(_("корр. счёт"), max_length=20, blank=True)
    timezone = models.CharField(_("часовой пояс"), max_length=64, default="Europe/Moscow")
    logo = models.ImageField(_("логотип"), upload_to="logos/", blank=True)

    class Meta:
        verbose_name = _("организация")
        verbose_name_plural = _("организации")

    def __str__(self) -> str:
        return self.name

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zone_named(self.timezone)


class Role(models.TextChoices):
    OWNER = "owner", _("Владелец")
    OPERATOR = "operator", _("Оператор")
    ACCOUNTANT = "accountant", _("Бухгалтер")
    VIEWER = "viewer", _("Наблюдатель")


class Membership(TimestampedModel):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="memberships")
    role = models.CharField(_("роль"), max_length=20, choices=Role.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_uniq")
        ]


class Invitation(TimestampedModel):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="invitations")
    email = models.EmailField(_("e-mail"))
    role = models.CharField(_("роль"), max_length=20, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, related_name="+")
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)


class ApiKey(TimestampedModel):
    """A key an integration uses. Only its SHA-256 is stored; the key is shown once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="api_keys")
    name = models.CharField(_("название"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    role = models.CharField(_("роль"), max_length=20, choices=Role.choices, default=Role.OPERATOR)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL,
                                   null=True, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class AuditEntry(models.Model):
    """Who did what, when. Written by services, never by views."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE,
                                     related_name="audit_entries")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             related_name="+")
    api_key = models.ForeignKey(ApiKey, on_delete=models.SET_NULL, null=True, related_name="+")
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "-created_at"])]
