"""Finance's write side: contract terms, receivables from the tracking feed, payout reports
(recognise → match → post, all or nothing), corrections, mapping of unknown formats."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import FieldError, NotFound, ServiceError, ValidationFailed
from shipdesk.finance import formats, ledger, readers
from shipdesk.finance.ledger import ZERO, Entry
from shipdesk.finance.models import (
    Account,
    CashDaily,
    DebtSnapshot,
    EntryKind,
    FeesMode,
    FinanceJob,
    FinanceTerms,
    OrderState,
    PayoutReport,
    PayoutRow,
    Posting,
    Receivable,
    ReceivableState,
    ReportFormat,
    ReportStatus,
    RowOutcome,
)
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit

CENT = Decimal("0.01")
OPEN_STATES = (ReceivableState.COLLECTED, ReceivableState.OVERDUE)


# --- terms ----------------------------------------------------------------------------------
TERMS_FIELDS = ("cod_commission_pct", "delivery_fee", "insurance_pct", "return_fee",
                "fees_mode", "payout_lag_days", "payout_weekdays", "agent_reports",
                "pull_registries")


def terms_set(*, actor: Actor, carrier_account_id: int, **values: Any) -> FinanceTerms:
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.finance.selectors import pulls_registries

    actor.require(Perm.MANAGE_FINANCE)
    from shipdesk.core.errors import refuse_unknown_fields

    refuse_unknown_fields(values, TERMS_FIELDS)
    account = CarrierAccount.objects.filter(organization=actor.organization,
                                            pk=carrier_account_id).first()
    if account is None:
        raise NotFound(_("Договор с перевозчиком не найден"))
    errors = []
    for name in ("cod_commission_pct", "insurance_pct"):
        if name in values and not (0 <= Decimal(str(values[name])) <= 100):
            errors.append(FieldError((name,), _("Процент от 0 до 100")))
    for name in ("delivery_fee", "return_fee"):
        if name in values and Decimal(str(values[name])) < 0:
            errors.append(FieldError((name,), _("Сумма не может быть отрицательной")))
    if "fees_mode" in values and values["fees_mode"] not in FeesMode.values:
        errors.append(FieldError(("fees_mode",), _("Неизвестный порядок оплаты услуг")))
    days = str(values.get("payout_weekdays", "")).replace(" ", "")
    if days and not all(d in "1234567" for d in days.split(",")):
        errors.append(FieldError(("payout_weekdays",), _("Дни недели числами 1–7 через запятую")))
    if values.get("pull_registries") and not pulls_registries(account.carrier_code):
        errors.append(FieldError(("pull_registries",), _(
            "Этот перевозчик не отдаёт реестры выплат через API")))
    if errors:
        raise ValidationFailed(_("Условия договора не сохранены"), errors=errors)
    with transaction.atomic():
        terms, _created = FinanceTerms.objects.get_or_create(
            organization=actor.organization, carrier_account=account)
        for name, value in values.items():
            setattr(terms, name, days if name == "payout_weekdays" else value)
        if "pull_registries" in values:  # due at once when switched on, never when off
            terms.pull_due_at = timezone.now() if terms.pull_registries else None
        terms.save()
        audit(actor, "finance.terms_set", terms, **{k: str(v) for k, v in values.items()})
    return terms


def registries_pull_due(*, terms_id: int, now: dt.datetime | None = None) -> None:
    """Due work: yesterday's payout registries pulled for one contract, as the button does
    (the same report again changes nothing); next pull a day later, an error kept."""
    from shipdesk.tenancy.services import system_actor

    now = now or timezone.now()
    terms = FinanceTerms.objects.select_related("carrier_account", "organization").filter(
        pk=terms_id, pull_registries=True).first()
    if terms is None:
        return
    actor = system_actor(terms.organization)
    try:
        report_pull(actor=actor, carrier_account_id=terms.carrier_account_id,
                    day=timezone.localdate(now) - dt.timedelta(days=1))
        error = ""
    except ServiceError as exc:
        error = str(exc.detail or exc.title)
    FinanceTerms.objects.filter(pk=terms.pk).update(
        pull_due_at=now + dt.timedelta(days=1), pull_error=error[:500])


def expected_payout(collected_on: dt.date, terms: FinanceTerms | None) -> dt.date:
    """The payout day by the contract's schedule: the lag, then the next payout weekday."""
    lag = terms.payout_lag_days if terms else 7
    day = collected_on + dt.timedelta(days=lag)
    weekdays = {int(d) for d in (terms.payout_weekdays if terms else "").split(",") if d}
    while weekdays and day.isoweekday() not in weekdays:
        day += dt.timedelta(days=1)
    return day


