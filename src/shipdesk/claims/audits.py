"""The first-day audit: a list of tracking numbers (an uploaded XLSX/CSV, up to 100,000, any
carriers mixed) or a period's shipments, the carrier told from each number's format, the
histories fetched through the carriers' batch tracking, each number judged by the tracking
status engine, and one report: stuck, lost, returned and not received back, delivered with
COD unpaid, the money at stake, by carrier, and the numbers that could not be checked (an
unknown format, no carrier account).

Due work on ``Audit.due_at``: the first run asks the carriers (the ones answering at once
are read right away, the ones answering by ticket are asked and the tickets kept); the
next runs fetch the tickets when the carrier allows, until none is left.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.claims import rules
from shipdesk.claims.models import Audit, AuditItem, AuditState, Verdict
from shipdesk.core.errors import FieldError, NotFound, ValidationFailed
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

MAX_NUMBERS = 100_000
ZERO = Decimal("0.00")
RETURN_DAYS = 30  # a return on its way longer than this: not received back
_NUMBER_HEADERS = ("трек", "шпи", "номер", "track", "barcode", "штрих")
_COD_HEADERS = ("налож", "нп", "cod", "наложенный")
# where more than one carrier's format fits (CDEK 8–12 digits, PickPoint 10–12), the usual
# length of each decides
_USUAL_LENGTH = {"cdek": 10, "pickpoint": 11}


# --- the list ------------------------------------------------------------------------------
def _number_column(header: list[Any]) -> tuple[int, int | None, bool]:
    """(number column, COD column or None, whether the first row is a header)."""
    texts = [str(c or "").strip().lower() for c in header]
    number = next((i for i, t in enumerate(texts) if any(h in t for h in _NUMBER_HEADERS)),
                  None)
    cod = next((i for i, t in enumerate(texts) if any(t.startswith(h) or h in t.split()
                                                      for h in _COD_HEADERS)), None)
    if number is None:
        return 0, None, False
    return number, cod, True


def _cell_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value or "").strip()


def _carrier_of(number: str, accounts: dict[str, int]) -> tuple[str, int | None, str]:
    """(carrier code, account id, why not checked) for one number, by its format."""
    from shipdesk.carriers import registry

    fits = []
    for code in registry.all_codes():
        try:
            registry.adapter_class(code).validate_number(number)
        except (ValueError, LookupError):
            continue
        fits.append(code)
    if not fits:
        return "", None, _("формат номера не похож ни на одного перевозчика")
    usual = [c for c in fits if _USUAL_LENGTH.get(c) == len(number)]
    fits = usual or fits  # 11 digits: PickPoint's invoice, not a CDEK order
    usable = [c for c in fits if c in accounts]
    if not usable:
        from shipdesk.carriers.names import carrier_name

        return fits[0], None, _("нет договора с перевозчиком: %(c)s") % {
            "c": ", ".join(carrier_name(c) for c in fits)}
    return usable[0], accounts[usable[0]], ""


def _accounts(organization_id: int) -> dict[str, int]:
    from shipdesk.carriers.models import CarrierAccount

    out: dict[str, int] = {}
    for pk, code in CarrierAccount.objects.filter(organization_id=organization_id).order_by(
            "pk").values_list("pk", "carrier_code"):
        out.setdefault(code, pk)
    return out


@transaction.atomic
def _create(actor: Actor, *, source: str, numbers: Sequence[tuple[str, Decimal]],
            filename: str = "", period: tuple[dt.date, dt.date] | None = None) -> Audit:
    accounts = _accounts(actor.organization.pk)
    row = Audit.objects.create(organization=actor.organization, source=source,
                               filename=filename[:255], total=len(numbers),
                               period_from=period[0] if period else None,
                               period_to=period[1] if period else None,
                               due_at=timezone.now())
    items = []
    for n, (raw, cod) in enumerate(numbers, 1):
        number = "".join(raw.split()).replace("-", "").upper()
        carrier, account, why = _carrier_of(number, accounts)
        items.append(AuditItem(audit=row, row_number=n, tracking_number=number[:64],
                               carrier_code=carrier, account_id=account, cod_amount=cod,
                               verdict=Verdict.NOT_CHECKED if why else "", note=why[:300]))
    AuditItem.objects.bulk_create(items, batch_size=5000)
    audit(actor, "claims.audit_create", row, total=len(numbers), source=source)
    transaction.on_commit(lambda: _dispatch(row.pk))
    return row


def _dispatch(audit_id: int) -> None:
    from shipdesk.claims import tasks

    tasks.run_audits.delay([audit_id])


def audit_create_from_file(*, actor: Actor, filename: str, content: bytes) -> Audit:
    """An audit of the numbers in the file's first sheet (the column named like «Трек-номер»,
    else the first; a «Наложенный платёж» column is read when there is one)."""
    from shipdesk.finance.readers import ReadError, read_table

    actor.require(Perm.VIEW)
    try:
        table = [r for r in read_table(filename, content) if any(c not in (None, "") for c in r)]
    except ReadError as exc:
        raise ValidationFailed(str(exc), errors=[FieldError(("file",), str(exc))]) from None
    if not table:
        raise ValidationFailed(_("В файле нет номеров"), errors=[
            FieldError(("file",), _("В файле нет номеров"))])
    col, cod_col, has_header = _number_column(table[0])
    rows = table[1:] if has_header else table
    if len(rows) > MAX_NUMBERS:
        raise ValidationFailed(_("В списке %(n)d номеров, за раз проверяется не больше %(max)d")
                               % {"n": len(rows), "max": MAX_NUMBERS}, errors=[
            FieldError(("file",), _("Больше %(max)d строк") % {"max": MAX_NUMBERS})])
    numbers: list[tuple[str, Decimal]] = []
    errors = []
    seen: set[str] = set()
    for i, r in enumerate(rows, 2 if has_header else 1):
        number = _cell_text(r[col] if col < len(r) else "")
        if not number or number in seen:
            continue
        seen.add(number)
        cod = ZERO
        if cod_col is not None and cod_col < len(r) and r[cod_col] not in (None, ""):
            try:
                cod = Decimal(_cell_text(r[cod_col]).replace(" ", "").replace(",", "."))
            except InvalidOperation:
                errors.append(FieldError(("file", i), _(
                    "Строка %(row)d: неверная сумма наложенного платежа «%(v)s»") % {
                    "row": i, "v": r[cod_col]}))
                continue
        numbers.append((number, cod))
    if errors:
        raise ValidationFailed(_("Список не принят: исправьте строки"), errors=errors[:100])
    if not numbers:
        raise ValidationFailed(_("В файле нет номеров"), errors=[
            FieldError(("file",), _("В файле нет номеров"))])
    return _create(actor, source="upload", numbers=numbers, filename=filename)


def audit_create_for_period(*, actor: Actor, date_from: dt.date, date_to: dt.date) -> Audit:
    """An audit of the organization's own numbered shipments created in the period."""
    from shipdesk.shipments.models import Shipment

    actor.require(Perm.VIEW)
    start = dt.datetime.combine(min(date_from, date_to), dt.time(0), tzinfo=actor.organization.zone)
    end = dt.datetime.combine(max(date_from, date_to) + dt.timedelta(days=1), dt.time(0),
                              tzinfo=actor.organization.zone)
    rows = list(Shipment.objects.filter(
        organization=actor.organization, created_at__gte=start, created_at__lt=end,
        tracking_number__isnull=False).exclude(state__in=("draft", "cancelled")).values_list(
        "tracking_number", "cod_amount")[:MAX_NUMBERS + 1])
    if not rows:
        raise ValidationFailed(_("За период нет отправлений с трек-номерами"), errors=[
            FieldError(("date_from",), _("За период нет отправлений с трек-номерами"))])
    if len(rows) > MAX_NUMBERS:
        raise ValidationFailed(_("За период больше %(max)d отправлений: выберите период короче")
                               % {"max": MAX_NUMBERS})
    return _create(actor, source="period", numbers=[(n or "", c or ZERO) for n, c in rows],
                   period=(min(date_from, date_to), max(date_from, date_to)))


