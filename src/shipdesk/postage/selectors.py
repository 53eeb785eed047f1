"""The postage domain's reads: balances, invoices, the payments queue, marks, the balance
statement (opening and closing balances) and the day's reconciliation; a mark's verification."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.utils.translation import gettext as _

from shipdesk.postage import marks
from shipdesk.postage.models import (
    Invoice,
    Mark,
    MarkState,
    Movement,
    PaymentStatus,
    PostageAccount,
    SigningKey,
    Statement,
    StatementPayment,
)
from shipdesk.tenancy.services import Actor

ZERO = Decimal("0.00")


def account_list(*, actor: Actor) -> QuerySet[PostageAccount]:
    return PostageAccount.objects.filter(organization_id=actor.organization_id).select_related(
        "carrier_account").order_by("pk")


def marks_offered(*, actor: Actor, carrier_account_id: int | None = None) -> bool:
    """Whether a list (the shipments list; a batch, by its contract) offers to issue marks:
    once a contract has a prepaid postage balance."""
    accounts = PostageAccount.objects.filter(organization_id=actor.organization_id)
    if carrier_account_id is not None:
        accounts = accounts.filter(carrier_account_id=carrier_account_id)
    return accounts.exists()


def invoice_list(*, actor: Actor, account_id: int | None = None) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(organization_id=actor.organization_id)
    if account_id:
        qs = qs.filter(account_id=account_id)
    return qs.order_by("-pk")


def invoice_get(*, actor: Actor, invoice_id: int) -> Invoice:
    from shipdesk.core.errors import NotFound

    invoice = Invoice.objects.filter(organization_id=actor.organization_id,
                                     pk=invoice_id).select_related("account").first()
    if invoice is None:
        raise NotFound(_("Счёт не найден"))
    return invoice


def payment_queue(*, actor: Actor) -> QuerySet[StatementPayment]:
    return StatementPayment.objects.filter(organization_id=actor.organization_id,
                                           status=PaymentStatus.QUEUED).order_by("paid_on", "pk")


def statement_list(*, actor: Actor) -> QuerySet[Statement]:
    return Statement.objects.filter(organization_id=actor.organization_id).order_by("-pk")


def mark_list(*, actor: Actor, state: str = "", day: dt.date | None = None) -> QuerySet[Mark]:
    qs = Mark.objects.filter(organization_id=actor.organization_id)
    if state:
        qs = qs.filter(state=state)
    if day:
        qs = qs.filter(issued_on=day)
    return qs.order_by("-pk")


@dataclass
class BalanceStatement:
    account: PostageAccount
    start: dt.date
    end: dt.date
    opening: Decimal
    closing: Decimal
    credits: Decimal
    debits: Decimal
    movements: list[Movement]


def balance_statement(*, actor: Actor, account_id: int, start: dt.date,
                      end: dt.date) -> BalanceStatement:
    """Movements of a period with the balance before the first and after the last. Movements
    are ordered by id — the order their conditional updates took the row in."""
    from shipdesk.postage.services import account_get

    account = account_get(actor=actor, account_id=account_id)
    qs = Movement.objects.filter(organization_id=actor.organization_id, account=account)
    before = qs.filter(posted_on__lt=start).order_by("-pk").values_list(
        "balance_after", flat=True).first()
    movements = list(qs.filter(posted_on__gte=start, posted_on__lte=end).order_by("pk"))
    opening = before if before is not None else ZERO
    if movements:  # a movement dated before another's day but written after it
        opening = movements[0].balance_after - movements[0].amount
    closing = movements[-1].balance_after if movements else opening
    return BalanceStatement(
        account=account, start=start, end=end, opening=opening, closing=closing,
        credits=sum((m.amount for m in movements if m.amount > 0), ZERO),
        debits=sum((-m.amount for m in movements if m.amount < 0), ZERO), movements=movements)


@dataclass
class DayTotals:
    issued: int
    issued_amount: Decimal
    used: int
    used_amount: Decimal
    cancelled: int
    cancelled_amount: Decimal


def reconciliation(*, actor: Actor, day: dt.date) -> tuple[list[Mark], DayTotals]:
    """Every mark issued, used or cancelled on the day (for 1C), with the day's totals."""
    org = actor.organization_id
    from django.db.models import Q

    rows = list(Mark.objects.filter(organization_id=org).filter(
        Q(issued_on=day) | Q(used_on=day) | Q(cancelled_on=day)).order_by("pk"))

    def total(field: str) -> tuple[int, Decimal]:
        agg = Mark.objects.filter(organization_id=org, **{field: day}).aggregate(
            n=Count("pk"), s=Sum("amount"))
        return agg["n"], Decimal(agg["s"] or 0).quantize(ZERO)

    issued, used, cancelled = total("issued_on"), total("used_on"), total("cancelled_on")
    return rows, DayTotals(issued[0], issued[1], used[0], used[1], cancelled[0], cancelled[1])


# --- verification -------------------------------------------------------------------------

@dataclass(frozen=True)
class Verdict:
    valid: bool
    message: str
    data: marks.MarkData | None = None
    state: str = ""
    organization: str = ""


def mark_verify(payload: str) -> Verdict:
    """Checks a mark's text as read from its code: our shape, a known key, the signature over
    every field, and what became of the mark (issued, used, cancelled)."""
    try:
        data, signature = marks.parse(payload)
    except marks.BadMark:
        return Verdict(False, _("Это не знак онлайн-оплаты Shipdesk"))
    key = SigningKey.objects.filter(key_id=data.key_id).select_related("organization").first()
    if key is None:
        return Verdict(False, _("Неизвестный ключ подписи: знак поддельный"), data)
    if not marks.signature_valid(data, signature, key.public_key):
        return Verdict(False, _("Подпись не сходится: знак подделан или изменён"), data)
    mark = Mark.objects.filter(number=data.number, organization_id=key.organization_id).first()
    if mark is None:
        return Verdict(False, _("Знак с таким номером не выпускался"), data)
    org_name = key.organization.legal_name or key.organization.name
    if mark.state == MarkState.CANCELLED:
        return Verdict(False, _("Знак отменён, деньги за него возвращены"), data,
                       mark.state, org_name)
    text = _("Подпись верна, знак использован") if mark.state == MarkState.USED else _(
        "Подпись верна, знак действителен")
    return Verdict(True, text, data, mark.state, org_name)