# --- receivables ----------------------------------------------------------------------------
def receivables_ensure(*, organization_id: int, shipment_ids: Iterable[int] = (),
                       numbers: Iterable[str] = (), orders: Iterable[str] = ()) -> int:
    """Creates the receivables of COD shipments that have none yet; returns how many."""
    from shipdesk.shipments.models import Shipment

    ids, nums, ords = list(shipment_ids), list(numbers), list(orders)
    if not (ids or nums or ords):
        return 0
    created = 0
    terms = {t.carrier_account_id: t for t in FinanceTerms.objects.filter(
        organization_id=organization_id)}
    for chunk in _chunks(ids, nums, ords):
        cond = Q(pk__in=chunk[0]) | Q(tracking_number__in=chunk[1]) | Q(
            order_number__in=chunk[2])
        rows = []
        for s in (Shipment.objects.filter(cond, organization_id=organization_id,
                                          cod_amount__gt=0, receivable__isnull=True)
                  .values("pk", "carrier_code", "carrier_account_id", "tracking_number",
                          "order_number", "cod_amount", "declared_value", "shipping_cost")):
            t = terms.get(s["carrier_account_id"] or 0)
            cod = s["cod_amount"]
            rows.append(Receivable(
                organization_id=organization_id, shipment_id=s["pk"],
                carrier_code=s["carrier_code"], carrier_account_id=s["carrier_account_id"],
                tracking_number=s["tracking_number"] or "", order_number=s["order_number"],
                cod_amount=cod,
                fee_commission=(cod * t.cod_commission_pct / 100).quantize(CENT) if t else ZERO,
                fee_delivery=(s["shipping_cost"] or (t.delivery_fee if t else ZERO)),
                fee_insurance=((s["declared_value"] or ZERO) * t.insurance_pct / 100
                               ).quantize(CENT) if t else ZERO,
                fees_mode=t.fees_mode if t else FeesMode.DEDUCTED))
        Receivable.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        created += len(rows)
    return created


def _chunks(*lists: list[Any], size: int = 900) -> Iterable[tuple[list[Any], ...]]:
    longest = max(len(x) for x in lists)
    for start in range(0, longest, size):
        yield tuple(x[start:start + size] for x in lists)


Cash = dict[tuple[str, dt.date], list[Any]]  # (carrier, day) -> [collected, paid, n, lag]


def cash_add(cash: Cash, carrier: str, day: dt.date, *, collected: Decimal = ZERO,
             paid: Decimal = ZERO, paid_count: int = 0, lag_days: int = 0) -> None:
    got = cash.setdefault((carrier, day), [ZERO, ZERO, 0, 0])
    got[0] += collected
    got[1] += paid
    got[2] += paid_count
    got[3] += lag_days


