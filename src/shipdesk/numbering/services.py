"""Tracking-number pools: configuring ranges and issuing numbers from them.

``numbers_issue`` is the one way a number leaves a pool. It locks the organization's
pool rows for the carrier (``SELECT … FOR UPDATE`` on PostgreSQL, or, when the oldest pool
holds all the numbers asked for, the one ``UPDATE`` that advances it; SQLite's IMMEDIATE
transactions already serialise writers) and advances each pool's counter inside the
caller's transaction: if the caller rolls back, the counter does too and no shipment
holds those numbers; once it commits, the numbers are consumed for good, even if the
shipment is later cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.carriers.names import carrier_name, service_name
from shipdesk.core.errors import Conflict, FieldError, NotFound, ValidationFailed
from shipdesk.numbering import selectors
from shipdesk.numbering.models import NumberKind, NumberPool, PoolSource
from shipdesk.numbering.validation import (
    S10_SERVICE_LETTERS,
    S10_WEIGHTS,
    normalize,
    rp14_compose,
    s10_service_letters,
    tracking_number_kind,
    validate_postal_number,
    validate_tracking_number,
)
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit, system_actor

log = logging.getLogger(__name__)

MAX_ISSUE = 1_000_000  # numbers in one call


# --- composing many numbers fast ---------------------------------------------------------

_RP14_SERIAL_WEIGHTS: list[int] = []


def _rp14_serial_weights() -> list[int]:
    # The weighted sum of the 5 serial digits (positions 9–13: weights 3,1,3,1,3) for every
    # serial, computed once: composing a number is then one lookup and one format.
    if not _RP14_SERIAL_WEIGHTS:
        _RP14_SERIAL_WEIGHTS.extend(
            3 * (s // 10000 + s // 100 % 10 + s % 10) + s // 1000 % 10 + s // 10 % 10
            for s in range(100_000))
    return _RP14_SERIAL_WEIGHTS


def _rp14_many(prefix: str, start: int, count: int) -> list[str]:
    # Weights 3,1,3,1,… from the left: prefix positions 1–8, then the serial's.
    base = 3 * sum(int(c) for c in prefix[0::2]) + sum(int(c) for c in prefix[1::2])
    weights = _rp14_serial_weights()
    return [f"{prefix}{serial:05d}{-(base + weights[serial]) % 10}"
            for serial in range(start, start + count)]


def _s10_many(service: str, country: str, start: int, count: int) -> list[str]:
    out = []
    weights = S10_WEIGHTS
    for serial in range(start, start + count):
        digits = f"{serial:08d}"
        check = 11 - sum(int(c) * w for c, w in zip(digits, weights, strict=True)) % 11
        out.append(f"{service}{digits}{0 if check == 10 else 5 if check == 11 else check}{country}")
    return out


def _numbers(kind: str, prefix: str, country: str, start: int, count: int) -> list[str]:
    if kind == NumberKind.RP14:
        return _rp14_many(prefix, start, count)
    return _s10_many(prefix, country, start, count)


# --- issuing -----------------------------------------------------------------------------

class NumbersFromCarrier(Conflict):
    """The carrier numbers each parcel itself when it is registered (CDEK's order number,
    PickPoint's invoice number): its adapter lacks ``Capability.NUMBER_POOL``, so there is
    nothing to issue from the sender's pools. A :class:`Conflict`, so that callers treating
    "no number now" as not an error need no change; catch it first to tell it apart."""

    code = "numbers_from_carrier"


@dataclass(frozen=True)
class _Fit:
    """Which of the carrier's pools fit a parcel: their format, and for S10 the first
    letters of the service indicator (``None``: any)."""

    kind: str
    letters: frozenset[str] | None = None

    def filter(self) -> Q:
        q = Q(kind=self.kind)
        if self.letters:
            letters = Q()
            for letter in sorted(self.letters):
                letters |= Q(prefix__startswith=letter)
            q &= letters
        return q

    def sql(self) -> tuple[str, list[Any]]:
        """The same as a WHERE fragment and its parameters."""
        if not self.letters:
            return "kind = %s", [self.kind]
        marks = ", ".join(["%s"] * len(self.letters))
        return f"kind = %s AND substr(prefix, 1, 1) IN ({marks})", [self.kind, *sorted(self.letters)]


def _series(kind: str, prefix: str) -> tuple[str, str]:
    """Pools that stand in for one another: the same format and, for S10, the same first
    letter of the service indicator. "Numbers run low" is judged per series."""
    return (kind, prefix[:1] if kind == NumberKind.S10 else "")


def numbers_from_pools(carrier_code: str) -> bool:
    """Whether the carrier's parcels carry numbers from the sender's pools: its adapter has
    ``Capability.NUMBER_POOL`` (asked through the carriers registry). A carrier Shipdesk has
    no adapter for is numbered from whatever pools the organization set up for it."""
    try:
        from shipdesk.carriers import registry
        from shipdesk.carriers.base import Capability
    except ImportError:
        return True
    try:
        adapter = registry.adapter_class(carrier_code)
    except LookupError:
        return True
    return Capability.NUMBER_POOL in adapter.capabilities


def _taken_in(organization: Organization) -> Callable[[list[str]], set[str]]:
    """Which numbers the organization's shipments already carry (typed in from its own
    range ahead of the counter, or given by a carrier): issuing passes over them."""
    try:
        from shipdesk.shipments.selectors import tracking_numbers_taken
    except ImportError:  # the shipments domain not installed: nothing can be taken
        return lambda numbers: set()
    return lambda numbers: tracking_numbers_taken(organization_id=organization.pk,
                                                  numbers=numbers)


def numbers_issue(*, organization: Organization, carrier_code: str, count: int,
                  international: bool = False, service_code: str = "",
                  partial: bool = False) -> list[str]:
    """``count`` new tracking numbers, none of them already on one of the organization's
    shipments: a number typed in from its own range, ahead of the counter, is passed over
    (the counter moves past it) instead of clashing with it forever. See
    :func:`_numbers_issue_once` for how pools are chosen. All or none: when the pools run
    out while passing over taken numbers, nothing is consumed — unless ``partial``: then
    what could be issued is kept (fewer than ``count``)."""
    if count <= 0:
        return []
    taken_in = _taken_in(organization)
    with transaction.atomic():
        issued = _numbers_issue_once(organization=organization, carrier_code=carrier_code,
                                     count=count, international=international,
                                     service_code=service_code, partial=partial)
        numbers: list[str] = []
        while issued:
            taken = taken_in(issued)
            numbers.extend(n for n in issued if n not in taken)
            if not taken:
                break
            log.info("numbering for organization %s passed over %d numbers already on its "
                     "shipments", organization.pk, len(taken))
            try:
                issued = _numbers_issue_once(
                    organization=organization, carrier_code=carrier_code, count=len(taken),
                    international=international, service_code=service_code, partial=partial)
            except Conflict:
                if not partial:
                    raise
                break  # the pools ran out while passing over: what was issued stands
    return numbers


def _numbers_issue_once(*, organization: Organization, carrier_code: str, count: int,
                        international: bool = False, service_code: str = "",
                        partial: bool = False) -> list[str]:
    """``count`` new tracking numbers for the organization's parcels with the carrier, all
    of one destination kind and mail type.

    * A carrier that numbers parcels itself at registration (no ``Capability.NUMBER_POOL``:
      CDEK, PickPoint) raises :class:`NumbersFromCarrier` (a :class:`Conflict`): nothing is
      issued, the parcel gets the carrier's number when it is registered.
    * Domestic parcels (``international=False``) get 14-digit numbers from the ``rp14``
      pools; international ones S10 identifiers from the ``s10`` pools whose service
      indicator fits the mail type ``service_code`` (:func:`s10_service_letters`: EMS → E…,
      parcels → C…, e-commerce → H…, registered letter post → R…, with declared value
      V…; any S10 pool when the code does not tell).
    * Numbers come from the fitting active pools oldest first, all or none. :class:`Conflict`
      when there is no fitting pool (the message says what there is instead and what to
      add: «Нет пула номеров S10 для международных отправлений …») or not enough numbers.
      ``partial``: not enough numbers gives what is left (fewer than ``count``; the
      low-numbers warning fires) instead; :class:`Conflict` only when none is left.

    Call it inside the transaction that stores the parcels: the counter advance commits or
    rolls back with them.
    """
    if count <= 0:
        return []
    if count > MAX_ISSUE:
        raise ValidationFailed(_("За один раз можно выдать не больше %(max)d номеров") % {
            "max": MAX_ISSUE}, errors=[FieldError(("count",), _("Слишком много номеров"))])
    if not numbers_from_pools(carrier_code):
        raise NumbersFromCarrier(_("Перевозчик «%(carrier)s» присваивает номер сам, когда "
                                   "отправление регистрируется у него: пулы номеров для него "
                                   "не используются") % {"carrier": carrier_name(carrier_code)})
    fit = (_Fit(NumberKind.S10, s10_service_letters(service_code)) if international
           else _Fit(NumberKind.RP14))
    issued = _issue_from_oldest_pool(organization, carrier_code, count, fit)
    if issued is not None:
        return issued
    with transaction.atomic():
        pools = list(
            NumberPool.objects.select_for_update()
            .filter(fit.filter(), organization=organization, carrier_code=carrier_code,
                    is_active=True, next_serial__lte=F("serial_last"))
            .order_by("created_at", "id"))
        if not pools:
            _no_fitting_pool(organization, carrier_code, fit, service_code)
        available = sum(max(p.remaining, 0) for p in pools)
        if partial and 0 < available < count:
            count = available
        if available < count:
            if fit.kind == NumberKind.S10:
                raise Conflict(_("Пул номеров S10 для международных отправлений перевозчика "
                                 "«%(carrier)s» исчерпан: нужно %(count)d, осталось %(left)d. "
                                 "Добавьте новый диапазон номеров") % {
                                     "carrier": carrier_name(carrier_code), "count": count,
                                     "left": available})
            raise Conflict(_("Пул трек-номеров перевозчика «%(carrier)s» исчерпан: нужно "
                             "%(count)d, осталось %(left)d. Добавьте новый диапазон номеров") % {
                                 "carrier": carrier_name(carrier_code), "count": count, "left": available})
        numbers: list[str] = []
        need = count
        touched: list[NumberPool] = []
        for pool in pools:
            if need == 0:
                break
            take = min(need, pool.remaining)
            if take <= 0:
                continue
            numbers.extend(_numbers(pool.kind, pool.prefix, pool.country, pool.next_serial, take))
            pool.next_serial += take
            need -= take
            touched.append(pool)
        # Low means the carrier's numbers of that series run low, not one range: a range
        # that ends while the next one is full is no news. Judged by the pool now in use,
        # once per pool.
        in_use = touched[-1]
        series = _series(in_use.kind, in_use.prefix)
        left = sum(max(p.remaining, 0) for p in pools if _series(p.kind, p.prefix) == series)
        for pool in touched:
            fields = ["next_serial", "updated_at"]
            if pool is in_use and _flag_low(pool, left):
                fields.append("low_since")
            pool.save(update_fields=fields)
    return numbers


def _letters_text(letters: frozenset[str]) -> str:
    return ", ".join(f"{letter}… ({S10_SERVICE_LETTERS.get(letter, '')})"
                     for letter in sorted(letters))


def _no_fitting_pool(organization: Organization, carrier_code: str, fit: _Fit,
                     service_code: str) -> None:
    """Raises the :class:`Conflict` that says why no pool fits (none at all, only pools of
    the other format, only S10 pools of other services), unless a fitting active pool
    exists (then it is used up, which the caller reports)."""
    active = NumberPool.objects.filter(organization=organization, carrier_code=carrier_code,
                                       is_active=True)
    if active.filter(fit.filter()).exists():
        return
    have = set(active.values_list("kind", "prefix"))
    kinds = {kind for kind, _prefix in have}
    if fit.kind == NumberKind.S10:
        if NumberKind.S10 not in kinds:
            raise Conflict(_("Нет пула номеров S10 для международных отправлений перевозчика "
                             "«%(carrier)s»%(only)s. Добавьте диапазон международных номеров "
                             "(вида RA123456785RU) в разделе «Трек-номера» или запросите его "
                             "у перевозчика") % {
                                 "carrier": carrier_name(carrier_code),
                                 "only": _(": есть только 14-значные номера для внутренних "
                                           "отправлений") if kinds else ""})
        letters = fit.letters or frozenset()
        others = sorted({prefix for kind, prefix in have if kind == NumberKind.S10})
        raise Conflict(_("Нет пула номеров S10 для международных отправлений перевозчика "
                         "«%(carrier)s» с кодом услуги %(want)s для вида «%(service)s»: есть "
                         "только %(have)s. Добавьте диапазон с подходящим кодом услуги в "
                         "разделе «Трек-номера»") % {
                             "carrier": carrier_name(carrier_code), "want": _letters_text(letters),
                             "service": service_name(service_code, carrier_code=carrier_code),
                             "have": ", ".join(others)})
    if NumberKind.S10 in kinds:
        raise Conflict(_("Нет пула 14-значных номеров для внутренних отправлений перевозчика "
                         "«%(carrier)s»: есть только международные номера S10. Добавьте "
                         "диапазон 14-значных номеров в разделе «Трек-номера»") % {
                             "carrier": carrier_name(carrier_code)})
    raise Conflict(_("Нет активного пула трек-номеров для перевозчика «%(carrier)s»: "
                     "добавьте диапазон номеров в разделе «Трек-номера»") % {
                         "carrier": carrier_name(carrier_code)})


def _flag_low(pool: NumberPool, left: int) -> bool:
    """Marks ``pool`` low (and warns, once per crossing) when the carrier's ``left`` numbers
    are at its threshold; whether it did (``low_since`` then wants saving)."""
    if pool.low_since is not None or left > pool.low_threshold:
        return False
    pool.low_since = timezone.now()
    _warn_low(pool, left)
    return True


def _issue_from_oldest_pool(organization: Organization, carrier_code: str, count: int,
                            fit: _Fit) -> list[str] | None:
    """The usual case in one statement (a single create's numbering was four round trips):
    the oldest usable fitting pool holds all ``count`` numbers, its counter moves on under
    its row lock. ``None`` when it does not hold them, or there is none: :func:`numbers_issue`'s
    general path then spans pools, or says why it cannot."""
    table = NumberPool._meta.db_table
    lock = " FOR UPDATE" if connection.vendor == "postgresql" else ""  # SQLite: one writer
    fits, fit_params = fit.sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_serial = next_serial + %s, updated_at = %s "  # noqa: S608
            f"WHERE id = (SELECT id FROM {table} WHERE organization_id = %s "
            f"AND carrier_code = %s AND is_active AND {fits} AND next_serial <= serial_last "
            f"ORDER BY created_at, id LIMIT 1{lock}) AND serial_last - next_serial + 1 >= %s "
            "RETURNING id, kind, prefix, country, next_serial, serial_last, low_since, "
            "low_threshold",
            [count, timezone.now(), organization.pk, carrier_code, *fit_params, count])
        row = cursor.fetchone()
    if row is None:
        return None
    pool_id, kind, prefix, country, next_serial, serial_last, low_since, threshold = row
    start = next_serial - count
    if low_since is None and serial_last - next_serial + 1 <= threshold:
        # low for this range: low for the carrier only when the later ranges of its series are
        series = _Fit(kind, frozenset(prefix[:1]) if kind == NumberKind.S10 else None)
        pools = list(NumberPool.objects.filter(series.filter(), organization=organization,
                                               carrier_code=carrier_code, is_active=True))
        pool = next(p for p in pools if p.pk == pool_id)
        if _flag_low(pool, sum(max(p.remaining, 0) for p in pools)):
            pool.save(update_fields=["low_since", "updated_at"])
    return _numbers(kind, prefix, country, start, count)


def numbers_issue_manual(*, actor: Actor, carrier_code: str, count: int,
                         international: bool = False, service_code: str = "") -> list[str]:
    """Numbers handed out through the API for parcels registered outside Shipdesk: consumed
    for good, and written to the audit log (count, first and last) so they can be traced.
    Pools are chosen as :func:`numbers_issue` chooses them."""
    actor.require(Perm.MANAGE_SHIPMENTS)
    with transaction.atomic():
        numbers = numbers_issue(organization=actor.organization, carrier_code=carrier_code,
                                count=count, international=international,
                                service_code=service_code)
        if numbers:
            audit(actor, "numbering.issued", None, carrier_code=carrier_code, count=len(numbers),
                  first=numbers[0], last=numbers[-1],
                  **({"international": True, "service_code": service_code} if international
                     else {}))
    return numbers


def _warn_low(pool: NumberPool, left: int) -> None:
    """Once per crossing of the pool's low threshold (``low_since`` marks it; a refill clears
    it): an audit row, a log line and an e-mail to the organization's owners."""
    audit(system_actor(pool.organization), "numbering.pool_low", pool,
          carrier_code=pool.carrier_code, remaining=left, threshold=pool.low_threshold)
    pool_id, carrier = pool.pk, pool.carrier_code

    def after_commit() -> None:
        from shipdesk.numbering.tasks import pool_low_notify_task

        log.warning("tracking numbers of %s run low (pool %s): %d left", carrier, pool_id, left)
        pool_low_notify_task.delay(pool_id, left)

    transaction.on_commit(after_commit)


