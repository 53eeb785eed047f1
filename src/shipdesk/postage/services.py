"""The postage domain's operations: balances and their movements, advance invoices, bank
statements, accountants' corrections, online postage marks (issue, cancel, use) and the
hand-over of marked letters.

The balance changes only through :func:`_move`: one conditional UPDATE
(``balance = balance + amount WHERE balance + amount >= 0``) and a movement row carrying the
balance after it, in one transaction. Concurrent issuers from any number of processes
serialize on the account's row and none can take it below zero."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from shipdesk.documents.rendering.common import money
from shipdesk.postage import clientbank, letters, marks
from shipdesk.postage.models import (
    Invoice,
    InvoiceStatus,
    Mark,
    MarkState,
    Movement,
    MovementKind,
    PaymentStatus,
    PostageAccount,
    PostageJob,
    QueueReason,
    SigningKey,
    Statement,
    StatementPayment,
)
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

ZERO = Decimal("0.00")
PAYEE_FIELDS = ("payee_name", "payee_inn", "payee_kpp", "payee_account", "payee_bank",
                "payee_bik", "payee_corr_account")
INVOICE_PREFIX = "ПМ-"
# "ПМ-000017", "PM 17", "счёт № 17", "сч. №17", "по счету N 17"
_INVOICE_NUMBER = re.compile(
    r"(?:ПМ|PM)\s*-?\s*0*(\d{1,9})\b|сч(?:[её]т[уа]?|\.)?\s*(?:на оплату\s*)?(?:№|N|#)\s*"
    r"(?:ПМ-?)?0*(\d{1,9})\b", re.IGNORECASE)


class InsufficientBalance(Conflict):
    code = "insufficient_balance"


# --- balances -----------------------------------------------------------------------------

def account_open(*, actor: Actor, carrier_account_id: int) -> PostageAccount:
    """The balance for one of the organization's carrier accounts (made on first use)."""
    from shipdesk.carriers.selectors import carrier_account_get

    actor.require(Perm.MANAGE_FINANCE)
    carrier = carrier_account_get(actor=actor, account_id=carrier_account_id)
    account, created = PostageAccount.objects.get_or_create(
        organization_id=actor.organization_id, carrier_account=carrier)
    if created:
        audit(actor, "postage.account_open", account, carrier_account=carrier.pk)
    return account


def account_get(*, actor: Actor, account_id: int, lock: bool = False) -> PostageAccount:
    qs = PostageAccount.objects.filter(organization_id=actor.organization_id, pk=account_id)
    if lock:
        qs = qs.select_for_update()
    account = qs.first()
    if account is None:
        raise NotFound(_("Баланс не найден"))
    return account


def account_set_payee(*, actor: Actor, account_id: int, **details: str) -> PostageAccount:
    """The payee's bank details printed on advance invoices; ``payee_account`` is also the
    account whose statements credit this balance."""
    from shipdesk.tenancy import validators

    actor.require(Perm.MANAGE_FINANCE)
    account = account_get(actor=actor, account_id=account_id)
    errors = [FieldError((k,), _("Неизвестное поле")) for k in details if k not in PAYEE_FIELDS]
    clean = {k: str(v).strip() for k, v in details.items() if k in PAYEE_FIELDS}
    checks = (("payee_inn", validators.validate_inn), ("payee_kpp", validators.validate_kpp),
              ("payee_bik", validators.validate_bik))
    for name, check in checks:
        if clean.get(name):
            try:
                check(clean[name])
            except Exception as exc:
                errors.append(FieldError((name,), " ".join(getattr(exc, "messages", [str(exc)]))))
    if clean.get("payee_account") and not re.fullmatch(r"\d{20}", clean["payee_account"]):
        errors.append(FieldError(("payee_account",), _("Расчётный счёт — 20 цифр")))
    if errors:
        raise ValidationFailed(_("Проверьте реквизиты получателя"), errors=errors)
    for name, value in clean.items():
        setattr(account, name, value)
    account.save()
    audit(actor, "postage.payee_set", account, **clean)
    return account


