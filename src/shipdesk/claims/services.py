"""Claims: created from a candidate within the filing window, moved along their states,
reminded of before each deadline, their compensation posted to the ledger."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence
from decimal import Decimal

from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.claims import detection, rules
from shipdesk.claims.models import (
    Candidate,
    CandidateState,
    Claim,
    ClaimEvent,
    ClaimReminder,
    ClaimRule,
    ClaimsSettings,
    ClaimState,
    Kind,
)
from shipdesk.core.errors import (
    Conflict,
    FieldError,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

S = ClaimState
# the claim's life as data: from -> the states it may go to
TRANSITIONS: dict[str, frozenset[str]] = {
    S.DRAFT: frozenset({S.FILED}),
    S.FILED: frozenset({S.IN_REVIEW, S.APPROVED, S.PARTLY_APPROVED, S.REJECTED}),
    S.IN_REVIEW: frozenset({S.APPROVED, S.PARTLY_APPROVED, S.REJECTED}),
    S.APPROVED: frozenset({S.PAID}),
    S.PARTLY_APPROVED: frozenset({S.PAID}),
    S.REJECTED: frozenset(),
    S.PAID: frozenset(),
}
ZERO = Decimal("0.00")
# the ledger accounts of a compensation: the money on the bank account, the other income
BANK, OTHER_INCOME = "51", "91.1"
ENTRY_KIND = "claim_payment"
DETECT_EVERY = dt.timedelta(hours=24)


def _zone(actor: Actor) -> zoneinfo.ZoneInfo:
    return actor.organization.zone


def _local_day(value: dt.datetime, zone: dt.tzinfo) -> dt.date:
    return value.astimezone(zone).date()


def candidates_detect(*, actor: Actor, now: dt.datetime | None = None) -> dict[str, int]:
    """Runs every rule for the actor's organization (see ``detection``)."""
    actor.require(Perm.VIEW)
    return detection_run(organization_id=actor.organization.pk, now=now)


def candidate_dismiss(*, actor: Actor, candidate_id: int) -> Candidate:
    actor.require(Perm.MANAGE_SHIPMENTS)
    cand = Candidate.objects.filter(organization=actor.organization, pk=candidate_id).first()
    if cand is None:
        raise NotFound(_("Кандидат в претензии не найден"))
    cand.state = CandidateState.DISMISSED
    cand.save(update_fields=["state", "updated_at"])
    audit(actor, "claims.candidate_dismiss", cand, kind=cand.kind)
    return cand


def rule_set(*, actor: Actor, kind: str, carrier_code: str = "", enabled: bool = True,
             margin_days: int, file_window_days: int, answer_days: int, remind_days: int,
             min_amount: Decimal = ZERO) -> ClaimRule:
    """Sets the organization's rule for a kind and carrier ("" = any carrier)."""
    actor.require(Perm.MANAGE_SETTINGS)
    errors = []
    if kind not in Kind.values:
        errors.append(FieldError(("kind",), _("Неизвестный повод: %(k)s") % {"k": kind}))
    for name, value, low, high in (("margin_days", margin_days, 0, 365),
                                   ("file_window_days", file_window_days, 1, 3650),
                                   ("answer_days", answer_days, 1, 365),
                                   ("remind_days", remind_days, 0, 365)):
        if not low <= value <= high:
            errors.append(FieldError((name,), _("Должно быть от %(a)d до %(b)d дней") % {
                "a": low, "b": high}))
    if min_amount < 0:
        errors.append(FieldError(("min_amount",), _("Сумма не может быть отрицательной")))
    if errors:
        raise ValidationFailed(_("Правило не сохранено"), errors=errors)
    row, _created = ClaimRule.objects.update_or_create(
        organization=actor.organization, carrier_code=carrier_code, kind=kind,
        defaults={"enabled": enabled, "margin_days": margin_days,
                  "file_window_days": file_window_days, "answer_days": answer_days,
                  "remind_days": remind_days, "min_amount": min_amount})
    audit(actor, "claims.rule_set", row, kind=kind, carrier_code=carrier_code)
    return row