def pool_low_notify(*, pool_id: int, left: int) -> int:
    """E-mails the organization's owners that the carrier's tracking numbers run low.
    Returns the number of recipients."""
    from django.conf import settings
    from django.core.mail import send_mail
    from django.template.loader import render_to_string
    from django.urls import reverse

    from shipdesk.tenancy.models import Role
    from shipdesk.tenancy.selectors import membership_list

    pool = NumberPool.objects.select_related("organization").filter(pk=pool_id).first()
    if pool is None:
        return 0
    owners = sorted({m.user.email for m in membership_list(actor=system_actor(pool.organization))
                     if m.role == Role.OWNER and m.user.email and m.user.is_active})
    if not owners:
        return 0
    context = {"pool": pool, "organization": pool.organization, "left": left,
               "url": settings.PUBLIC_URL + reverse("numbering:pools")}
    subject = render_to_string("numbering/email/pool_low_subject.txt", context).strip()
    send_mail(subject, render_to_string("numbering/email/pool_low.txt", context), None, owners)
    return len(owners)


# --- configuring pools -------------------------------------------------------------------

def _parse_bound(value: str, loc: str) -> tuple[str, str, str, int]:
    """(kind, prefix, country, serial) of a valid full number, or ValidationFailed."""
    try:
        number = validate_postal_number(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError((loc,), str(exc))]) from exc
    if len(number) == 14:
        return NumberKind.RP14, number[:8], "", int(number[8:13])
    return NumberKind.S10, number[:2], number[11:13], int(number[2:10])