# --- fetching and judging -------------------------------------------------------------------
@dataclass
class _Judged:
    verdict: str
    status: str
    last_event_at: dt.datetime | None
    note: str = ""


def _judge(events: list[Any], *, now: dt.datetime, cod: Decimal, paid: bool,
           payout_days: int) -> _Judged:
    from shipdesk.tracking import engine
    from shipdesk.tracking.statuses import Status, Substatus

    if not events:
        return _Judged(Verdict.NOT_CHECKED, "", None, _("у перевозчика нет данных по номеру"))
    facts = [engine.EventFact(occurred_at=e.occurred_at, status=e.status,
                              substatus=e.substatus or "", raw_code=e.raw_code,
                              place=e.location, raw_text=e.raw_text,
                              storage_until=e.storage_until) for e in events]
    v = engine.derive(facts, now=now, context=engine.Context(), explain=False)
    status = v.status.value if v.status else ""
    last = v.last_event_at
    if v.status is Status.LOST or engine.LOST_FLAG in v.flags:
        return _Judged(Verdict.LOST, status, last)
    if v.status is Status.RETURNED or (v.status is Status.DELIVERED
                                       and v.substatus == Substatus.TO_SENDER):
        return _Judged(Verdict.OK, status, last)
    if v.status in (Status.RETURNING, Status.REFUSED):
        old = v.status_at is not None and now - v.status_at > dt.timedelta(days=RETURN_DAYS)
        return _Judged(Verdict.RETURN_NOT_RECEIVED if old else Verdict.IN_TRANSIT, status, last)
    if v.status is Status.DELIVERED:
        late = v.status_at is not None and now - v.status_at > dt.timedelta(days=payout_days)
        if cod > 0 and not paid and late:
            return _Judged(Verdict.COD_UNPAID, status, last)
        return _Judged(Verdict.OK, status, last)
    if v.final:
        return _Judged(Verdict.OK, status, last)
    if engine.STUCK in v.flags or engine.OVERDUE in v.flags:
        return _Judged(Verdict.STUCK, status, last)
    return _Judged(Verdict.IN_TRANSIT, status, last)