def _add_cash(organization_id: int, amounts: Cash) -> None:
    """Adds collected / paid money per carrier and day to the daily rollup."""
    if not amounts:
        return
    existing = {(c.carrier_code, c.day): c for c in CashDaily.objects.filter(
        organization_id=organization_id, day__in={d for _c, d in amounts},
        carrier_code__in={c for c, _d in amounts})}
    new, changed = [], []
    for (carrier, day), (collected, paid, count, lag) in amounts.items():
        row = existing.get((carrier, day))
        if row is None:
            new.append(CashDaily(organization_id=organization_id, carrier_code=carrier, day=day,
                                 collected=collected, paid=paid, paid_count=count, lag_days=lag))
        else:
            row.collected += collected
            row.paid += paid
            row.paid_count += count
            row.lag_days += lag
            changed.append(row)
    CashDaily.objects.bulk_create(new, batch_size=2000)
    CashDaily.objects.bulk_update(changed, ["collected", "paid", "paid_count", "lag_days"],
                                  batch_size=2000)


def _demand(r: Any, on: dt.date) -> Entry:
    return Entry(EntryKind.DEMAND, r.shipment_id, on,
                 [(Account.CUSTOMERS, r.cod_amount), (Account.REVENUE, -r.cod_amount)])


def _services(r: Any, amount: Decimal, on: dt.date, row_id: int | None) -> list[Entry]:
    """Carrier's services accepted at cost; offset against the COD when deducted from it."""
    if amount <= 0:
        return []
    out = [Entry(EntryKind.SERVICES, r.shipment_id, on,
                 [(Account.DELIVERY, amount), (Account.CARRIER, -amount)], row_id=row_id)]
    if r.fees_mode == FeesMode.DEDUCTED:
        out.append(Entry(EntryKind.OFFSET, r.shipment_id, on,
                         [(Account.CARRIER, amount), (Account.BANK, -amount)], row_id=row_id))
    return out


def receivables_from_feed(*, limit: int = 5000) -> int:
    """Reads tracking's status-change feed: delivered → collected, returned → refused."""
    from shipdesk.tracking.selectors import status_changes_after

    with transaction.atomic():
        job, _created = FinanceJob.objects.get_or_create(name="feed")
        job = FinanceJob.objects.select_for_update().get(pk=job.pk)
        changes = list(status_changes_after(last_id=job.last_id, limit=limit))
        if not changes:
            return 0
        by_org: dict[int, list[Any]] = defaultdict(list)
        for c in changes:
            if c.status in ("delivered", "returned"):
                by_org[c.organization_id].append(c)
        for org_id, org_changes in by_org.items():
            _apply_changes(org_id, org_changes)
        job.last_id = changes[-1].pk
        job.save(update_fields=["last_id"])
    return len(changes)


def _apply_changes(organization_id: int, changes: list[Any]) -> None:
    receivables_ensure(organization_id=organization_id,
                       shipment_ids=[c.shipment_id for c in changes])
    ledger.lock(organization_id)
    found = {r.shipment_id: r for r in Receivable.objects.filter(
        organization_id=organization_id, shipment_id__in=[c.shipment_id for c in changes])}
    terms = {t.carrier_account_id: t for t in FinanceTerms.objects.filter(
        organization_id=organization_id)}
    entries: list[Entry] = []
    cash: Cash = {}
    for c in changes:
        r = found.get(c.shipment_id)
        if r is None or r.state != ReceivableState.EXPECTED:
            continue  # already collected, paid or refused: the feed may repeat itself
        on = c.changed_at.date()
        t = terms.get(r.carrier_account_id or 0)
        if c.status == "delivered":
            r.state, r.collected_on = ReceivableState.COLLECTED, on
            r.expected_on = expected_payout(on, t)
            entries.append(_demand(r, on))
            cash_add(cash, r.carrier_code, on, collected=r.cod_amount)
        else:
            r.state, r.order_state = ReceivableState.REFUSED, OrderState.RETURNED
            r.refused_amount = r.cod_amount
            r.fee_return = t.return_fee if t else ZERO
            r.return_reason = _("Отказ получателя, возвращено отправителю")
            entries.append(_demand(r, on))
            entries.append(Entry(EntryKind.SALES_RETURN, r.shipment_id, on,
                                 [(Account.RETURNS, r.cod_amount),
                                  (Account.CUSTOMERS, -r.cod_amount)]))
            cost = r.fee_delivery + r.fee_return
            if cost > 0:  # invoiced: a refused parcel's COD brings nothing to offset against
                entries.append(Entry(EntryKind.SERVICES, r.shipment_id, on,
                                     [(Account.DELIVERY, cost), (Account.CARRIER, -cost)]))
    Receivable.objects.bulk_update(
        list(found.values()), ["state", "collected_on", "expected_on", "order_state",
                               "refused_amount", "fee_return", "return_reason"], batch_size=2000)
    ledger.post(organization_id, entries)
    _add_cash(organization_id, cash)