def pool_create(*, actor: Actor, carrier_code: str, first_number: str, last_number: str,
                low_threshold: int = 1000, comment: str = "",
                source: str = PoolSource.MANUAL) -> NumberPool:
    """A pool from the first to the last number of a range (both with check digits, as the
    carrier printed them)."""
    actor.require(Perm.MANAGE_SETTINGS)
    carrier_code = (carrier_code or "").strip()
    if not carrier_code:
        raise ValidationFailed(_("Укажите перевозчика"), errors=[
            FieldError(("carrier_code",), _("Обязательное поле"))])
    kind, prefix, country, first = _parse_bound(first_number, "first_number")
    kind2, prefix2, country2, last = _parse_bound(last_number, "last_number")
    if (kind, prefix, country) != (kind2, prefix2, country2):
        msg = _("Первый и последний номер должны быть из одного диапазона: одинаковые "
                "индекс и код диапазона (14 цифр) или код услуги и страна (S10)")
        raise ValidationFailed(msg, errors=[FieldError(("last_number",), msg)])
    if last < first:
        msg = _("Последний номер диапазона меньше первого")
        raise ValidationFailed(msg, errors=[FieldError(("last_number",), msg)])
    if low_threshold < 0:
        msg = _("Порог не может быть отрицательным")
        raise ValidationFailed(msg, errors=[FieldError(("low_threshold",), msg)])
    with transaction.atomic():
        # No two pools of one organization overlap, or it could issue a number twice.
        # Another organization's pools are never looked at: a range claimed first by
        # someone else must not block ours, nor tell us it is claimed (numbers are unique
        # per organization; the carrier accepts a parcel only from the contract that
        # holds its range). docs/tracking-numbers.md
        overlapping = NumberPool.objects.filter(
            organization=actor.organization, kind=kind, prefix=prefix, country=country,
            serial_first__lte=last, serial_last__gte=first)
        if overlapping.exists():
            msg = _("Диапазон пересекается с другим вашим пулом номеров")
            raise Conflict(msg, errors=[FieldError(("first_number",), msg)])
        # A new range re-arms the low-numbers warning of the carrier's other pools.
        NumberPool.objects.filter(organization=actor.organization, carrier_code=carrier_code,
                                  low_since__isnull=False).update(low_since=None)
        pool = NumberPool.objects.create(
            organization=actor.organization, carrier_code=carrier_code, kind=kind,
            source=source, prefix=prefix, country=country, serial_first=first,
            serial_last=last, next_serial=first, low_threshold=low_threshold,
            comment=comment[:200])
        audit(actor, "numbering.pool_created", pool, carrier_code=carrier_code,
              first=pool.first_number, last=pool.last_number)
    return pool