def _move(account_id: int, amount: Decimal, kind: str, *, organization_id: int,
          on: dt.date, marks_count: int = 0, payment: StatementPayment | None = None,
          note: str = "", advance_marks: int = 0) -> Movement:
    """Changes the balance by ``amount`` (signed) unless that takes it below zero; the caller
    holds the transaction. Returns the movement (with the balance after it)."""
    updates: dict[str, Any] = {"balance": F("balance") + amount}
    if advance_marks:
        updates["last_mark"] = F("last_mark") + advance_marks
    qs = PostageAccount.objects.filter(pk=account_id, organization_id=organization_id)
    if amount < 0:
        qs = qs.filter(balance__gte=-amount)
    if not qs.update(**updates):
        balance = PostageAccount.objects.filter(pk=account_id).values_list(
            "balance", flat=True).first()
        raise InsufficientBalance(
            _("Недостаточно средств на балансе: нужно %(need)s ₽, есть %(have)s ₽") % {
                "need": money(-amount), "have": money(balance or ZERO)})
    balance_after = PostageAccount.objects.filter(pk=account_id).values_list(
        "balance", flat=True).get()
    return Movement.objects.create(
        organization_id=organization_id, account_id=account_id, kind=kind, amount=amount,
        balance_after=balance_after, marks_count=marks_count, payment=payment, note=note,
        posted_on=on)


def balance_correct(*, actor: Actor, account_id: int, amount: Decimal, reason: str,
                    today: dt.date | None = None) -> Movement:
    """An accountant's correction (signed amount) with the reason; in the audit log."""
    actor.require(Perm.MANAGE_FINANCE)
    errors = []
    if not amount:
        errors.append(FieldError(("amount",), _("Укажите сумму корректировки (не ноль)")))
    if amount != amount.quantize(Decimal("0.01")):
        errors.append(FieldError(("amount",), _("Сумма — в рублях с копейками")))
    if not reason.strip():
        errors.append(FieldError(("reason",), _("Укажите причину корректировки")))
    if errors:
        raise ValidationFailed(_("Корректировка не проведена"), errors=errors)
    with transaction.atomic():
        account_get(actor=actor, account_id=account_id)
        movement = _move(account_id, amount, MovementKind.CORRECTION,
                         organization_id=actor.organization_id,
                         on=today or timezone.localdate(), note=reason.strip()[:500])
        _post_advance(movement)
        audit(actor, "postage.balance_correct", movement, account=account_id,
              amount=str(amount), reason=reason.strip())
    return movement


# --- advance invoices ---------------------------------------------------------------------

def invoice_create(*, actor: Actor, account_id: int, amount: Decimal,
                   today: dt.date | None = None) -> Invoice:
    actor.require(Perm.MANAGE_FINANCE)
    account = account_get(actor=actor, account_id=account_id)
    errors = []
    if amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        errors.append(FieldError(("amount",), _("Сумма счёта — больше нуля, с копейками")))
    if not (account.payee_name and account.payee_account and account.payee_bik):
        errors.append(FieldError(("payee_account",), _(
            "Сначала укажите реквизиты получателя: наименование, расчётный счёт, БИК")))
    if errors:
        raise ValidationFailed(_("Счёт не выставлен"), errors=errors)
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=actor.organization_id).first()
        seq = Invoice.objects.filter(organization_id=actor.organization_id).count() + 1
        invoice = Invoice.objects.create(
            organization_id=actor.organization_id, account=account,
            number=f"{INVOICE_PREFIX}{seq:06d}", amount=amount,
            issued_on=today or timezone.localdate())
        audit(actor, "postage.invoice_create", invoice, number=invoice.number,
              amount=str(amount))
    return invoice


def invoice_numbers_in(purpose: str) -> list[int]:
    return [int(a or b) for a, b in _INVOICE_NUMBER.findall(purpose)]


def _apply_to_invoice(invoice: Invoice, amount: Decimal) -> str:
    """Adds a payment to the invoice; returns the explanation shown beside the payment."""
    invoice.paid += amount
    if invoice.paid < invoice.amount:
        invoice.status = InvoiceStatus.PARTLY
        text = _("Оплачено %(paid)s ₽ из %(amount)s ₽ по счёту %(number)s")
    elif invoice.paid == invoice.amount:
        invoice.status = InvoiceStatus.PAID
        text = _("Счёт %(number)s оплачен полностью")
    else:
        invoice.status = InvoiceStatus.OVERPAID
        text = _("По счёту %(number)s на %(amount)s ₽ оплачено %(paid)s ₽: переплата "
                 "%(over)s ₽ тоже зачислена на баланс")
    invoice.save(update_fields=["paid", "status", "updated_at"])
    return text % {"paid": money(invoice.paid), "amount": money(invoice.amount),
                   "number": invoice.number, "over": money(invoice.paid - invoice.amount)}


