"""Money for cash-on-delivery parcels: contract terms, what each parcel should bring
(receivables), payout reports and their rows, the double-entry ledger, mail-in boxes and the
daily rollups the owner's pages read."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.crypto import EncryptedJSONField
from shipdesk.core.models import TenantModel


class FeesMode(models.TextChoices):
    # Which set of operations a payout posts (MoySklad courier integration, see domain.md §6).
    DEDUCTED = "deducted", _("Услуги удерживаются из наложенного платежа")
    INVOICED = "invoiced", _("Услуги оплачиваются по счёту отдельно")


class FinanceTerms(TenantModel):
    """A carrier contract's money terms: fees and the payout schedule (per carrier account)."""

    carrier_account = models.OneToOneField("carriers.CarrierAccount", on_delete=models.CASCADE,
                                           related_name="finance_terms")
    cod_commission_pct = models.DecimalField(_("комиссия за НП, %"), max_digits=6,
                                             decimal_places=3, default=0)
    delivery_fee = models.DecimalField(_("доставка, ₽ (если не рассчитана)"), max_digits=12,
                                       decimal_places=2, default=0)
    insurance_pct = models.DecimalField(_("страховка, % объявленной ценности"), max_digits=6,
                                        decimal_places=3, default=0)
    return_fee = models.DecimalField(_("возврат, ₽"), max_digits=12, decimal_places=2,
                                     default=0)
    fees_mode = models.CharField(_("услуги перевозчика"), max_length=10,
                                 choices=FeesMode.choices, default=FeesMode.DEDUCTED)
    payout_lag_days = models.PositiveSmallIntegerField(_("выплата через, дней"), default=7)
    payout_weekdays = models.CharField(_("дни выплат (1=пн…7=вс)"), max_length=20,
                                       blank=True, default="")
    # the carrier sends agent reports (отчёт агента) for its fees: the services are accepted
    # by that report, not by each payout line (MoySklad's "agent reports" setting)
    agent_reports = models.BooleanField(_("услуги принимаются по отчёту агента"),
                                        default=False)
    # pull the carrier's payout registries through its API every day (where it offers them)
    pull_registries = models.BooleanField(_("забирать реестры выплат через API ежедневно"),
                                          default=False)
    pull_due_at = models.DateTimeField(null=True, blank=True)
    pull_error = models.CharField(max_length=500, blank=True)


class ReceivableState(models.TextChoices):
    EXPECTED = "expected", _("Ожидается")
    COLLECTED = "collected", _("Получен перевозчиком")
    PAID = "paid", _("Выплачен")
    REFUSED = "refused", _("Отказ (возврат)")
    OVERDUE = "overdue", _("Просрочен")


class OrderState(models.TextChoices):
    OPEN = "", _("В работе")
    COMPLETED = "completed", _("Выполнен")
    RETURNED = "returned", _("Возврат")


class Receivable(TenantModel):
    """What one COD shipment should bring, its fees, when, and where it stands."""

    # A payout report moves 100,000 receivables at once: every index is paid for on each row,
    # so the organization and creation indexes of TenantModel (never read alone) are left
    # out, and a payout row finds its receivable through the shipment's unique carrier and
    # order numbers (shipments' own indexes), then ``shipment``.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", verbose_name=_("организация"),
                                     db_index=False)
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    shipment = models.OneToOneField("shipments.Shipment", on_delete=models.CASCADE,
                                    related_name="receivable")
    carrier_code = models.CharField(max_length=32)
    carrier_account_id = models.BigIntegerField(null=True, blank=True)
    tracking_number = models.CharField(max_length=32, blank=True)
    order_number = models.CharField(max_length=64)
    cod_amount = models.DecimalField(max_digits=12, decimal_places=2)
    fee_commission = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    fee_delivery = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    fee_insurance = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    fee_return = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    fees_mode = models.CharField(max_length=10, choices=FeesMode.choices,
                                 default=FeesMode.DEDUCTED)
    state = models.CharField(max_length=10, choices=ReceivableState.choices,
                             default=ReceivableState.EXPECTED)
    order_state = models.CharField(max_length=10, choices=OrderState.choices, blank=True,
                                   default=OrderState.OPEN)
    collected_on = models.DateField(null=True, blank=True)
    expected_on = models.DateField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    refused_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    return_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        indexes = [
            # what is owed now: a paid or refused receivable leaves this index (and a
            # payout of 100,000 orders writes no entry into it)
            models.Index(fields=["organization", "state", "collected_on"],
                         name="receivable_owed",
                         condition=models.Q(state__in=("collected", "overdue"))),
        ]

    @property
    def fees(self) -> object:
        return self.fee_commission + self.fee_delivery + self.fee_insurance + self.fee_return


