from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(_("создано"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("изменено"), auto_now=True)

    class Meta:
        abstract = True


class TenantModel(TimestampedModel):
    """A row that belongs to one organization. Every query of such rows is scoped by it."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, related_name="+",
        verbose_name=_("организация"),
    )

    class Meta:
        abstract = True


class IdempotencyRecord(models.Model):
    """The remembered answer to a creating POST sent with an ``Idempotency-Key``.

    ``scope`` identifies the caller (a hash of its API key, or its user and organization),
    so that two callers never see each other's answers.
    """

    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    path = models.CharField(max_length=500)
    body_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=100, blank=True)
    response_body = models.BinaryField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")
        ]