# --- bank statements ----------------------------------------------------------------------

def statement_import(*, actor: Actor, filename: str, content: bytes,
                     source: str = "upload") -> Statement:
    """Takes a "Client Bank" statement: each incoming payment once (by §7's key, across
    overlapping statements); the organization's payments naming one of its invoices top up
    that invoice's balance; the rest wait for an accountant."""
    actor.require(Perm.MANAGE_FINANCE)
    try:
        parsed = clientbank.parse(content)
        incoming = parsed.incoming()
        rows = [(d, d.dedupe_key(), d.amount(), d.date("ДатаПоступило") or d.date("Дата"))
                for d in incoming]
    except clientbank.StatementError as exc:
        raise ValidationFailed(_("Файл не похож на выписку 1С «Клиент-банк»"), errors=[
            FieldError(("file", "line", exc.line), _("Строка %(n)s: %(e)s") % {
                "n": exc.line, "e": str(exc)})]) from exc
    org = actor.organization
    today = timezone.localdate()
    with transaction.atomic():
        Organization.objects.select_for_update().filter(pk=org.pk).first()  # one at a time
        known = set(StatementPayment.objects.filter(
            organization_id=org.pk, key__in=[k for _d, k, _a, _o in rows]).values_list(
            "key", flat=True))
        statement = Statement.objects.create(
            organization=org, filename=filename[:255], source=source, encoding=parsed.encoding,
            bank_accounts=", ".join(parsed.accounts)[:200],
            period_start=clientbank.header_date(parsed, "ДатаНачала"),
            period_end=clientbank.header_date(parsed, "ДатаКонца"),
            documents=len(parsed.documents))
        invoices = {int(i.number.removeprefix(INVOICE_PREFIX)): i for i in Invoice.objects.filter(
            organization_id=org.pk).select_related("account")}
        for doc, key, amount, paid_on in rows:
            if key in known:
                statement.duplicates += 1
                continue
            known.add(key)
            payment = StatementPayment(
                organization_id=org.pk, statement=statement, key=key, number=doc.get("Номер"),
                paid_on=paid_on or today, amount=amount, payer_inn=doc.get("ПлательщикИНН"),
                payer_name=(doc.get("Плательщик1") or doc.get("Плательщик"))[:500],
                purpose=doc.purpose)
            invoice = next((invoices[n] for n in invoice_numbers_in(payment.purpose)
                            if n in invoices), None)
            own_account = invoice is not None and invoice.account.payee_account in (
                parsed.accounts or [invoice.account.payee_account])
            if not org.inn or payment.payer_inn != org.inn:
                payment.status, payment.reason = PaymentStatus.QUEUED, QueueReason.UNKNOWN_PAYER
            elif invoice is None or not own_account:
                payment.status, payment.reason = PaymentStatus.QUEUED, QueueReason.NO_INVOICE
            else:
                payment.status, payment.invoice = PaymentStatus.CREDITED, invoice
            payment.save()
            if payment.invoice is not None:
                _credit_payment(payment, payment.invoice)
                statement.credited += 1
            else:
                statement.queued += 1
        statement.save()
        audit(actor, "postage.statement_import", statement, filename=filename,
              credited=statement.credited, queued=statement.queued,
              duplicates=statement.duplicates)
    return statement


def _credit_payment(payment: StatementPayment, invoice: Invoice) -> Movement:
    """Credits a payment seen for the first time (its statement key is unique, a queued one
    is locked) to the invoice's balance, and posts it as the advance paid to the carrier."""
    payment.explanation = _apply_to_invoice(invoice, payment.amount)[:500]
    payment.invoice = invoice
    payment.status = PaymentStatus.CREDITED
    payment.save(update_fields=["explanation", "invoice", "status", "updated_at"])
    movement = _move(invoice.account_id, payment.amount, MovementKind.TOPUP,
                     organization_id=payment.organization_id, on=payment.paid_on,
                     payment=payment, note=_("Платёж № %(n)s от %(d)s, %(inn)s") % {
                         "n": payment.number, "d": payment.paid_on.strftime("%d.%m.%Y"),
                         "inn": payment.payer_inn})
    _post_advance(movement)
    return movement


