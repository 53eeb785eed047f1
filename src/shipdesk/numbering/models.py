from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel


class NumberKind(models.TextChoices):
    RP14 = "rp14", _("Почта России, 14 цифр")
    S10 = "s10", _("Международный UPU S10")


class PoolSource(models.TextChoices):
    MANUAL = "manual", _("задан вручную")
    CARRIER = "carrier", _("получен от перевозчика")


class NumberPool(TenantModel):
    """A contiguous range of tracking numbers of one organization for one carrier.

    A number is ``prefix + serial + check digit (+ country for S10)``: for ``rp14`` the
    prefix is the 6-digit index and the 2-digit range code, the serial has 5 digits; for
    ``s10`` the prefix is the 2-letter service indicator, the serial has 8 digits and the
    country closes the number. ``next_serial`` only ever grows: every serial below it has
    been handed out once and is never handed out again, whatever became of its shipment.
    """

    carrier_code = models.CharField(_("перевозчик"), max_length=32)
    kind = models.CharField(_("формат"), max_length=8, choices=NumberKind.choices)
    source = models.CharField(_("источник"), max_length=16, choices=PoolSource.choices,
                              default=PoolSource.MANUAL)
    prefix = models.CharField(_("префикс"), max_length=8)
    country = models.CharField(_("страна"), max_length=2, blank=True)
    serial_first = models.BigIntegerField(_("первый порядковый номер"))
    serial_last = models.BigIntegerField(_("последний порядковый номер"))
    next_serial = models.BigIntegerField(_("следующий порядковый номер"))
    low_threshold = models.PositiveIntegerField(_("порог предупреждения"), default=1000)
    low_since = models.DateTimeField(_("заканчивается с"), null=True, blank=True)
    is_active = models.BooleanField(_("активен"), default=True)
    comment = models.CharField(_("комментарий"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("пул трек-номеров")
        verbose_name_plural = _("пулы трек-номеров")
        indexes = [models.Index(fields=["organization", "carrier_code", "is_active"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(serial_first__lte=models.F("serial_last")),
                name="numbering_pool_range_ordered"),
            models.CheckConstraint(
                condition=models.Q(next_serial__gte=models.F("serial_first"))
                & models.Q(next_serial__lte=models.F("serial_last") + 1),
                name="numbering_pool_next_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier_code}: {self.first_number} … {self.last_number}"

    @property
    def size(self) -> int:
        return self.serial_last - self.serial_first + 1

    @property
    def remaining(self) -> int:
        return self.serial_last - self.next_serial + 1

    @property
    def issued(self) -> int:
        return self.next_serial - self.serial_first

    @property
    def series(self) -> str:
        """Pools of one carrier and series stand in for one another: for S10 the first
        letter of the service indicator (E EMS, C parcels, R registered letter post…),
        empty for 14-digit pools."""
        return self.prefix[:1] if self.kind == NumberKind.S10 else ""

    @property
    def is_low(self) -> bool:
        return self.remaining <= self.low_threshold

    def number_at(self, serial: int) -> str:
        from shipdesk.numbering.validation import rp14_compose, s10_compose

        if self.kind == NumberKind.RP14:
            return rp14_compose(self.prefix[:6], self.prefix[6:8], serial)
        return s10_compose(self.prefix, serial, self.country)

    @property
    def first_number(self) -> str:
        return self.number_at(self.serial_first)

    @property
    def last_number(self) -> str:
        return self.number_at(self.serial_last)