def _paid_numbers(organization_id: int, numbers: Sequence[str]) -> set[str]:
    """Of these numbers, the ones whose COD the organization's books show as paid."""
    from shipdesk.finance.models import Receivable, ReceivableState

    return set(Receivable.objects.filter(
        organization_id=organization_id, tracking_number__in=list(numbers),
        state=ReceivableState.PAID).values_list("tracking_number", flat=True))


def _store(audit_row: Audit, items: list[AuditItem], events: dict[str, list[Any]],
           errors: dict[str, str], now: dt.datetime) -> None:
    payout = rules.PAYOUT_DAYS_FALLBACK + rules.default_rule("cod_unpaid", "").margin_days
    paid = _paid_numbers(audit_row.organization_id, [i.tracking_number for i in items])
    for item in items:
        if item.tracking_number in errors and not events.get(item.tracking_number):
            item.verdict, item.note = Verdict.NOT_CHECKED, errors[item.tracking_number][:300]
            continue
        j = _judge(events.get(item.tracking_number, []), now=now, cod=item.cod_amount,
                   paid=item.tracking_number in paid, payout_days=payout)
        item.verdict, item.status, item.last_event_at = j.verdict, j.status, j.last_event_at
        item.note = j.note[:300]
        item.at_stake = item.cod_amount if j.verdict in (
            Verdict.LOST, Verdict.STUCK, Verdict.RETURN_NOT_RECEIVED, Verdict.COD_UNPAID) else ZERO
    AuditItem.objects.bulk_update(items, ["verdict", "status", "last_event_at", "note",
                                          "at_stake"], batch_size=2000)


