from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel


class BatchState(models.TextChoices):
    OPEN = "open", _("Открыта")
    CLOSED = "closed", _("Закрыта (передана)")


class Batch(TenantModel):
    """Parcels handed over together: one carrier (account), one mail type and category, one
    shipping date and drop-off point. Numbered per organization per year."""

    year = models.PositiveSmallIntegerField(_("год"))
    number = models.PositiveIntegerField(_("номер"))
    carrier_code = models.CharField(_("перевозчик"), max_length=32)
    carrier_account = models.ForeignKey("carriers.CarrierAccount", on_delete=models.PROTECT,
                                        null=True, blank=True, related_name="+")
    mail_type = models.CharField(_("вид отправления"), max_length=64, blank=True)
    mail_category = models.CharField(_("категория"), max_length=64, blank=True)
    shipping_date = models.DateField(_("дата отправки"))
    drop_off_point = models.CharField(_("место сдачи"), max_length=64, blank=True)
    state = models.CharField(_("состояние"), max_length=10, choices=BatchState.choices,
                             default=BatchState.OPEN, db_index=True)
    carrier_batch_id = models.CharField(_("номер партии у перевозчика"), max_length=64,
                                        blank=True)
    closed_at = models.DateTimeField(_("закрыта"), null=True, blank=True)

    class Meta:
        verbose_name = _("партия")
        verbose_name_plural = _("партии")
        constraints = [
            models.UniqueConstraint(fields=["organization", "year", "number"],
                                    name="batch_number_per_org_year"),
        ]
        indexes = [models.Index(fields=["organization", "state", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.number}/{self.year}"

    @property
    def display_number(self) -> str:
        return f"{self.number}/{self.year}"


class BatchEntry(models.Model):
    """A shipment in a batch (a shipment is in at most one batch)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="entries")
    shipment = models.OneToOneField("shipments.Shipment", on_delete=models.CASCADE,
                                    related_name="batch_entry")
    position = models.PositiveIntegerField(default=0)
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "pk"]


class DocumentKind(models.TextChoices):
    LABELS_THERMAL = "labels_thermal", _("Ярлыки 100×150 мм")
    LABELS_A4 = "labels_a4", _("Ярлыки A4 (4 на листе)")
    F103_PDF = "f103_pdf", _("Список ф.103 (PDF)")
    F103_XLSX = "f103_xlsx", _("Список ф.103 (XLSX)")
    F103_SIGNED = "f103_signed", _("Электронный реестр ф.103 (подписанный PDF)")
    CUSTOMS = "customs", _("Таможенные декларации CN22/CN23")
    COD_TRANSFER = "f112ep", _("Бланки наложенного платежа ф.112ЭП")
    INVENTORY = "f107", _("Описи вложения ф.107")
    BATCH_PRINT = "batch_print", _("Печать партии (всё одним файлом)")
    HANDOVER_ACT = "handover_act", _("Акт приёма-передачи (PDF)")


class DocumentStatus(models.TextChoices):
    PENDING = "pending", _("В очереди")
    RUNNING = "running", _("Формируется")
    DONE = "done", _("Готов")
    FAILED = "failed", _("Ошибка")


class GeneratedDocument(TenantModel):
    """A generated file of a batch, stored in the default storage. ``data_fingerprint`` is
    the hash of the data it was made from: when the batch's data changes before hand-over
    the document is stale and is made again; after hand-over it is ``frozen``."""

    kind = models.CharField(_("вид"), max_length=20, choices=DocumentKind.choices)
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="documents")
    status = models.CharField(_("статус"), max_length=10, choices=DocumentStatus.choices,
                              default=DocumentStatus.PENDING)
    progress = models.PositiveSmallIntegerField(_("готовность, %"), default=0)
    file = models.FileField(_("файл"), upload_to="documents/", blank=True, max_length=300)
    filename = models.CharField(max_length=200, blank=True)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    content_hash = models.CharField(max_length=64, blank=True)
    data_fingerprint = models.CharField(max_length=64, blank=True)
    frozen = models.BooleanField(_("заморожен"), default=False)
    error = models.TextField(_("ошибка"), blank=True)
    generated_at = models.DateTimeField(null=True, blank=True)
    attempt = models.PositiveIntegerField(default=0)
    # Safety net for a lost task message: the due-work sweep runs the generation again
    # when a requested document is still not finished by then (cleared when finished).
    retry_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("документ")
        verbose_name_plural = _("документы")
        constraints = [
            models.UniqueConstraint(fields=["batch", "kind"], name="document_kind_per_batch"),
        ]


class SigningCertificate(TenantModel):
    """The organization's certificate for the electronic registry (PKCS#12 as uploaded; the
    password is encrypted at rest with ``core.crypto``)."""

    name = models.CharField(_("название"), max_length=200)
    pkcs12 = models.BinaryField(_("PKCS#12"))
    password_encrypted = models.TextField(blank=True)
    subject = models.CharField(_("владелец"), max_length=500, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(_("действует до"), null=True, blank=True)
    is_demo = models.BooleanField(_("демонстрационный"), default=False)
    is_active = models.BooleanField(_("используется"), default=True)

    class Meta:
        verbose_name = _("сертификат подписи")
        verbose_name_plural = _("сертификаты подписи")


class CourierPickup(TenantModel):
    """A courier ordered from the carrier to collect a batch at the sender's address (CDEK:
    an intake). The carrier's number, state and refusal as last read from it."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="courier_pickups")
    carrier_id = models.CharField(_("идентификатор у перевозчика"), max_length=64)
    number = models.CharField(_("номер заявки"), max_length=64, blank=True)
    state = models.CharField(_("состояние у перевозчика"), max_length=32, blank=True)
    state_name = models.CharField(_("состояние"), max_length=100, blank=True)
    error = models.CharField(_("ответ перевозчика"), max_length=1000, blank=True)
    day = models.DateField(_("дата"))
    time_from = models.CharField(_("с"), max_length=5)
    time_to = models.CharField(_("до"), max_length=5)
    address = models.CharField(_("адрес"), max_length=500)

    class Meta:
        verbose_name = _("вызов курьера")
        verbose_name_plural = _("вызовы курьера")
        ordering = ["-created_at", "-pk"]