def _get_pool(actor: Actor, pool_id: int, *, lock: bool = False) -> NumberPool:
    qs = NumberPool.objects.filter(organization=actor.organization, pk=pool_id)
    if lock:
        qs = qs.select_for_update()
    pool = qs.first()
    if pool is None:
        raise NotFound(_("Пул номеров не найден"))
    return pool


def pool_update(*, actor: Actor, pool_id: int, low_threshold: int | None = None,
                is_active: bool | None = None, comment: str | None = None) -> NumberPool:
    actor.require(Perm.MANAGE_SETTINGS)
    with transaction.atomic():
        pool = _get_pool(actor, pool_id, lock=True)
        changed: dict[str, Any] = {}
        if low_threshold is not None:
            if low_threshold < 0:
                msg = _("Порог не может быть отрицательным")
                raise ValidationFailed(msg, errors=[FieldError(("low_threshold",), msg)])
            pool.low_threshold = low_threshold
            changed["low_threshold"] = low_threshold
            # A new threshold re-arms the warning: it fires at the next issue below it.
            pool.low_since = None
        if is_active is not None:
            pool.is_active = is_active
            changed["is_active"] = is_active
        if comment is not None:
            pool.comment = comment[:200]
            changed["comment"] = pool.comment
        pool.save()
        audit(actor, "numbering.pool_updated", pool, **changed)
    return pool