def audit_run(*, audit_id: int, now: dt.datetime | None = None) -> Audit:
    """One step of the audit (the due work): asks or reads the carriers, judges what came
    back, sets when to come again (a ticket's answer) or finishes."""
    from shipdesk.carriers import timing
    from shipdesk.carriers.base import CarrierError
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.carriers.registry import adapter_for_account

    now = now or timing.now()  # the real time (tests moving the carriers' clocks move it)
    row = Audit.objects.filter(pk=audit_id).first()
    if row is None or row.state in (AuditState.DONE, AuditState.FAILED):
        return row  # type: ignore[return-value]
    if row.state == AuditState.PENDING:
        row.state, row.started_at = AuditState.RUNNING, now
        row.save(update_fields=["state", "started_at"])
    tickets: list[dict[str, Any]] = list(row.tickets or [])
    asked = {n for t in tickets for n in t["numbers"]}
    waiting: list[dt.datetime] = []
    for account in CarrierAccount.objects.filter(
            organization_id=row.organization_id,
            pk__in=AuditItem.objects.filter(audit=row, verdict="").values("account_id")):
        items = list(AuditItem.objects.filter(audit=row, account_id=account.pk, verdict=""))
        adapter = adapter_for_account(account)
        by_number = {i.tracking_number: i for i in items}
        # the tickets asked before: fetched when the carrier allows
        for t in [t for t in tickets if t["account_id"] == account.pk]:
            due = dt.datetime.fromisoformat(t["fetch_at"])
            if due > now:
                waiting.append(due)
                continue
            try:
                answer = adapter.track_fetch(t["ticket"])
            except CarrierError as exc:
                if exc.transient:
                    waiting.append(now + dt.timedelta(minutes=1))
                    continue
                answer = None
                _store(row, [by_number[n] for n in t["numbers"] if n in by_number], {},
                       dict.fromkeys(t["numbers"], str(exc)), now)
                tickets.remove(t)
                continue
            if answer is None:
                t["fetch_at"] = (now + dt.timedelta(seconds=t["every"])).isoformat()
                waiting.append(dt.datetime.fromisoformat(t["fetch_at"]))
                continue
            _store(row, [by_number[n] for n in t["numbers"] if n in by_number],
                   _group(answer.events), answer.errors, now)
            tickets.remove(t)
        fresh = [i for i in items if i.tracking_number not in asked]
        size = max(1, adapter.track_batch_size)
        for start in range(0, len(fresh), size):
            chunk = fresh[start:start + size]
            numbers = [i.tracking_number for i in chunk]
            try:
                if adapter.tracks_by_ticket():
                    ticket = adapter.track_request(numbers)
                    if ticket.errors:
                        _store(row, [i for i in chunk if i.tracking_number in ticket.errors],
                               {}, ticket.errors, now)
                    if ticket.ticket:
                        fetch_at = now + ticket.first_fetch_after
                        tickets.append({"account_id": account.pk, "ticket": ticket.ticket,
                                        "numbers": list(ticket.numbers),
                                        "fetch_at": fetch_at.isoformat(),
                                        "every": ticket.fetch_interval.total_seconds()})
                        waiting.append(fetch_at)
                        row.rate_wait_seconds += ticket.first_fetch_after.total_seconds()
                else:
                    answer = adapter.track(numbers)
                    _store(row, chunk, _group(answer.events), answer.errors, now)
            except CarrierError as exc:
                _store(row, chunk, {}, dict.fromkeys(numbers, str(exc)), now)
    row.tickets = tickets
    if tickets:
        row.due_at = min(waiting) if waiting else now + dt.timedelta(minutes=1)
    else:
        # anything left without a verdict had no account any more: say so
        AuditItem.objects.filter(audit=row, verdict="").update(
            verdict=Verdict.NOT_CHECKED, note=_("договор с перевозчиком удалён"))
        row.state, row.finished_at, row.due_at = AuditState.DONE, timezone.now(), None
    row.save(update_fields=["tickets", "due_at", "state", "finished_at", "rate_wait_seconds"])
    return row