def overdue_mark(*, today: dt.date) -> int:
    """Collected but unpaid past the expected payout day → overdue."""
    return Receivable.objects.filter(state=ReceivableState.COLLECTED,
                                     expected_on__lt=today).update(state=ReceivableState.OVERDUE)


def debt_snapshot_take(*, day: dt.date) -> int:
    """What each carrier owes at the end of ``day``, by age, for every organization."""
    from shipdesk.finance import selectors

    rows = []
    for org_id in (Receivable.objects.filter(state__in=OPEN_STATES)
                   .values_list("organization_id", flat=True).distinct()):
        for line in selectors.debt_ageing_now(organization_id=org_id, today=day):
            rows.append(DebtSnapshot(organization_id=org_id, carrier_code=line.carrier_code,
                                     day=day, age_0_7=line.buckets[0], age_8_14=line.buckets[1],
                                     age_15_30=line.buckets[2], age_over_30=line.buckets[3]))
    with transaction.atomic():
        DebtSnapshot.objects.filter(day=day).delete()
        DebtSnapshot.objects.bulk_create(rows, batch_size=1000)
    return len(rows)


def daily_job(*, now: dt.datetime | None = None) -> None:
    now = now or timezone.now()
    receivables_from_feed()
    overdue_mark(today=now.date())
    debt_snapshot_take(day=now.date())


# --- payout reports -------------------------------------------------------------------------
@dataclass
class ImportResult:
    report: PayoutReport
    created: bool
    counts: dict[str, int] = field(default_factory=dict)


def _learned(organization_id: int) -> dict[str, formats.Format]:
    return {f.signature: formats.learned_format(
        code=f"learned:{f.pk}", carrier=f.carrier_code, name=f.name, headers=f.headers,
        columns=f.columns) for f in ReportFormat.objects.filter(organization_id=organization_id)}


def report_import(*, actor: Actor, filename: str, content: bytes, source: str = "upload",
                  timings: dict[str, float] | None = None) -> ImportResult:
    """Takes a payout report in any known format: recognised, matched and posted at once,
    or kept waiting for a column mapping. The same file again changes nothing.
    ``timings`` (if given) gets the seconds each step took (the benchmark prints them)."""
    actor.require(Perm.MANAGE_FINANCE)
    started = time.perf_counter()
    digest = hashlib.sha256(content).hexdigest()
    same = PayoutReport.objects.filter(organization=actor.organization, sha256=digest).first()
    if same is not None:
        return ImportResult(same, False, _counts(same))
    try:
        table = readers.read_table(filename, content)
    except readers.ReadError as exc:
        raise ValidationFailed(_("Файл не прочитан"), errors=[
            FieldError(("file",), str(exc))]) from exc
    if timings is not None:
        timings["read"] = time.perf_counter() - started
    rec = formats.recognise(table, learned=_learned(actor.organization_id))
    with transaction.atomic():
        report = _report_create(
            organization=actor.organization, source=source, filename=filename[:255],
            sha256=digest, content=content, status=ReportStatus.NEEDS_MAPPING,
            confidence=rec.confidence, header_row=rec.header_row,
            headers=[readers.text(c) for c in table[rec.header_row]] if table else [])
        audit(actor, "finance.report_received", report, filename=filename, source=source)
        if rec.format is not None:
            _process(actor, report, table, rec, timings=timings)
        commit_from = time.perf_counter()
    if timings is not None:
        timings["commit"] = time.perf_counter() - commit_from
    return ImportResult(report, True, _counts(report))