def pool_delete(*, actor: Actor, pool_id: int) -> None:
    """Only a pool nothing was issued from can go; otherwise deactivate it, so that its
    issued numbers stay known and its range can never be entered again."""
    actor.require(Perm.MANAGE_SETTINGS)
    with transaction.atomic():
        pool = _get_pool(actor, pool_id, lock=True)
        if pool.issued:
            raise Conflict(_("Из пула уже выданы номера (%(n)d): его можно только отключить") % {
                "n": pool.issued})
        audit(actor, "numbering.pool_deleted", pool, first=pool.first_number,
              last=pool.last_number)
        pool.delete()


def pools_request_from_carrier(*, actor: Actor, carrier_account_id: int,
                               count: int) -> list[NumberPool]:
    """Asks the carrier (through its adapter's ``allot_numbers``) for ranges of numbers
    and stores each as a pool."""
    actor.require(Perm.MANAGE_SETTINGS)
    from shipdesk.carriers.base import CarrierError
    from shipdesk.carriers.models import CarrierAccount

    account = CarrierAccount.objects.filter(organization=actor.organization,
                                            pk=carrier_account_id, is_active=True).first()
    if account is None:
        raise NotFound(_("Договор с перевозчиком не найден"))
    if count <= 0:
        msg = _("Количество номеров должно быть больше нуля")
        raise ValidationFailed(msg, errors=[FieldError(("count",), msg)])
    try:
        from shipdesk.carriers.registry import adapter_for_account  # type: ignore[import-not-found,unused-ignore]
    except ImportError as exc:
        raise Conflict(_("Получение номеров от перевозчика пока недоступно")) from exc
    adapter = adapter_for_account(account)
    refused = Conflict(_("Перевозчик «%(name)s» не выдаёт диапазоны номеров через API: "
                         "задайте диапазон, выделенный по договору, вручную") % {
                             "name": account.name})
    if not selectors.allots_numbers(adapter):
        raise refused
    try:
        ranges = adapter.allot_numbers(count)
    except NotImplementedError as exc:
        raise refused from exc
    except CarrierError as exc:
        raise Conflict(_("Перевозчик не выдал номера: %(error)s") % {"error": exc}) from exc
    unsupported = sorted({r.kind for r in ranges} - set(NumberKind.values))
    if unsupported:
        raise Conflict(_("Перевозчик выдал номера в формате «%(kind)s», а пулы поддерживают "
                         "только 14-значные номера Почты России и международные S10") % {
                             "kind": ", ".join(unsupported)})
    if not ranges:
        raise Conflict(_("Перевозчик не выдал ни одного диапазона номеров"))
    with transaction.atomic():
        return [pool_create(actor=actor, carrier_code=account.carrier_code,
                            first_number=r.first, last_number=r.last, source=PoolSource.CARRIER,
                            comment=_("от договора «%(name)s»") % {"name": account.name})
                for r in ranges]