# --- the claim ----------------------------------------------------------------------------
def evidence_words(c: Candidate) -> list[str]:
    """The candidate's facts as sentences (the claim keeps them, the letter quotes them)."""
    out: list[str] = []
    if c.kind == Kind.STUCK:
        if c.term_ended:
            out.append(_("Контрольный срок доставки истёк %(d)s") % {"d": when(c.term_ended)})
        if c.since:
            out.append(_("Последняя операция по отправлению — %(d)s, статус «%(s)s»") % {
                "d": when(c.since), "s": _status(c.event_code)})
    elif c.kind in (Kind.LOST, Kind.DAMAGED, Kind.PARTIAL, Kind.RETURN_MISSING):
        if c.since:
            out.append(_("%(d)s перевозчик сообщил: «%(s)s»%(sub)s") % {
                "d": when(c.since), "s": _status(c.event_code),
                "sub": f" ({c.event_text})" if c.event_text else ""})
    elif c.kind == Kind.COD_UNPAID:
        if c.since:
            out.append(_("Вручено %(d)s") % {"d": when(c.since)})
        out.append(_("Наложенный платёж %(exp)s, перечислено %(got)s") % {
            "exp": _rub(c.expected_amount), "got": _rub(c.actual_amount)})
    elif c.kind == Kind.OVERCHARGE:
        out.append(_("В отчёте о выплате: ожидалось %(exp)s, перечислено %(got)s") % {
            "exp": _rub(c.expected_amount), "got": _rub(c.actual_amount)})
        if c.event_text:
            out.append(c.event_text)
    out.append(_("На кону %(sum)s") % {"sum": _rub(c.at_stake)})
    return out


def _rub(value: Decimal | None) -> str:
    from shipdesk.core.templatetags.words import money_text

    return str(money_text(value or ZERO))


def when(value: dt.datetime) -> str:
    return timezone.localtime(value).strftime("%d.%m.%Y")


def _status(code: str) -> str:
    from shipdesk.tracking.statuses import status_label

    return status_label(code) or code


def _posted_at(shipment_id: int) -> dt.datetime | None:
    from shipdesk.tracking.models import TrackingState

    return TrackingState.objects.filter(shipment_id=shipment_id).values_list(
        "accepted_at", flat=True).first()