class ReportFormat(models.Model):
    """A column mapping a person gave once for a report no catalogue entry recognised;
    remembered by the report's header signature and used for every later such report."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+")
    signature = models.CharField(max_length=64)  # sha256 of the normalised header row
    name = models.CharField(_("название"), max_length=200)
    carrier_code = models.CharField(max_length=32)
    headers = models.JSONField(default=list)
    columns = models.JSONField(default=dict)  # role -> header text
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "signature"],
                                               name="reportformat_signature_uniq")]


class ReportStatus(models.TextChoices):
    NEEDS_MAPPING = "needs_mapping", _("Нужно сопоставить колонки")
    POSTED = "posted", _("Проведён")
    SUPERSEDED = "superseded", _("Заменён исправленным")
    FAILED = "failed", _("Ошибка")


# how a report came (no choices on the field: the words change without a migration)
REPORT_SOURCES = {"upload": _("Загружен вручную"), "mail": _("Пришёл по почте"),
                  "api": _("Через API")}


class PayoutReport(TenantModel):
    source = models.CharField(max_length=10)  # upload, mail, api
    filename = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField()
    status = models.CharField(max_length=16, choices=ReportStatus.choices)
    format_code = models.CharField(max_length=64, blank=True)
    format_name = models.CharField(max_length=200, blank=True)
    carrier_code = models.CharField(max_length=32, blank=True)
    confidence = models.DecimalField(max_digits=4, decimal_places=3, default=0)
    registry_number = models.CharField(max_length=64, blank=True)
    header_row = models.PositiveIntegerField(default=0)
    headers = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    superseded_by = models.ForeignKey("self", on_delete=models.SET_NULL, null=True,
                                      blank=True, related_name="+")
    totals = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "sha256"],
                                               name="payoutreport_content_uniq")]

    def get_source_display(self) -> str:
        return str(REPORT_SOURCES.get(self.source, self.source))

    @property
    def outcome_counts(self) -> list[tuple[str, str, int]]:
        """How many rows ended how («Сопоставлено: 120»), in the reader's language."""
        labels = dict(RowOutcome.choices)
        return [(k, str(labels[k]), int(self.totals[k])) for k in RowOutcome.values
                if self.totals.get(k)]


class RowOutcome(models.TextChoices):
    MATCHED = "matched", _("Сопоставлено")
    PARTIAL = "partial", _("Частичный выкуп")
    AMOUNT_DIFFERS = "amount_differs", _("Сумма отличается")
    UNKNOWN = "unknown", _("Отправление не найдено")
    PAID_TWICE = "paid_twice", _("Оплачено повторно")
    CORRECTION = "correction", _("Корректировка (сторно)")
    SUPERSEDED = "superseded", _("Заменено исправленным отчётом")


