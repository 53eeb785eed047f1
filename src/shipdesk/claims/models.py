"""The claims domain's tables: the rules that find candidates, the candidates with their
evidence, the claims with their deadlines, reminders and letters, and first-day audits."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel


class Kind(models.TextChoices):
    """Why a parcel is a claim candidate: one reason per rule."""

    STUCK = "stuck", _("Нет движения дольше контрольного срока")
    LOST = "lost", _("Утрата")
    DAMAGED = "damaged", _("Повреждение или недостача")
    PARTIAL = "partial", _("Частичное вручение")
    COD_UNPAID = "cod_unpaid", _("Наложенный платёж не перечислен")
    RETURN_MISSING = "return_missing", _("Возврат не вернулся отправителю")
    OVERCHARGE = "overcharge", _("Переплата по весу или тарифу")


class ClaimRule(models.Model):
    """A rule's knobs for one carrier ("" = any) and kind, the organization's own or the
    installation's (organization empty). The most specific row wins; with none, the
    defaults in ``rules.DEFAULTS``."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     null=True, blank=True, related_name="+")
    carrier_code = models.CharField(_("перевозчик"), max_length=32, blank=True)
    kind = models.CharField(_("повод"), max_length=16, choices=Kind.choices)
    enabled = models.BooleanField(_("искать"), default=True)
    margin_days = models.PositiveSmallIntegerField(_("запас, дней"))
    file_window_days = models.PositiveSmallIntegerField(_("срок подачи, дней"))
    answer_days = models.PositiveSmallIntegerField(_("срок ответа, дней"))
    remind_days = models.PositiveSmallIntegerField(_("напомнить за, дней"))
    min_amount = models.DecimalField(_("не меньше, ₽"), max_digits=12, decimal_places=2,
                                     default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "carrier_code", "kind"],
                                               name="claim_rule_uniq")]


class CandidateState(models.TextChoices):
    OPEN = "open", _("Найдено")
    CLAIMED = "claimed", _("Претензия создана")
    DISMISSED = "dismissed", _("Отклонено оператором")


class Candidate(TenantModel):
    """A parcel a rule found, with the facts it found it by. Written set-based by
    ``detection.detect``; one row per parcel and reason."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_constraint=False)
    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE,
                                 related_name="+", db_constraint=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=10, choices=CandidateState.choices,
                             default=CandidateState.OPEN)
    carrier_code = models.CharField(max_length=32, blank=True)
    tracking_number = models.CharField(max_length=32, blank=True)
    # the evidence: since when (last movement, delivery, return), the term that passed,
    # the carrier's event, the money expected and seen
    since = models.DateTimeField(null=True, blank=True)
    term_ended = models.DateTimeField(null=True, blank=True)
    event_code = models.CharField(max_length=32, blank=True)
    event_text = models.CharField(max_length=300, blank=True)
    expected_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    actual_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True)
    at_stake = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    payout_row_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["shipment", "kind"],
                                               name="claim_candidate_uniq")]
        indexes = [models.Index(fields=["organization", "state", "kind"],
                                name="claim_candidate_org_state")]


class ClaimState(models.TextChoices):
    DRAFT = "draft", _("Черновик")
    FILED = "filed", _("Подана")
    IN_REVIEW = "in_review", _("На рассмотрении")
    APPROVED = "approved", _("Удовлетворена")
    PARTLY_APPROVED = "partly_approved", _("Удовлетворена частично")
    REJECTED = "rejected", _("Отклонена")
    PAID = "paid", _("Возмещение получено")


class Claim(TenantModel):
    """A claim to the carrier about one parcel and one reason, followed to its money."""

    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE,
                                 related_name="+")
    kind = models.CharField(_("повод"), max_length=16, choices=Kind.choices)
    state = models.CharField(_("состояние"), max_length=16, choices=ClaimState.choices,
                             default=ClaimState.DRAFT)
    carrier_code = models.CharField(max_length=32, blank=True)
    tracking_number = models.CharField(max_length=32, blank=True)
    posted_at = models.DateTimeField(_("принято перевозчиком"), null=True, blank=True)
    file_by = models.DateField(_("подать до"))
    answer_days = models.PositiveSmallIntegerField(default=30)
    remind_days = models.PositiveSmallIntegerField(default=7)
    filed_at = models.DateTimeField(null=True, blank=True)
    answer_by = models.DateField(_("ответ до"), null=True, blank=True)
    extended = models.BooleanField(default=False)  # the carrier extended its answer term
    decided_at = models.DateTimeField(null=True, blank=True)
    paid_on = models.DateField(null=True, blank=True)
    claimed_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    approved_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    ledger_entry = models.BigIntegerField(null=True, blank=True)
    carrier_reference = models.CharField(_("номер у перевозчика"), max_length=64, blank=True)
    evidence = models.JSONField(default=list, blank=True)  # the candidate's facts, in words
    next_reminder_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "shipment", "kind"],
                                               name="claim_once_per_parcel_reason")]
        indexes = [models.Index(fields=["organization", "state"], name="claim_org_state")]


class ClaimEvent(models.Model):
    """A claim's state change or note: who, when, why."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             blank=True, related_name="+")
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    @property
    def from_label(self) -> str:
        return str(ClaimState(self.from_state).label) if self.from_state else ""

    @property
    def to_label(self) -> str:
        return str(ClaimState(self.to_state).label) if self.to_state else ""