@transaction.atomic
def claim_create(*, actor: Actor, shipment_id: int, kind: str,
                 amount: Decimal | None = None, now: dt.datetime | None = None) -> Claim:
    """A draft claim about one parcel and one reason. Refused past the filing window (with
    the day it closed) and when the parcel already has a claim for the same reason."""
    from shipdesk.shipments.models import Shipment

    actor.require(Perm.MANAGE_SHIPMENTS)
    now = now or timezone.now()
    if kind not in Kind.values:
        raise ValidationFailed(_("Неизвестный повод претензии"), errors=[
            FieldError(("kind",), _("Неизвестный повод: %(k)s") % {"k": kind})])
    shipment = Shipment.objects.filter(organization=actor.organization, pk=shipment_id).first()
    if shipment is None:
        raise NotFound(_("Отправление не найдено"))
    existing = Claim.objects.filter(organization=actor.organization, shipment=shipment,
                                    kind=kind).first()
    if existing is not None:
        raise Conflict(_("По отправлению %(n)s уже есть претензия №%(id)d по поводу «%(k)s»")
                       % {"n": shipment.tracking_number or shipment.order_number,
                          "id": existing.pk, "k": Kind(kind).label})
    rule = rules.rules_for(organization_id=actor.organization.pk,
                           carrier_codes=[shipment.carrier_code])[(kind, shipment.carrier_code)]
    zone = _zone(actor)
    posted_at = _posted_at(shipment.pk) or shipment.created_at
    file_by = _local_day(posted_at, zone) + dt.timedelta(days=rule.file_window_days)
    if _local_day(now, zone) > file_by:
        raise ValidationFailed(
            _("Срок подачи претензии истёк %(d)s (%(n)d дн. от приёма %(p)s)") % {
                "d": file_by.strftime("%d.%m.%Y"), "n": rule.file_window_days,
                "p": _local_day(posted_at, zone).strftime("%d.%m.%Y")},
            errors=[FieldError(("shipment_id",), _("Срок подачи истёк %(d)s") % {
                "d": file_by.strftime("%d.%m.%Y")})])
    cand = Candidate.objects.filter(organization=actor.organization, shipment=shipment,
                                    kind=kind).first()
    stake = cand.at_stake if cand else (shipment.declared_value or shipment.cod_amount or ZERO) \
        + (shipment.shipping_cost or ZERO)
    if amount is not None and amount <= 0:
        raise ValidationFailed(_("Сумма претензии должна быть больше нуля"),
                               errors=[FieldError(("amount",), _("Больше нуля"))])
    claim = Claim(organization=actor.organization, shipment=shipment, kind=kind,
                  carrier_code=shipment.carrier_code,
                  tracking_number=shipment.tracking_number or "", posted_at=posted_at,
                  file_by=file_by, answer_days=rule.answer_days, remind_days=rule.remind_days,
                  claimed_amount=amount if amount is not None else stake,
                  evidence=evidence_words(cand) if cand else [])
    try:
        with transaction.atomic():
            claim.save()
    except IntegrityError:  # the same claim made at the same moment by someone else
        raise Conflict(_("По этому отправлению и поводу уже есть претензия")) from None
    if cand is not None:
        cand.state = CandidateState.CLAIMED
        cand.save(update_fields=["state", "updated_at"])
    _event(actor, claim, "", S.DRAFT, _("Создана"))
    _schedule(claim, now)
    claim.save(update_fields=["next_reminder_at"])
    audit(actor, "claims.claim_create", claim, kind=kind, shipment_id=shipment.pk)
    return claim


def claims_create_from_candidates(*, actor: Actor, candidate_ids: Sequence[int],
                                  now: dt.datetime | None = None) -> tuple[list[Claim], list[str]]:
    """Drafts for the chosen candidates; the refused ones come back with their reason."""
    made: list[Claim] = []
    refused: list[str] = []
    for cand in Candidate.objects.filter(organization=actor.organization, pk__in=candidate_ids):
        try:
            made.append(claim_create(actor=actor, shipment_id=cand.shipment_id, kind=cand.kind,
                                     now=now))
        except (ValidationFailed, Conflict) as exc:
            refused.append(f"{cand.tracking_number}: {exc.detail}")
    return made, refused


def _event(actor: Actor | None, claim: Claim, from_state: str, to_state: str,
           note: str = "") -> None:
    user = getattr(actor, "user", None) if actor else None
    ClaimEvent.objects.create(claim=claim, from_state=from_state, to_state=to_state,
                              user=user if getattr(user, "pk", None) else None, note=note[:500])


def _get(actor: Actor, claim_id: int, *, lock: bool = True) -> Claim:
    qs = Claim.objects.filter(organization=actor.organization, pk=claim_id)
    claim = (qs.select_for_update() if lock else qs).first()
    if claim is None:
        raise NotFound(_("Претензия не найдена"))
    return claim


def _move(actor: Actor, claim: Claim, to: str, note: str = "") -> None:
    if to not in TRANSITIONS[claim.state]:
        raise InvalidTransition(_("Претензию в состоянии «%(a)s» нельзя перевести в «%(b)s»")
                                % {"a": S(claim.state).label, "b": S(to).label})
    before = claim.state
    claim.state = to
    _event(actor, claim, before, to, note)