class PayoutRow(models.Model):
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_constraint=False, db_index=False)
    # rows are read by report (the composite index below) or by receivable
    # written only by the report's own import, in its transaction, and deleted with it by
    # Django's cascade: no database constraint, whose deferred check of each of a report's
    # 100,000 rows at commit cost a quarter of a second
    report = models.ForeignKey(PayoutReport, on_delete=models.CASCADE, related_name="rows",
                               db_index=False, db_constraint=False)
    row_number = models.PositiveIntegerField()
    tracking_number = models.CharField(max_length=64, blank=True)
    order_number = models.CharField(max_length=64, blank=True)
    cod_amount = models.DecimalField(max_digits=12, decimal_places=2)
    fee = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2)
    returned_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    paid_on = models.DateField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=RowOutcome.choices)
    receivable = models.ForeignKey(Receivable, on_delete=models.SET_NULL, null=True,
                                   blank=True, related_name="+", db_constraint=False)
    expected_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True,
                                          blank=True)
    difference = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    message = models.CharField(max_length=300, blank=True)
    # an «amount differs» row an accountant settled: accepted (the carrier's amount posted,
    # the difference corrected) or disputed (nothing posted, the carrier is asked)
    resolution = models.CharField(max_length=10, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["report", "row_number"])]

    @property
    def explanation(self) -> str:
        """What happened to the row, in the reader's language."""
        from django.utils.translation import gettext

        from shipdesk.core.templatetags.words import money_text as money

        if self.resolution == RowResolution.ACCEPTED:
            return gettext("Принята сумма перевозчика; разница %(diff)s проведена "
                           "корректировкой") % {"diff": money(self.difference)}
        if self.resolution == RowResolution.DISPUTED:
            return gettext("Оспорено: ждём ответа перевозчика, проводок нет")
        if self.message:
            return self.message
        if self.outcome == RowOutcome.AMOUNT_DIFFERS and self.difference is not None:
            return gettext("Ожидалось %(exp)s, получено %(got)s, разница %(diff)s") % {
                "exp": money(self.expected_amount), "got": money(self.cod_amount),
                "diff": money(self.difference)}
        if self.outcome == RowOutcome.PARTIAL:
            return gettext("Частичный выкуп: возвращено товара на %(sum)s") % {
                "sum": money(self.returned_amount)}
        return ""


class RowResolution(models.TextChoices):
    ACCEPTED = "accepted", _("Принята сумма перевозчика")
    DISPUTED = "disputed", _("Оспорено")


class Account(models.TextChoices):
    # A small chart of accounts after the Russian one (numbers in brackets).
    BANK = "51", _("Расчётный счёт (51)")
    CUSTOMERS = "62", _("Покупатели: заказы с наложенным платежом (62)")
    CARRIER = "60", _("Перевозчики: услуги (60)")
    # what was paid to a carrier in advance (the prepaid postage balance): offset against
    # its services as they are handed over
    ADVANCES = "60.02", _("Перевозчики: авансы выданные (60.02)")
    REVENUE = "90.1", _("Выручка (90.1)")
    RETURNS = "90.2", _("Возвраты покупателей (90.2)")
    DELIVERY = "44", _("Расходы на доставку (44)")


class EntryKind(models.TextChoices):
    DEMAND = "demand", _("Отгрузка покупателю")
    PAYMENT_IN = "payment_in", _("Входящий платёж от перевозчика")
    SERVICES = "services", _("Приёмка услуг перевозчика")
    OFFSET = "offset", _("Оплата услуг зачётом")
    SALES_RETURN = "sales_return", _("Возврат покупателя")
    AGENT_REPORT = "agent_report", _("Услуги перевозчика по отчёту агента")
    ADJUSTMENT = "adjustment", _("Корректировка суммы по отчёту перевозчика")
    ADVANCE = "advance", _("Аванс перевозчику")
    ADVANCE_OFFSET = "advance_offset", _("Зачёт аванса перевозчику")
    REVERSAL = "reversal", _("Сторно")