def _group(events: Sequence[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = defaultdict(list)
    for e in events:
        out[e.tracking_number].append(e)
    return out


# --- the report ---------------------------------------------------------------------------
@dataclass
class AuditReport:
    audit: Audit
    by_carrier: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    problems: list[AuditItem] = field(default_factory=list)
    not_checked: list[AuditItem] = field(default_factory=list)


REPORTED = (Verdict.STUCK, Verdict.LOST, Verdict.RETURN_NOT_RECEIVED, Verdict.COD_UNPAID,
            Verdict.IN_TRANSIT, Verdict.OK, Verdict.NOT_CHECKED)


def audit_report(*, actor: Actor, audit_id: int, limit: int = 1000) -> AuditReport:
    from django.db.models import Count, Sum

    from shipdesk.carriers.names import carrier_name

    actor.require(Perm.VIEW)
    row = Audit.objects.filter(organization=actor.organization, pk=audit_id).first()
    if row is None:
        raise NotFound(_("Проверка не найдена"))
    table: dict[str, dict[str, Any]] = {}
    for r in AuditItem.objects.filter(audit=row).values("carrier_code", "verdict").annotate(
            n=Count("id"), stake=Sum("at_stake")):
        c = table.setdefault(r["carrier_code"], {
            "carrier_code": r["carrier_code"],
            "name": carrier_name(r["carrier_code"]) if r["carrier_code"] else _("неизвестен"),
            "stake": ZERO, **{v.value: 0 for v in Verdict}, "pending": 0})
        c[r["verdict"] or "pending"] += r["n"]
        c["stake"] += Decimal(r["stake"] or 0).quantize(ZERO)
    by_carrier = sorted(table.values(), key=lambda c: c["name"])
    totals = {k: sum(c[k] for c in by_carrier) for k in [*Verdict.values, "pending"]}
    totals["stake"] = sum((c["stake"] for c in by_carrier), ZERO)
    problems = list(AuditItem.objects.filter(audit=row, verdict__in=[
        Verdict.STUCK, Verdict.LOST, Verdict.RETURN_NOT_RECEIVED, Verdict.COD_UNPAID]
    ).order_by("verdict", "row_number")[:limit])
    not_checked = list(AuditItem.objects.filter(audit=row, verdict=Verdict.NOT_CHECKED)
                       .order_by("row_number")[:limit])
    return AuditReport(audit=row, by_carrier=by_carrier, totals=totals, problems=problems,
                       not_checked=not_checked)


def audit_pdf(report: AuditReport) -> bytes:
    from shipdesk.claims.letters import _money, _Writer

    a = report.audit
    w = _Writer(f"Проверка № {a.pk}")
    w.line(_("Проверка отправлений № %(id)d") % {"id": a.pk}, size=14, bold=True)
    w.line(_("Источник: %(s)s, номеров: %(n)d, состояние: %(st)s") % {
        "s": a.filename or (f"{a.period_from:%d.%m.%Y}–{a.period_to:%d.%m.%Y}"
                            if a.period_from and a.period_to else a.source),
        "n": a.total, "st": AuditState(a.state).label})
    w.space()
    labels = [(Verdict.STUCK, _("застряло")), (Verdict.LOST, _("утеряно")),
              (Verdict.RETURN_NOT_RECEIVED, _("возврат не получен")),
              (Verdict.COD_UNPAID, _("НП не перечислен")), (Verdict.IN_TRANSIT, _("в пути")),
              (Verdict.OK, _("в порядке")), (Verdict.NOT_CHECKED, _("не проверено"))]
    for c in [*report.by_carrier, {"name": _("Итого"), **report.totals}]:
        w.line(f"{c['name']}: " + ", ".join(f"{label} {c[v.value]}" for v, label in labels)
               + "; " + _("на кону %(s)s") % {"s": _money(c["stake"])}, bold=c is not None
               and c.get("name") == _("Итого"))
    w.space()
    w.line(_("Проблемные отправления"), bold=True, size=11)
    for i in report.problems:
        w.line(f"{i.tracking_number}  {Verdict(i.verdict).label}  "
               f"{_money(i.at_stake)}", size=9, gap=2)
    if report.not_checked:
        w.space()
        w.line(_("Не проверено"), bold=True, size=11)
        for i in report.not_checked:
            w.line(f"{i.tracking_number}: {i.note}", size=9, gap=2)
    return w.finish()