def _post_advance(movement: Movement) -> None:
    """The money of a top-up or a correction, to the finance ledger, in the movement's
    transaction: an advance paid to the carrier, Dr 60.02 (advances paid) / Cr 51 (bank);
    a negative correction the other way round. The entry's number is kept on the movement
    (which is written once: the posting is too)."""
    from shipdesk.finance import ledger
    from shipdesk.finance.models import Account, EntryKind

    entry = ledger.Entry(kind=EntryKind.ADVANCE, shipment_id=None, posted_on=movement.posted_on,
                         lines=[(Account.ADVANCES, movement.amount),
                                (Account.BANK, -movement.amount)])
    ledger.post(movement.organization_id, [entry])
    movement.ledger_entry = entry.number
    Movement.objects.filter(pk=movement.pk).update(ledger_entry=entry.number)


def payment_assign(*, actor: Actor, payment_id: int, invoice_id: int) -> StatementPayment:
    """An accountant credits a queued payment to one of the organization's invoices."""
    actor.require(Perm.MANAGE_FINANCE)
    with transaction.atomic():
        payment = StatementPayment.objects.select_for_update().filter(
            organization_id=actor.organization_id, pk=payment_id).first()
        invoice = Invoice.objects.filter(organization_id=actor.organization_id,
                                         pk=invoice_id).first()
        if payment is None or invoice is None:
            raise NotFound(_("Платёж или счёт не найден"))
        if payment.status != PaymentStatus.QUEUED:
            raise Conflict(_("Платёж № %(n)s уже разобран") % {"n": payment.number})
        _credit_payment(payment, invoice)
        audit(actor, "postage.payment_assign", payment, invoice=invoice.number,
              amount=str(payment.amount))
    return payment


def payment_dismiss(*, actor: Actor, payment_id: int, reason: str) -> StatementPayment:
    actor.require(Perm.MANAGE_FINANCE)
    if not reason.strip():
        raise ValidationFailed(_("Укажите причину"), errors=[
            FieldError(("reason",), _("Укажите причину"))])
    with transaction.atomic():
        payment = StatementPayment.objects.select_for_update().filter(
            organization_id=actor.organization_id, pk=payment_id,
            status=PaymentStatus.QUEUED).first()
        if payment is None:
            raise NotFound(_("Платёж не найден в очереди"))
        payment.status, payment.explanation = PaymentStatus.DISMISSED, reason.strip()[:500]
        payment.save(update_fields=["status", "explanation", "updated_at"])
        audit(actor, "postage.payment_dismiss", payment, reason=reason.strip())
    return payment


# --- signing keys and marks ---------------------------------------------------------------

def signing_key(organization_id: int) -> SigningKey:
    key = SigningKey.objects.filter(organization_id=organization_id).first()
    if key is not None:
        return key
    private, public = marks.new_key()
    with transaction.atomic():
        secret: Any = {"ed25519": private}
        key, _created = SigningKey.objects.get_or_create(
            organization_id=organization_id,
            defaults={"key_id": public[:16], "public_key": public, "secret": secret})
    return key