def _report_create(**fields: Any) -> PayoutReport:
    """Stores a received report with its file. On PostgreSQL the file (megabytes) goes as one
    binary parameter of a plain psycopg cursor, which binds on the server: Django's cursor
    binds on the client, writing it into the statement as text twice its size for the server
    to parse back (a tenth of a second for a 4 MB registry)."""
    content: bytes = fields.pop("content")
    if connection.vendor != "postgresql":
        return PayoutReport.objects.create(content=content, **fields)
    import psycopg

    report = PayoutReport.objects.create(content=b"", **fields)
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute("UPDATE finance_payoutreport SET content = %b WHERE id = %s",
                       [content, report.pk])
    report.content = content
    return report


def report_map(*, actor: Actor, report_id: int, columns: dict[str, str], carrier_code: str,
               name: str) -> ImportResult:
    """A person maps an unknown report's columns once; the mapping is remembered."""
    actor.require(Perm.MANAGE_FINANCE)
    report = PayoutReport.objects.filter(organization=actor.organization, pk=report_id).first()
    if report is None:
        raise NotFound(_("Отчёт не найден"))
    if report.status != ReportStatus.NEEDS_MAPPING:
        raise ValidationFailed(_("Колонки этого отчёта уже известны"))
    headers = [readers.normalise_header(h) for h in report.headers]
    errors = []
    chosen = {role: readers.normalise_header(h) for role, h in columns.items() if h}
    for role, header in chosen.items():
        if role not in formats.ROLES:
            errors.append(FieldError((role,), _("Неизвестная роль колонки")))
        elif header not in headers:
            errors.append(FieldError((role,), _("В отчёте нет такой колонки")))
    if not ({"tracking_number", "order_number"} & set(chosen)):
        errors.append(FieldError(("tracking_number",), _("Укажите колонку с трек-номером "
                                                         "или номером заказа")))
    if not ({"paid_amount", "cod_amount"} & set(chosen)):
        errors.append(FieldError(("paid_amount",), _("Укажите колонку с суммой")))
    if not carrier_code:
        errors.append(FieldError(("carrier_code",), _("Укажите перевозчика")))
    if errors:
        raise ValidationFailed(_("Сопоставление не сохранено"), errors=errors)
    signature = formats.header_signature(headers)
    with transaction.atomic():
        ReportFormat.objects.update_or_create(
            organization=actor.organization, signature=signature,
            defaults={"name": name or report.filename, "carrier_code": carrier_code,
                      "headers": headers, "columns": chosen})
        audit(actor, "finance.format_learned", report, columns=chosen, carrier=carrier_code)
        table = readers.read_table(report.filename, bytes(report.content))
        rec = formats.recognise(table, learned=_learned(actor.organization_id))
        if rec.format is None:  # pragma: no cover - the signature was just stored
            raise ValidationFailed(_("Сопоставление не подошло к отчёту"))
        _process(actor, report, table, rec)
    return ImportResult(report, True, _counts(report))


def _counts(report: PayoutReport) -> dict[str, int]:
    from django.db.models import Count

    return {r["outcome"]: r["n"] for r in PayoutRow.objects.filter(report=report)
            .values("outcome").annotate(n=Count("pk"))}


# what processing a report sets (saved without its file, which is stored once on receipt)
_PROCESSED = ("format_code", "format_name", "carrier_code", "confidence", "registry_number",
              "header_row", "status", "error", "totals", "updated_at")