@transaction.atomic
def claim_file(*, actor: Actor, claim_id: int, reference: str = "",
               now: dt.datetime | None = None) -> Claim:
    """Marks the claim as filed with the carrier (sent, handed in): the answer term starts."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    now = now or timezone.now()
    claim = _get(actor, claim_id)
    zone = _zone(actor)
    if claim.state == S.DRAFT and _local_day(now, zone) > claim.file_by:
        raise ValidationFailed(_("Срок подачи претензии истёк %(d)s") % {
            "d": claim.file_by.strftime("%d.%m.%Y")})
    _move(actor, claim, S.FILED, reference)
    claim.filed_at = now
    claim.answer_by = _local_day(now, zone) + dt.timedelta(days=claim.answer_days)
    claim.carrier_reference = reference[:64] or claim.carrier_reference
    _schedule(claim, now)
    claim.save()
    audit(actor, "claims.claim_file", claim)
    return claim


@transaction.atomic
def claim_extend(*, actor: Actor, claim_id: int, days: int = 30,
                 now: dt.datetime | None = None) -> Claim:
    """The carrier's notice that it extends its answer term (Russian Post: up to 30 days)."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    claim = _get(actor, claim_id)
    if claim.state not in (S.FILED, S.IN_REVIEW) or claim.answer_by is None:
        raise InvalidTransition(_("Продлить можно только срок ответа на поданную претензию"))
    if claim.extended:
        raise Conflict(_("Срок ответа уже продлевался"))
    claim.answer_by += dt.timedelta(days=days)
    claim.extended = True
    _event(actor, claim, claim.state, claim.state,
           _("Перевозчик продлил срок ответа до %(d)s") % {"d": claim.answer_by.strftime(
               "%d.%m.%Y")})
    _schedule(claim, now or timezone.now())
    claim.save()
    return claim


@transaction.atomic
def claim_review(*, actor: Actor, claim_id: int) -> Claim:
    actor.require(Perm.MANAGE_SHIPMENTS)
    claim = _get(actor, claim_id)
    _move(actor, claim, S.IN_REVIEW)
    claim.save()
    return claim