def marks_issue(*, actor: Actor, account_id: int, shipment_ids: Sequence[int],
                today: dt.date | None = None) -> QuerySet[Mark]:
    """One mark per item, paid from the balance in one debit (the marks come back as a lazy
    query: a caller wanting only the debit reads none of them). Refused whole (with the
    item's number in the message) for an item of another organization or another contract,
    without a number or a price, or with a live mark already."""
    from shipdesk.shipments.models import Shipment

    actor.require(Perm.MANAGE_SHIPMENTS)
    today = today or timezone.localdate()
    ids = list(dict.fromkeys(shipment_ids))
    if not ids:
        raise ValidationFailed(_("Не выбрано ни одного отправления"), errors=[
            FieldError(("shipment_ids",), _("Выберите отправления"))])
    account = account_get(actor=actor, account_id=account_id)
    items = [(pk, number, cost if cost else _letter_postage(service, weight), carrier)
             for pk, number, cost, carrier, service, weight in Shipment.objects.filter(
                 organization_id=actor.organization_id, pk__in=ids).values_list(
                 "pk", "tracking_number", "shipping_cost", "carrier_account_id",
                 "service_code", "weight_g")]
    errors: list[FieldError] = []
    found = {pk for pk, *_rest in items}
    errors += [FieldError(("shipment_ids", pk), _(
        "Отправление %(id)s не найдено в этой организации: знак на него не выпускается") % {
        "id": pk}, "not_found") for pk in ids if pk not in found]
    live = set(Mark.objects.filter(organization_id=actor.organization_id, shipment_id__in=ids)
               .exclude(state=MarkState.CANCELLED).values_list("shipment_id", flat=True))
    for pk, number, cost, carrier_account in items:
        if not number:
            errors.append(FieldError(("shipment_ids", pk), _(
                "У отправления %(id)s нет трек-номера") % {"id": pk}))
        elif pk in live:
            errors.append(FieldError(("shipment_ids", pk), _(
                "На отправление %(n)s знак уже выпущен") % {"n": number}, "duplicate"))
        elif not cost or cost <= 0:
            errors.append(FieldError(("shipment_ids", pk), _(
                "У отправления %(n)s не рассчитан тариф (и это не письмо с известным "
                "весом)") % {"n": number}))
        elif carrier_account != account.carrier_account_id:
            errors.append(FieldError(("shipment_ids", pk), _(
                "Отправление %(n)s — по другому договору, не этого баланса") % {"n": number}))
    if errors:
        raise ValidationFailed(_("Знаки не выпущены"), errors=errors)
    priced = [(pk, str(number), Decimal(cost or 0)) for pk, number, cost, _a in items]
    total = sum((cost for _pk, _n, cost in priced), ZERO)
    key = signing_key(actor.organization_id)
    private = marks.private_key(key.secret["ed25519"])  # type: ignore[index]
    inn = actor.organization.inn or "-"
    with transaction.atomic():
        debit = _move(account.pk, -total, MovementKind.DEBIT,
                      organization_id=actor.organization_id, on=today, marks_count=len(items),
                      note=_("Знаки онлайн-оплаты: %(n)s шт.") % {"n": len(items)},
                      advance_marks=len(items))
        last = PostageAccount.objects.filter(pk=account.pk).values_list(
            "last_mark", flat=True).get()
        now = timezone.now()
        org_id = actor.organization_id
        rows = []
        for seq, (pk, number, cost) in enumerate(priced, start=last - len(items) + 1):
            data = marks.MarkData(number=f"{account.pk}-{seq:07d}", tracking_number=number,
                                  sender_inn=inn, amount=cost, issued_on=today,
                                  key_id=key.key_id)
            rows.append((org_id, account.pk, pk, data.number, number, cost, today,
                         MarkState.ISSUED, marks.sign(data, private), debit.pk, now, now))
        _insert_marks(rows)
        audit(actor, "postage.marks_issue", debit, count=len(rows), amount=str(total))
    return Mark.objects.filter(debit=debit).order_by("pk")


def marks_issue_chosen(*, actor: Actor, shipment_ids: Sequence[int],
                       today: dt.date | None = None) -> list[Mark]:
    """Marks for shipments chosen in a list (the shipments page, a batch): each item is paid
    from the balance of its own contract, one debit per contract, all or nothing (a refusal
    names the item, as :func:`marks_issue`'s do; another organization's id is refused as not
    found)."""
    from shipdesk.shipments.models import Shipment

    actor.require(Perm.MANAGE_SHIPMENTS)
    ids = list(dict.fromkeys(shipment_ids))
    if not ids:
        raise ValidationFailed(_("Не выбрано ни одного отправления"), errors=[
            FieldError(("shipment_ids",), _("Выберите отправления"))])
    contract_of, names = {}, {}
    for pk, contract, number, order in Shipment.objects.filter(
            organization_id=actor.organization_id, pk__in=ids).values_list(
            "pk", "carrier_account_id", "tracking_number", "order_number"):
        contract_of[pk], names[pk] = contract, number or order
    errors = [FieldError(("shipment_ids", pk), _(
        "Отправление %(id)s не найдено в этой организации: знак на него не выпускается") % {
        "id": pk}, "not_found") for pk in ids if pk not in contract_of]
    balances = dict(PostageAccount.objects.filter(
        organization_id=actor.organization_id,
        carrier_account_id__in={c for c in contract_of.values() if c}).values_list(
        "carrier_account_id", "pk"))
    by_account: dict[int, list[int]] = {}
    for pk in ids:
        if pk not in contract_of:
            continue
        account_id = balances.get(contract_of[pk])
        if account_id is None:
            errors.append(FieldError(("shipment_ids", pk), _(
                "У договора отправления %(n)s нет баланса франкирования: откройте его на "
                "странице «Франкирование»") % {"n": names[pk]}, "no_balance"))
        else:
            by_account.setdefault(account_id, []).append(pk)
    if errors:
        raise ValidationFailed(_("Знаки не выпущены"), errors=errors)
    issued: list[Mark] = []
    with transaction.atomic():  # one contract's refusal issues nothing for the others
        for account_id, chosen in by_account.items():
            issued += list(marks_issue(actor=actor, account_id=account_id,
                                       shipment_ids=chosen, today=today))
    return issued