class ClaimReminder(models.Model):
    """A reminder sent before a deadline: one per claim, deadline kind and date."""

    FILE, ANSWER = "file", "answer"

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="reminders")
    deadline = models.CharField(max_length=8)
    due_on = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)
    emailed_to = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["claim", "deadline", "due_on"],
                                               name="claim_reminder_once")]


class ClaimLetter(models.Model):
    """The claim sent as an e-mail (or printed): to whom, when, with which attachments."""

    claim = models.ForeignKey(Claim, on_delete=models.CASCADE, related_name="letters")
    channel = models.CharField(max_length=8)  # email / print
    to = models.CharField(max_length=300, blank=True)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    attachments = models.JSONField(default=list)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             blank=True, related_name="+")
    sent_at = models.DateTimeField(auto_now_add=True)


class AuditState(models.TextChoices):
    PENDING = "pending", _("В очереди")
    RUNNING = "running", _("Проверяется")
    DONE = "done", _("Готово")
    FAILED = "failed", _("Ошибка")


class Audit(TenantModel):
    """A first-day audit of a list of tracking numbers (or a period's shipments): the
    histories fetched from the carriers, each number's verdict, the money at stake."""

    source = models.CharField(max_length=10)  # upload / period
    filename = models.CharField(max_length=255, blank=True)
    period_from = models.DateField(null=True, blank=True)
    period_to = models.DateField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=AuditState.choices,
                             default=AuditState.PENDING)
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    # seconds the carriers made us wait for ticket answers (their documented delays)
    rate_wait_seconds = models.FloatField(default=0)  # statistics, not money
    tickets = models.JSONField(default=list, blank=True)  # batch requests awaiting answers
    error = models.CharField(max_length=500, blank=True)


class Verdict(models.TextChoices):
    OK = "ok", _("В порядке")
    IN_TRANSIT = "in_transit", _("В пути, в срок")
    STUCK = "stuck", _("Застряло")
    LOST = "lost", _("Утеряно")
    RETURN_NOT_RECEIVED = "return_missing", _("Возврат не получен")
    COD_UNPAID = "cod_unpaid", _("Вручено, НП не перечислен")
    NOT_CHECKED = "not_checked", _("Не проверено")


class AuditItem(models.Model):
    audit = models.ForeignKey(Audit, on_delete=models.CASCADE, related_name="items")
    row_number = models.PositiveIntegerField()
    tracking_number = models.CharField(max_length=64)
    carrier_code = models.CharField(max_length=32, blank=True)
    account_id = models.BigIntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True)
    status = models.CharField(max_length=32, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    cod_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    at_stake = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["audit", "verdict"], name="claim_audit_item_verdict")]


class ClaimsSettings(TenantModel):
    """An organization's detection schedule: due work on ``next_detect_at`` (daily), the
    last run's time and counts."""

    next_detect_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_detect_at = models.DateTimeField(null=True, blank=True)
    last_counts = models.JSONField(default=dict, blank=True)
    claims_email = models.EmailField(_("адрес для претензий перевозчика"), blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"],
                                               name="claims_settings_one_per_org")]