@transaction.atomic
def claim_decide(*, actor: Actor, claim_id: int, approved_amount: Decimal | None,
                 note: str = "", now: dt.datetime | None = None) -> Claim:
    """The carrier's answer: the amount it grants (the whole claim: approved; less: partly;
    none: rejected)."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    claim = _get(actor, claim_id)
    amount = approved_amount or ZERO
    if amount < 0:
        raise ValidationFailed(_("Сумма не может быть отрицательной"), errors=[
            FieldError(("approved_amount",), _("Сумма не может быть отрицательной"))])
    to = S.REJECTED if amount == 0 else (
        S.APPROVED if amount >= claim.claimed_amount else S.PARTLY_APPROVED)
    _move(actor, claim, to, note)
    claim.approved_amount = amount
    claim.decided_at = now or timezone.now()
    claim.next_reminder_at = None
    claim.save()
    audit(actor, "claims.claim_decide", claim, state=to, amount=str(amount))
    return claim


@transaction.atomic
def claim_pay(*, actor: Actor, claim_id: int, amount: Decimal, paid_on: dt.date) -> Claim:
    """The compensation received: the claim is paid and the money posted to the ledger
    (bank 51 against other income 91.1, on the parcel)."""
    from shipdesk.finance import ledger

    actor.require(Perm.MANAGE_FINANCE)
    claim = _get(actor, claim_id)
    if amount <= 0:
        raise ValidationFailed(_("Сумма возмещения должна быть больше нуля"), errors=[
            FieldError(("amount",), _("Больше нуля"))])
    _move(actor, claim, S.PAID, _("Получено %(s)s ₽") % {"s": amount})
    entry = ledger.Entry(kind=ENTRY_KIND, shipment_id=claim.shipment_id, posted_on=paid_on,
                         lines=[(BANK, amount), (OTHER_INCOME, -amount)])
    ledger.post(actor.organization.pk, [entry])
    claim.paid_amount, claim.paid_on, claim.ledger_entry = amount, paid_on, entry.number
    claim.save()
    audit(actor, "claims.claim_pay", claim, amount=str(amount))
    return claim


# --- deadlines and reminders --------------------------------------------------------------
def _at_morning(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(6, 0), tzinfo=dt.UTC)


def _deadline(claim: Claim) -> tuple[str, dt.date] | None:
    if claim.state == S.DRAFT:
        return ClaimReminder.FILE, claim.file_by
    if claim.state in (S.FILED, S.IN_REVIEW) and claim.answer_by is not None:
        return ClaimReminder.ANSWER, claim.answer_by
    return None


def _schedule(claim: Claim, now: dt.datetime) -> None:
    """The next reminder: ``remind_days`` before the claim's current deadline (at once if
    that day has come), none once it has been sent or the deadline has passed."""
    due = _deadline(claim)
    if due is None:
        claim.next_reminder_at = None
        return
    what, day = due
    remind_on = day - dt.timedelta(days=claim.remind_days)
    if claim.pk and ClaimReminder.objects.filter(claim=claim, deadline=what,
                                                 due_on=day).exists():
        claim.next_reminder_at = None
        return
    claim.next_reminder_at = max(_at_morning(remind_on), min(now, _at_morning(day)))


def reminders_send(*, claim_ids: Sequence[int], now: dt.datetime | None = None) -> int:
    """Sends the due reminders (due work): one e-mail to the organization's owners per
    claim and deadline, recorded; idempotent."""
    from shipdesk.tenancy.models import Membership, Role

    now = now or timezone.now()
    sent = 0
    for claim in Claim.objects.filter(pk__in=claim_ids).select_related("organization"):
        due = _deadline(claim)
        if due is None:
            Claim.objects.filter(pk=claim.pk).update(next_reminder_at=None)
            continue
        what, day = due
        if now.date() > day:  # the deadline passed before the sweep came: nothing to warn of
            Claim.objects.filter(pk=claim.pk).update(next_reminder_at=None)
            continue
        if now < _at_morning(day - dt.timedelta(days=claim.remind_days)):
            _schedule(claim, now)
            Claim.objects.filter(pk=claim.pk).update(next_reminder_at=claim.next_reminder_at)
            continue
        emails = sorted({e for e in Membership.objects.filter(
            organization_id=claim.organization_id, role=Role.OWNER).values_list(
            "user__email", flat=True) if e})
        try:
            with transaction.atomic():
                ClaimReminder.objects.create(claim=claim, deadline=what, due_on=day,
                                             emailed_to=",".join(emails)[:500])
        except IntegrityError:
            Claim.objects.filter(pk=claim.pk).update(next_reminder_at=None)
            continue
        subject = (_("Претензия №%(id)d: подать до %(d)s") if what == ClaimReminder.FILE
                   else _("Претензия №%(id)d: ответ перевозчика до %(d)s")) % {
            "id": claim.pk, "d": day.strftime("%d.%m.%Y")}
        body = _("Отправление %(n)s, повод «%(k)s», сумма %(s)s ₽. Срок — %(d)s.") % {
            "n": claim.tracking_number, "k": Kind(claim.kind).label, "s": claim.claimed_amount,
            "d": day.strftime("%d.%m.%Y")}
        if emails:
            EmailMessage(subject, body, to=emails).send(fail_silently=True)
        Claim.objects.filter(pk=claim.pk).update(next_reminder_at=None)
        sent += 1
    return sent


def claims_settings(organization_id: int) -> ClaimsSettings:
    """The organization's row (made on first use, detection due at once)."""
    row, _created = ClaimsSettings.objects.get_or_create(
        organization_id=organization_id, defaults={"next_detect_at": timezone.now()})
    return row


def detection_run(*, organization_id: int, now: dt.datetime | None = None) -> dict[str, int]:
    """Runs the rules now and records when, and what they found."""
    now = now or timezone.now()
    counts = detection.detect(organization_id=organization_id, now=now)
    ClaimsSettings.objects.update_or_create(
        organization_id=organization_id,
        defaults={"last_detect_at": now, "last_counts": counts,
                  "next_detect_at": now + DETECT_EVERY})
    return counts


def detection_run_due(*, settings_ids: Sequence[int]) -> None:
    """Due work: the daily detection of each organization whose turn it is."""
    for org_id in ClaimsSettings.objects.filter(pk__in=settings_ids).values_list(
            "organization_id", flat=True):
        detection_run(organization_id=org_id)
