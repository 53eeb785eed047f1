from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel, TimestampedModel


class TariffTable(TimestampedModel):
    """A carrier's tariff table (format ``shipdesk-tariff/1``) in force from a date.

    Loaded from a file by the installation's operator (``shipdesk load-tariffs FILE``);
    ``organization`` set means a contract table of that organization only, which wins over
    the common one of the same date. The tables shipped in ``tariffs/data/`` are used
    without loading; a loaded table of the same or a later date supersedes them."""

    organization = models.ForeignKey(
        "tenancy.Organization", on_delete=models.CASCADE, null=True, blank=True,
        related_name="+", verbose_name=_("организация"))
    carrier_code = models.CharField(_("перевозчик"), max_length=32)
    name = models.CharField(_("название"), max_length=200)
    effective_from = models.DateField(_("действует с"))
    data = models.JSONField(_("таблица"))
    source = models.CharField(_("файл"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("тарифная таблица")
        verbose_name_plural = _("тарифные таблицы")
        constraints = [
            models.UniqueConstraint(fields=["carrier_code", "effective_from", "organization"],
                                    name="tariff_table_version_uniq"),
            models.UniqueConstraint(fields=["carrier_code", "effective_from"],
                                    condition=models.Q(organization__isnull=True),
                                    name="tariff_table_common_version_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier_code} {self.effective_from:%d.%m.%Y}"


class RatingPreference(models.TextChoices):
    CHEAPEST = "cheapest", _("самый дешёвый")
    FASTEST = "fastest", _("самый быстрый")


class RatingRule(TenantModel):
    """How rate shopping picks the offer for the organization."""

    prefer = models.CharField(_("выбирать"), max_length=16, choices=RatingPreference.choices,
                              default=RatingPreference.CHEAPEST)
    # "Fastest" compares the slowest promised day first; among equals the cheaper wins
    # (and the other way round for "cheapest").

    class Meta:
        verbose_name = _("правило выбора тарифа")
        verbose_name_plural = _("правила выбора тарифа")
        constraints = [models.UniqueConstraint(fields=["organization"],
                                               name="rating_rule_one_per_org")]