class DayRangeIndex(models.Index):
    """A block-range (BRIN) index on PostgreSQL: a few bytes per range of table blocks and
    next to nothing to keep up on insert, for columns that grow with the table, such as the
    day of a ledger line (summarised as ranges fill). A plain index on other databases."""

    def create_sql(self, model: Any, schema_editor: Any, using: str = "",
                   **kwargs: Any) -> Any:
        if schema_editor.connection.vendor != "postgresql":
            return super().create_sql(model, schema_editor, using=using, **kwargs)
        statement = super().create_sql(model, schema_editor, using=" USING brin", **kwargs)
        parts: dict[str, Any] = statement.parts
        parts["extra"] = " WITH (autosummarize = on)" + parts["extra"]
        return statement


class Posting(models.Model):
    """One line of a ledger entry: a signed amount (debit +, credit −) on an account.

    Indexed by what is read: lines by day (the P&L and the ledger's export over a period:
    a block-range index, as lines are written roughly in the order of their days) and by
    shipment and entry (an entry is looked up through its shipment) — each b-tree costs on
    every one of the hundreds of thousands of lines a payout report writes.

    An entry is the set of lines sharing ``entry``; its amounts sum to zero. Lines are never
    changed or deleted: a correction is a new entry whose lines reverse an earlier one's
    (``reverses``). Each line names its shipment and the payout row that caused it; an
    advance paid to a carrier names no shipment (``shipment_id`` empty)."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_constraint=False, db_index=False)
    entry = models.BigIntegerField()
    kind = models.CharField(max_length=16, choices=EntryKind.choices)
    shipment_id = models.BigIntegerField(null=True, blank=True)
    row_id = models.BigIntegerField(null=True, blank=True)
    reverses = models.BigIntegerField(null=True, blank=True)
    account = models.CharField(max_length=8, choices=Account.choices)
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    posted_on = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [DayRangeIndex(fields=["organization", "posted_on"], name="posting_day"),
                   models.Index(fields=["shipment_id", "entry"], name="posting_shipment_entry")]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("postings are immutable: reverse them instead")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("postings are immutable: reverse them instead")


class LedgerCounter(models.Model):
    """Hands out entry numbers per organization; its row lock serialises posting."""

    organization = models.OneToOneField("tenancy.Organization", on_delete=models.CASCADE,
                                        related_name="+")
    last_entry = models.BigIntegerField(default=0)


class Mailbox(TenantModel):
    """An IMAP mailbox the shop forwards the carriers' payout e-mails to."""

    host = models.CharField(_("сервер IMAP"), max_length=200)
    port = models.PositiveIntegerField(_("порт"), default=993)
    use_ssl = models.BooleanField(_("SSL"), default=True)
    username = models.CharField(_("логин"), max_length=200)
    secret = EncryptedJSONField(blank=True)
    folder = models.CharField(_("папка"), max_length=100, default="INBOX")
    poll_minutes = models.PositiveSmallIntegerField(default=15)
    last_uid = models.BigIntegerField(default=0)
    uid_validity = models.BigIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)


class FinanceJob(models.Model):
    """The domain's periodic job (status feed → receivables, overdue, daily snapshot)."""

    name = models.CharField(max_length=64, unique=True)
    last_id = models.BigIntegerField(default=0)
    due_at = models.DateTimeField(null=True, blank=True)


class CashDaily(models.Model):
    """Per organization, carrier and day: money collected by the carrier and paid out
    (the forecast's backtest and the charts read this, never the receivables)."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_constraint=False)
    carrier_code = models.CharField(max_length=32)
    day = models.DateField()
    collected = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    paid = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    paid_count = models.IntegerField(default=0)
    lag_days = models.IntegerField(default=0)  # sum of (paid − collected) over paid_count

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "carrier_code", "day"],
                                               name="cashdaily_uniq")]


class DebtSnapshot(models.Model):
    """What each carrier owed at the end of a day, by age (the ageing chart over time)."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_constraint=False)
    carrier_code = models.CharField(max_length=32)
    day = models.DateField()
    age_0_7 = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    age_8_14 = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    age_15_30 = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    age_over_30 = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "carrier_code", "day"],
                                               name="debtsnapshot_uniq")]