def number_check(*, value: str, carrier_code: str = "") -> dict[str, Any]:
    """What a typed-in number is, by the carrier's own format (postal formats when no
    carrier is given): normalised form and kind (``rp14``, ``s10`` or ``None`` for a
    carrier's own number), or the problem with it."""
    try:
        number = validate_tracking_number(value, carrier_code=carrier_code)
    except ValueError as exc:
        return {"valid": False, "number": normalize(value), "kind": tracking_number_kind(value),
                "carrier_code": carrier_code, "error": str(exc)}
    return {"valid": True, "number": number, "kind": tracking_number_kind(number),
            "carrier_code": carrier_code, "error": ""}


def demo_pools_create(*, organization: Organization) -> list[NumberPool]:
    """Demo ranges of 100,000 numbers for the sandbox and Russian Post carriers
    (idempotent: a carrier that already has a pool gets none)."""
    actor = system_actor(organization)
    created = []
    # Virtual "electronic range" indexes, unlike any real office; the two-digit range code
    # is the first one no other organization's demo pool uses, so that ranges never overlap.
    for carrier, index in (("sandbox", "800990"), ("russian_post", "800991")):
        if NumberPool.objects.filter(organization=organization, carrier_code=carrier).exists():
            continue
        used = set(NumberPool.objects.filter(kind=NumberKind.RP14, prefix__startswith=index)
                   .values_list("prefix", flat=True))
        free = [f"{index}{c:02d}" for c in range(100) if f"{index}{c:02d}" not in used]
        if not free:
            continue
        created.append(pool_create(
            actor=actor, carrier_code=carrier,
            first_number=rp14_compose(free[0][:6], free[0][6:], 0),
            last_number=rp14_compose(free[0][:6], free[0][6:], 99999),
            low_threshold=1000, comment=_("демонстрационный диапазон")))
    return created