def _process(actor: Actor, report: PayoutReport, table: readers.Table,
             rec: formats.Recognition, *, timings: dict[str, float] | None = None) -> None:
    assert rec.format is not None
    fmt = rec.format
    report.format_code, report.format_name = fmt.code, fmt.name
    report.carrier_code, report.confidence = fmt.carrier, rec.confidence
    report.registry_number, report.header_row = rec.registry_number, rec.header_row
    started = time.perf_counter()
    extraction = formats.extract(table, rec)
    if timings is not None:
        timings["extract"] = time.perf_counter() - started
    if extraction.errors:
        # all or nothing: a report with a bad row posts nothing and says where
        report.status = ReportStatus.FAILED
        report.error = "\n".join(
            _("Строка %(row)s, %(field)s: %(msg)s") % {"row": r, "field": f, "msg": m}
            for r, f, m in extraction.errors[:200])
        report.save(update_fields=_PROCESSED)
        return
    if not extraction.lines:
        report.status, report.error = ReportStatus.FAILED, _("В отчёте нет строк с оплатами")
        report.save(update_fields=_PROCESSED)
        return
    today = timezone.localdate()
    if report.registry_number:
        _supersede(actor, report, today)
    counts = match_and_post(organization_id=actor.organization_id, report=report,
                            lines=extraction.lines, today=today, timings=timings)
    report.status = ReportStatus.POSTED
    report.totals = {"rows": len(extraction.lines), "skipped_totals": extraction.skipped_totals,
                     **counts}
    report.error = ""
    report.save(update_fields=_PROCESSED)
    audit(actor, "finance.report_posted", report, format=fmt.code, **counts)


def _supersede(actor: Actor, report: PayoutReport, today: dt.date) -> None:
    """A corrected report (same carrier and registry number) replaces the earlier one: its
    postings are reversed and its rows marked, before the new rows are matched."""
    for old in PayoutReport.objects.filter(
            organization=actor.organization, carrier_code=report.carrier_code,
            registry_number=report.registry_number, status=ReportStatus.POSTED
    ).exclude(pk=report.pk):
        ledger.lock(actor.organization_id)
        entries, shipments = _row_entries(actor.organization_id, old)
        ledger.post(actor.organization_id,
                    ledger.reversals(actor.organization_id, entries, posted_on=today,
                                     row_id=None, shipment_ids=shipments))
        cash: Cash = {}
        paid = list(old.rows.filter(outcome__in=(RowOutcome.MATCHED, RowOutcome.PARTIAL))
                    .values_list("receivable_id", "paid_on", "cod_amount",
                                 "receivable__collected_on"))
        for _r, on, amount, collected_on in paid:
            if on is None:
                continue
            cash_add(cash, old.carrier_code, on, paid=-amount, paid_count=-1,
                     lag_days=-_lag(collected_on, on))
        _unpay([p[0] for p in paid if p[0]])
        _add_cash(actor.organization_id, cash)
        old.rows.update(outcome=RowOutcome.SUPERSEDED)
        old.status, old.superseded_by = ReportStatus.SUPERSEDED, report
        old.save(update_fields=["status", "superseded_by"])
        audit(actor, "finance.report_superseded", old, by=report.pk)


def _row_entries(organization_id: int, report: PayoutReport) -> tuple[set[int], list[int]]:
    """The entries a report's rows caused (payouts, services, returns — not the demands,
    which the delivery owes whatever the report), found through the rows' shipments."""
    rows = dict(report.rows.filter(receivable_id__isnull=False)
                .values_list("pk", "receivable__shipment_id"))
    shipments = sorted(set(rows.values()))
    out: set[int] = set()
    for start in range(0, len(shipments), 5000):
        out.update(entry for entry, row_id in Posting.objects.filter(
            organization_id=organization_id, shipment_id__in=shipments[start:start + 5000],
            row_id__isnull=False).exclude(kind__in=(EntryKind.REVERSAL, EntryKind.DEMAND))
            .values_list("entry", "row_id") if row_id in rows)
    return out, shipments


