"""The postage domain's tables: a prepaid balance per organization and carrier account, its
movements, advance invoices, bank-statement payments, signing keys and online postage marks."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from shipdesk.core.crypto import EncryptedJSONField
from shipdesk.core.models import TenantModel


class PostageAccount(TenantModel):
    """The prepaid balance held with one carrier account's payee. ``balance`` only changes by
    a conditional UPDATE (never below zero) written together with a movement row."""

    carrier_account = models.ForeignKey("carriers.CarrierAccount", on_delete=models.PROTECT,
                                        related_name="+", verbose_name=_("договор"))
    balance = models.DecimalField(_("остаток"), max_digits=14, decimal_places=2, default=0)
    last_mark = models.BigIntegerField(default=0)  # the marks' sequence, advanced with balance
    payee_name = models.CharField(_("получатель"), max_length=300, blank=True)
    payee_inn = models.CharField(_("ИНН получателя"), max_length=12, blank=True)
    payee_kpp = models.CharField(_("КПП получателя"), max_length=9, blank=True)
    payee_account = models.CharField(_("расчётный счёт получателя"), max_length=20, blank=True)
    payee_bank = models.CharField(_("банк получателя"), max_length=300, blank=True)
    payee_bik = models.CharField(_("БИК"), max_length=9, blank=True)
    payee_corr_account = models.CharField(_("корр. счёт"), max_length=20, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "carrier_account"],
                                    name="postage_account_per_contract"),
            models.CheckConstraint(condition=Q(balance__gte=0), name="postage_balance_not_negative"),
        ]


class MovementKind(models.TextChoices):
    TOPUP = "topup", _("Пополнение")
    DEBIT = "debit", _("Списание за знаки")
    REFUND = "refund", _("Возврат за отменённый знак")
    CORRECTION = "correction", _("Корректировка бухгалтером")


class Movement(TenantModel):
    """One change of a balance: signed amount (+ in, − out) and the balance after it."""

    account = models.ForeignKey(PostageAccount, on_delete=models.CASCADE,
                                related_name="movements")
    kind = models.CharField(max_length=12, choices=MovementKind.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    balance_after = models.DecimalField(max_digits=14, decimal_places=2)
    marks_count = models.PositiveIntegerField(default=0)
    payment = models.ForeignKey("StatementPayment", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    posted_on = models.DateField()
    # the finance ledger's entry of the money itself (a top-up or a correction: the advance
    # paid to the carrier, Dr 60.02 / Cr 51), written with the movement, once
    ledger_entry = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "posted_on"], name="postage_movement_day")]


class InvoiceStatus(models.TextChoices):
    OPEN = "open", _("Ожидает оплаты")
    PARTLY = "partly", _("Оплачен частично")
    PAID = "paid", _("Оплачен")
    OVERPAID = "overpaid", _("Оплачен с переплатой")


class Invoice(TenantModel):
    """An advance invoice for topping up a balance; its number is looked for in payments'
    purpose text."""

    account = models.ForeignKey(PostageAccount, on_delete=models.PROTECT, related_name="invoices")
    number = models.CharField(_("номер"), max_length=20)
    amount = models.DecimalField(_("сумма"), max_digits=14, decimal_places=2)
    paid = models.DecimalField(_("оплачено"), max_digits=14, decimal_places=2, default=0)
    status = models.CharField(max_length=10, choices=InvoiceStatus.choices,
                              default=InvoiceStatus.OPEN)
    issued_on = models.DateField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "number"],
                                               name="postage_invoice_number")]


class Statement(TenantModel):
    """A bank statement in the 1C "Client Bank" format, uploaded or mailed in."""

    filename = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=10, default="upload")
    encoding = models.CharField(max_length=10)
    bank_accounts = models.CharField(max_length=200, blank=True)
    period_start = models.DateField(null=True, blank=True)
    period_end = models.DateField(null=True, blank=True)
    documents = models.PositiveIntegerField(default=0)
    credited = models.PositiveIntegerField(default=0)
    queued = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)


class PaymentStatus(models.TextChoices):
    CREDITED = "credited", _("Зачислен на баланс")
    QUEUED = "queued", _("Ждёт бухгалтера")
    DISMISSED = "dismissed", _("Не наш платёж")


class QueueReason(models.TextChoices):
    """Why a payment waits for an accountant."""

    UNKNOWN_PAYER = "unknown_payer", _("Плательщик не найден по ИНН")
    NO_INVOICE = "no_invoice", _("В назначении нет номера нашего счёта")


class StatementPayment(TenantModel):
    """An incoming payment seen in a statement, once (the same document in overlapping
    statements has the same key)."""

    statement = models.ForeignKey(Statement, on_delete=models.CASCADE, related_name="payments")
    key = models.CharField(max_length=200)
    number = models.CharField(max_length=30)
    paid_on = models.DateField()
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    payer_inn = models.CharField(max_length=12, blank=True)
    payer_name = models.CharField(max_length=500, blank=True)
    purpose = models.TextField(blank=True)
    invoice = models.ForeignKey(Invoice, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="payments")
    status = models.CharField(max_length=10, choices=PaymentStatus.choices)
    reason = models.CharField(max_length=20, blank=True, choices=QueueReason.choices)
    explanation = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "key"],
                                               name="postage_payment_once")]


class SigningKey(TenantModel):
    """The organization's Ed25519 key for its marks; the public half is published (the
    verification page and ``shipdesk verify-mark`` use it)."""

    key_id = models.CharField(max_length=16, unique=True)
    public_key = models.CharField(max_length=64)  # hex of the 32 raw bytes
    secret = EncryptedJSONField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"],
                                               name="postage_one_key_per_org")]


class MarkState(models.TextChoices):
    ISSUED = "issued", _("Выпущен")
    USED = "used", _("Использован")
    CANCELLED = "cancelled", _("Отменён")


class Mark(TenantModel):
    """An online postage mark: one per item, paid from the balance when issued. Written in
    bulk (binary COPY) by the service that checked every reference: the foreign keys carry no
    database constraint (10,000 deferred checks per issue were half its time)."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_constraint=False)
    account = models.ForeignKey(PostageAccount, on_delete=models.PROTECT, related_name="marks",
                                db_constraint=False)
    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.DO_NOTHING,
                                 related_name="+", db_constraint=False)
    number = models.CharField(_("номер знака"), max_length=24, unique=True)
    tracking_number = models.CharField(max_length=32)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    issued_on = models.DateField()
    state = models.CharField(max_length=10, choices=MarkState.choices, default=MarkState.ISSUED)
    payload = models.CharField(max_length=300)
    debit = models.ForeignKey(Movement, on_delete=models.PROTECT, related_name="+",
                              db_constraint=False)
    refund = models.OneToOneField(Movement, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    used_on = models.DateField(null=True, blank=True)
    batch_id = models.BigIntegerField(null=True, blank=True)  # the hand-over that took it
    cancelled_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["shipment"], condition=~Q(state="cancelled"),
            name="postage_one_live_mark_per_item")]
        indexes = [models.Index(fields=["organization", "issued_on"], name="postage_mark_day")]


class PostageJob(models.Model):
    """The domain's periodic job: tracking's status feed → marks used."""

    name = models.CharField(max_length=64, unique=True)
    last_id = models.BigIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