_MARK_COLUMNS = ("organization_id", "account_id", "shipment_id", "number", "tracking_number",
                 "amount", "issued_on", "state", "payload", "debit_id", "created_at",
                 "updated_at")


def _insert_marks(rows: list[tuple[Any, ...]]) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        Mark.objects.bulk_create([Mark(**dict(zip(_MARK_COLUMNS, r, strict=True)))
                                  for r in rows], batch_size=2000)
        return
    from shipdesk.core.pgcopy import copy_rows

    with connection.cursor() as cursor:
        copy_rows(cursor, Mark._meta.db_table, _MARK_COLUMNS, rows)


def _letter_postage(service_code: str, weight_g: int | None) -> Decimal | None:
    """A letter's postage by its kind and weight when the item has no price of its own."""
    try:
        return letters.postage(service_code, weight_g or 0)
    except letters.NotALetter:
        return None


def mark_get(*, actor: Actor, mark_id: int) -> Mark:
    mark = Mark.objects.filter(organization_id=actor.organization_id, pk=mark_id).first()
    if mark is None:
        raise NotFound(_("Знак не найден"))
    return mark


def mark_cancel(*, actor: Actor, mark_id: int, today: dt.date | None = None) -> Mark:
    """Cancels an issued (unused) mark and refunds its amount, exactly once."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    today = today or timezone.localdate()
    mark = mark_get(actor=actor, mark_id=mark_id)
    with transaction.atomic():
        if not Mark.objects.filter(pk=mark.pk, state=MarkState.ISSUED).update(
                state=MarkState.CANCELLED, cancelled_on=today, updated_at=timezone.now()):
            mark.refresh_from_db()
            raise Conflict(_("Знак %(n)s уже %(state)s: отменить его нельзя") % {
                "n": mark.number, "state": mark.get_state_display().lower()})
        refund = _move(mark.account_id, mark.amount, MovementKind.REFUND,
                       organization_id=actor.organization_id, on=today, marks_count=1,
                       note=_("Отмена знака %(n)s (%(t)s)") % {
                           "n": mark.number, "t": mark.tracking_number})
        Mark.objects.filter(pk=mark.pk).update(refund=refund)
        audit(actor, "postage.mark_cancel", mark, number=mark.number)
    mark.refresh_from_db()
    return mark


def _post_used(organization_id: int, used: Sequence[Mark], on: dt.date) -> None:
    """The postage of marks just used, to the finance ledger, per item: the carrier's
    service, Dr 44 (delivery costs) / Cr 60 (the carrier), and that service offset against
    the advance paid for it, Dr 60 / Cr 60.02 (advances paid)."""
    from shipdesk.finance import ledger
    from shipdesk.finance.models import Account, EntryKind

    entries = []
    for m in used:
        entries += [
            ledger.Entry(kind=EntryKind.SERVICES, shipment_id=m.shipment_id, posted_on=on,
                         lines=[(Account.DELIVERY, m.amount), (Account.CARRIER, -m.amount)]),
            ledger.Entry(kind=EntryKind.ADVANCE_OFFSET, shipment_id=m.shipment_id,
                         posted_on=on,
                         lines=[(Account.CARRIER, m.amount), (Account.ADVANCES, -m.amount)])]
    ledger.post(organization_id, entries)


def marks_use(*, organization_id: int, shipment_ids: Sequence[int], on: dt.date,
              batch_id: int | None = None) -> tuple[list[Mark], list[Mark]]:
    """Moves the items' issued marks to used and posts their postage to the ledger; returns
    (now used, the rest: used already or cancelled). Rows are locked so that two hand-overs
    of one letter cannot both use it."""
    live = list(Mark.objects.select_for_update().filter(
        organization_id=organization_id, shipment_id__in=shipment_ids).exclude(
        state=MarkState.CANCELLED).order_by("pk"))
    fresh = [m for m in live if m.state == MarkState.ISSUED]
    rest = [m for m in live if m.state != MarkState.ISSUED]
    if fresh:
        Mark.objects.filter(pk__in=[m.pk for m in fresh]).update(
            state=MarkState.USED, used_on=on, batch_id=batch_id, updated_at=timezone.now())
        for m in fresh:
            m.state, m.used_on, m.batch_id = MarkState.USED, on, batch_id
        _post_used(organization_id, fresh, on)
    return fresh, rest


def handover_accept(*, actor: Actor, batch_id: int, today: dt.date | None = None) -> list[Mark]:
    """A batch of marked letters accepted at the office: every letter must carry a mark not
    handed over before; the marks become used and their postage is posted to the ledger
    (Dr 44, Cr 60, and the advance offset: Dr 60, Cr 60.02). A mark tracking already saw
    accepted (posted then) joins the batch."""
    from shipdesk.documents import selectors as documents

    actor.require(Perm.MANAGE_SHIPMENTS)
    today = today or timezone.localdate()
    batch = documents.batch_get(actor=actor, batch_id=batch_id)
    shipments = dict(documents.batch_shipments(batch).values_list("pk", "tracking_number"))
    with transaction.atomic():
        used, rest = marks_use(organization_id=actor.organization_id,
                               shipment_ids=list(shipments), on=today, batch_id=batch.pk)
        twice = [m for m in rest if m.batch_id is not None]
        joined = [m for m in rest if m.batch_id is None]
        marked = {m.shipment_id for m in used + rest}
        errors = [FieldError(("marks", m.tracking_number), _(
            "Знак %(n)s на %(t)s уже использован: сдан %(d)s") % {
            "n": m.number, "t": m.tracking_number,
            "d": m.used_on.strftime("%d.%m.%Y") if m.used_on else ""},
            "used_twice") for m in twice]
        errors += [FieldError(("shipments", number or pk), _(
            "На отправлении %(t)s нет знака онлайн-оплаты") % {"t": number or pk}, "no_mark")
            for pk, number in shipments.items() if pk not in marked]
        if errors:
            transaction.set_rollback(True)
            raise ValidationFailed(_("Партия %(b)s не принята") % {"b": str(batch)},
                                   errors=errors)
        Mark.objects.filter(pk__in=[m.pk for m in joined]).update(batch_id=batch.pk)
        audit(actor, "postage.handover_accept", batch, marks=len(used) + len(joined),
              amount=str(sum((m.amount for m in used + joined), ZERO)))
    return used + joined


def marks_from_tracking(*, now: dt.datetime | None = None, limit: int = 5000) -> int:
    """Tracking's feed: an item accepted at the office uses its mark. Returns marks used."""
    from shipdesk.tracking.models import ShipmentStatusChange
    from shipdesk.tracking.statuses import Status

    now = now or timezone.now()
    with transaction.atomic():
        job, _created = PostageJob.objects.get_or_create(name="tracking_feed")
        job = PostageJob.objects.select_for_update().get(pk=job.pk)
        changes = list(ShipmentStatusChange.objects.filter(
            pk__gt=job.last_id, status=Status.ACCEPTED).order_by("pk").values_list(
            "pk", "organization_id", "shipment_id", "changed_at")[:limit])
        by_org: dict[int, list[tuple[int, dt.date]]] = {}
        for _pk, org_id, shipment_id, changed_at in changes:
            by_org.setdefault(org_id, []).append((shipment_id, changed_at.date()))
        used = 0
        for org_id, items in by_org.items():
            for shipment_id, on in items:
                fresh, _refused = marks_use(organization_id=org_id, shipment_ids=[shipment_id],
                                            on=on)
                used += len(fresh)
        if changes:
            job.last_id = changes[-1][0]
        job.due_at = now + dt.timedelta(minutes=10)
        job.save(update_fields=["last_id", "due_at"])
    return used