def _lag(collected_on: dt.date | None, paid_on: dt.date) -> int:
    return max((paid_on - collected_on).days, 0) if collected_on else 0


def _unpay(receivable_ids: list[int]) -> None:
    Receivable.objects.filter(pk__in=receivable_ids).update(
        state=ReceivableState.COLLECTED, order_state=OrderState.OPEN, paid_on=None,
        paid_amount=ZERO, refused_amount=ZERO)


def match_and_post(*, organization_id: int, report: PayoutReport,
                   lines: Sequence[formats.Line], today: dt.date,
                   timings: dict[str, float] | None = None) -> dict[str, int]:
    """Matches the lines to this organization's receivables and posts the operations of each
    matched order, in bulk. Rows that do not match post nothing and say why."""
    from shipdesk.finance import matching

    return matching.run(organization_id=organization_id, report=report, lines=lines,
                        today=today, timings=timings)


# --- pull through the carrier's API ---------------------------------------------------------
def report_pull(*, actor: Actor, carrier_account_id: int, day: dt.date) -> ImportResult:
    """Asks the carrier for a day's payout registries (where its API offers them, e.g. CDEK's
    ``/v2/registries``) and takes them like an uploaded report: same checks, same idempotence."""
    from shipdesk.carriers.base import CarrierError
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.carriers.registry import adapter_for_account
    from shipdesk.finance.selectors import pulls_registries

    actor.require(Perm.MANAGE_FINANCE)
    account = CarrierAccount.objects.filter(organization=actor.organization,
                                            pk=carrier_account_id).first()
    if account is None:
        raise NotFound(_("Договор с перевозчиком не найден"))
    if not pulls_registries(account.carrier_code):
        raise ValidationFailed(_("Перевозчик не отдаёт отчёты о выплатах через API"))
    adapter = adapter_for_account(account)
    fetch = getattr(adapter, "registries", None) or adapter.payout_report  # type: ignore[attr-defined]
    try:
        content: bytes = fetch(day)
    except CarrierError as exc:
        raise ValidationFailed(_("Перевозчик не отдал отчёт: %(e)s") % {"e": exc}) from exc
    filename = f"{account.carrier_code}-{day.isoformat()}"
    if not adapter.recognizes_payout_report(filename, content[:500]):
        return report_import(actor=actor, filename=filename + ".csv", content=content,
                             source="api")
    digest = hashlib.sha256(content).hexdigest()
    same = PayoutReport.objects.filter(organization=actor.organization, sha256=digest).first()
    if same is not None:
        return ImportResult(same, False, _counts(same))
    try:
        parsed = adapter.parse_payout_report(filename, content)
    except CarrierError as exc:
        raise ValidationFailed(str(exc)) from exc
    lines = [formats.Line(i, p.tracking_number[:64], p.order_reference[:64], p.cod_amount,
                          p.fee, p.paid_amount, ZERO, p.paid_on)
             for i, p in enumerate(parsed, start=1)]
    registries = sorted({str(p.raw.get("registry_number") or "") for p in parsed} - {""})
    with transaction.atomic():
        report = _report_create(
            organization=actor.organization, source="api", filename=filename + ".json",
            sha256=digest, content=content, status=ReportStatus.POSTED,
            format_code=f"{account.carrier_code}_api", carrier_code=account.carrier_code,
            format_name=_("Реестры через API перевозчика"), confidence=Decimal(1),
            registry_number=",".join(registries)[:64])
        audit(actor, "finance.report_received", report, filename=report.filename, source="api")
        if registries:
            _supersede(actor, report, timezone.localdate())
        counts = match_and_post(organization_id=actor.organization_id, report=report,
                                lines=lines, today=timezone.localdate())
        report.totals = {"rows": len(lines), **counts}
        report.save(update_fields=["totals"])
        audit(actor, "finance.report_posted", report, format=report.format_code, **counts)
    return ImportResult(report, True, counts)
