"""Payout lines against receivables, set-based: the parsed lines go into a staging table
(binary COPY on PostgreSQL), each finds its receivable by carrier number then order number,
each row's outcome is one SQL ``CASE``, all worked out once into a second temporary table
(``finance_match``) that the later steps read without joining again: the payout rows and
the matched orders' operations are written with one ``INSERT … SELECT`` each and their
receivables moved with one ``UPDATE … FROM``. The same statements run on SQLite (embedded
mode), so both give the same outcomes.

Outcomes, in the order they are decided:

* unknown — no receivable of this organization has the row's carrier or order number;
* correction — a negative row: the order's payment is reversed if it was paid;
* paid twice — the order was paid already, or an earlier row of this report paid it;
* amount differs — the order was refused (returned), or the amounts do not agree;
* matched — the amount is the order's COD; partial — the amount and the goods returned
  add up to it (a partial refusal).

A matched order's payout is one ledger entry of three or four lines (see ``_LINE_RULES``);
the shipment's demand is posted beside it when tracking had not yet said "delivered"."""

# ruff: noqa: S608 - the SQL is assembled from this module's constants; values are parameters
from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.finance import formats, ledger
from shipdesk.finance.models import (
    FeesMode,
    OrderState,
    PayoutReport,
    PayoutRow,
    Posting,
    Receivable,
    ReceivableState,
    RowOutcome,
)

STAGE = "finance_stage"
MATCH = "finance_match"
_STAGE_COLUMNS = ("row_number", "tracking_number", "order_number", "cod_amount", "fee",
                  "paid_amount", "returned_amount", "paid_on")

# Every staged line with its receivable (what the later steps need of it) and its outcome,
# worked out once into a temporary table that the payout rows, the rollup, the postings and
# the receivables' move then read without joining again. ``first_paid`` is the first row of
# this report that pays the same order (a later one pays it twice). The payout row's id is
# drawn here (``%(row_id)s``), so that the postings can name their row.
# Which receivable a line is: the shipment of this organization with its carrier number,
# else with its order number (both unique per organization), then that shipment's receivable.
_MATCH_SQL = f"""
CREATE TEMP TABLE {MATCH} AS
WITH f AS MATERIALIZED (
  SELECT s.*, COALESCE(
    CASE WHEN s.tracking_number <> '' THEN (
      SELECT x.id FROM shipments_shipment x
      WHERE x.tracking_number = s.tracking_number AND x.organization_id = %(org)s) END,
    CASE WHEN s.order_number <> '' THEN (
      SELECT x.id FROM shipments_shipment x
      WHERE x.organization_id = %(org)s AND x.order_number = s.order_number) END
  ) AS found_shipment
  FROM {STAGE} s
), m AS (
  SELECT f.*, r.id AS receivable_id, r.state AS rstate, r.cod_amount AS rcod,
    r.shipment_id, r.carrier_code, r.collected_on, r.fees_mode,
    r.fee_commission + r.fee_delivery + r.fee_insurance AS invoiced,
    CASE WHEN ft.agent_reports THEN 'agent_report' ELSE 'services' END AS services,
    CASE WHEN r.id IS NULL THEN 'unknown'
         WHEN f.paid_amount < 0 OR f.cod_amount < 0 THEN 'correction'
         WHEN r.state = 'paid' THEN 'paid_twice'
         WHEN r.state = 'refused' THEN 'refused'
         WHEN f.cod_amount = r.cod_amount AND f.returned_amount = 0 THEN 'matched'
         WHEN f.returned_amount > 0
              AND ABS(f.cod_amount + f.returned_amount - r.cod_amount) < 0.005 THEN 'partial'
         ELSE 'amount_differs' END AS cand
  FROM f LEFT JOIN finance_receivable r ON r.shipment_id = f.found_shipment
    LEFT JOIN finance_financeterms ft ON ft.carrier_account_id = r.carrier_account_id
), w AS (
  SELECT m.*, MIN(CASE WHEN cand IN ('matched', 'partial') THEN row_number END)
              OVER (PARTITION BY receivable_id) AS first_paid
  FROM m
), o AS (
  SELECT w.*, CASE WHEN cand <> 'unknown' AND cand <> 'correction' AND cand <> 'paid_twice'
                        AND first_paid < row_number THEN 'paid_twice'
                   ELSE cand END AS decided
  FROM w
)
SELECT %(row_id)s AS id, row_number, tracking_number, order_number, cod_amount, fee,
  paid_amount, returned_amount, paid_on, receivable_id, rstate, rcod, shipment_id,
  carrier_code, collected_on, fees_mode, invoiced, services,
  CASE WHEN decided = 'refused' THEN 'amount_differs' ELSE decided END AS outcome,
  CASE WHEN decided = 'refused' THEN 0 ELSE rcod END AS expected_amount,
  CASE WHEN decided = 'refused' THEN cod_amount
       WHEN decided = 'amount_differs' THEN ROUND(cod_amount - rcod, 2) END AS difference,
  CASE WHEN decided = 'unknown' THEN %(m_unknown)s
       WHEN decided = 'correction' AND rstate = 'paid' THEN %(m_reversed)s
       WHEN decided = 'correction' THEN %(m_nothing)s
       WHEN decided = 'paid_twice' THEN %(m_twice)s
       WHEN decided = 'refused' THEN %(m_refused)s
       ELSE '' END AS message
FROM o"""
# the payout row's id: PostgreSQL draws each from the table's sequence; SQLite (one writer
# at a time) counts on from the highest id it ever gave
_ROW_ID_PG = "nextval(%(row_sequence)s::regclass)"
_ROW_ID_SQLITE = ("(SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence "
                  "WHERE name = 'finance_payoutrow'), 0), "
                  "COALESCE((SELECT MAX(id) FROM finance_payoutrow), 0)))"
                  " + ROW_NUMBER() OVER (ORDER BY row_number)")

_ROWS_SQL = f"""
INSERT INTO finance_payoutrow (id, organization_id, report_id, row_number, tracking_number,
  order_number, cod_amount, fee, paid_amount, returned_amount, paid_on, outcome,
  receivable_id, expected_amount, difference, message, resolution)
SELECT id, %(org)s, %(report)s, row_number, tracking_number, order_number, cod_amount, fee,
  paid_amount, returned_amount, paid_on, outcome, receivable_id, expected_amount, difference,
  message, ''
FROM {MATCH}"""

_PAID = f"m.outcome IN ('{RowOutcome.MATCHED}', '{RowOutcome.PARTIAL}')"

# A paid order's operations as few balanced lines as tell them apart (Russian chart):
#   demand (only if tracking had not said "delivered"): 62 Dr COD / 90.1 Cr COD;
#   the payout, one entry: 62 Cr the COD paid (payment in), 51 Dr what reached the bank,
#   44 Dr the carrier's services — when they are deducted from the COD they are offset at
#   once (51 gets the COD less them), when invoiced they stay owed on 60 (60 Cr); their
#   lines are marked "agent report" when the contract has the carrier's agent reports;
#   a partial refusal adds the customer return: 90.2 Dr / 62 Cr the goods sent back.
_FEE = "(CASE WHEN p.cod > p.paid THEN p.cod - p.paid ELSE 0 END)"
_DEDUCTED = f"p.fees_mode = '{FeesMode.DEDUCTED}'"
# each line: (kind, account, when it is written, its amount)
_LINE_RULES = {
    1: ("demand", "62", "p.rstate = 'expected'", "p.rcod"),
    2: ("demand", "90.1", "p.rstate = 'expected'", "-p.rcod"),
    3: ("payment_in", "62", "TRUE", "-p.cod"),
    4: ("payment_in", "51", "TRUE", f"CASE WHEN {_DEDUCTED} THEN p.cod - {_FEE} ELSE p.cod END"),
    5: ("services", "44", "TRUE", f"CASE WHEN {_DEDUCTED} THEN {_FEE} ELSE p.invoiced END"),
    6: ("services", "60", f"NOT ({_DEDUCTED})", f"CASE WHEN {_DEDUCTED} THEN 0 "
                                                 "ELSE -p.invoiced END"),
    7: ("sales_return", "90.2", "p.ret <> 0", "p.ret"),
    8: ("sales_return", "62", "p.ret <> 0", "-p.ret"),
}
_DEMAND_LINES, _PAYOUT_LINES = (1, 2), (3, 4, 5, 6, 7, 8)


def payout_entry(*, shipment_id: int, row_id: int | None, on: dt.date, cod: Decimal,
                 paid: Decimal, returned: Decimal, fees_mode: str, invoiced: Decimal,
                 services: str) -> ledger.Entry:
    """One paid order's payout entry by the payout lines of ``_LINE_RULES`` (3…8), for a
    payment posted one order at a time (an «amount differs» row accepted): the same lines,
    accounts and kinds the bulk statement writes. ``services`` is the kind of the carrier's
    services' lines (``services`` or ``agent_report``)."""
    deducted = fees_mode == FeesMode.DEDUCTED
    fee = cod - paid if cod > paid else ledger.ZERO
    rules = [("payment_in", "62", True, -cod),
             ("payment_in", "51", True, cod - fee if deducted else cod),
             (services, "44", True, fee if deducted else invoiced),
             (services, "60", not deducted, ledger.ZERO if deducted else -invoiced),
             ("sales_return", "90.2", returned != 0, returned),
             ("sales_return", "62", returned != 0, -returned)]
    written = [(kind, account, amount.quantize(ledger.ZERO))
               for kind, account, when, amount in rules if when and amount]
    return ledger.Entry(kind="payment_in", shipment_id=shipment_id, posted_on=on,
                        lines=[(account, amount) for _k, account, amount in written],
                        row_id=row_id, line_kinds=[kind for kind, _a, _m in written])
_P_COLUMNS = """m.id AS row_id, m.paid_on AS day, m.cod_amount AS cod, m.paid_amount AS paid,
    m.returned_amount AS ret, m.shipment_id, m.rstate, m.rcod, m.fees_mode, m.invoiced,
    m.services"""
Rules = dict[int, tuple[str, str, str, str]]


def _post_sql(rules: Rules) -> str:
    """The paid rows' lines by the rules, as the CTE ``l`` (then INSERT … FROM l)."""
    kinds = " UNION ALL ".join(f"SELECT {k} AS k, '{kind}' AS kind, '{account}' AS account"
                               for k, (kind, account, _w, _a) in rules.items())
    amounts = " ".join(f"WHEN {k} THEN {rule[3]}" for k, rule in rules.items())
    written = " OR ".join(f"(t.k = {k} AND {rule[2]})" for k, rule in rules.items())
    return f"""
WITH p AS (
  SELECT {_P_COLUMNS},
    ROW_NUMBER() OVER (ORDER BY m.row_number) AS seq,
    SUM(CASE WHEN m.rstate = 'expected' THEN 1 ELSE 0 END)
      OVER (ORDER BY m.row_number ROWS UNBOUNDED PRECEDING) AS dseq
  FROM {MATCH} m
  WHERE {_PAID}
), l AS (
  SELECT p.*, t.k, CASE WHEN t.kind = 'services' THEN p.services ELSE t.kind END AS kind,
    t.account, ROUND(CASE t.k {amounts} END, 2) AS amount
  FROM p JOIN ({kinds}) t ON {written}
)
"""


def _unbalanced_sql(rules: Rules) -> str:
    """A paid row whose demand's or payout's lines, by the rules, do not sum to zero."""
    def total(lines: tuple[int, ...]) -> str:
        return " + ".join(f"CASE WHEN {rules[k][2]} THEN ROUND({rules[k][3]}, 2) ELSE 0 END"
                          for k in lines if k in rules)

    return f"""
SELECT p.row_id FROM (SELECT {_P_COLUMNS} FROM {MATCH} m WHERE {_PAID}) p
WHERE {total(_DEMAND_LINES)} <> 0 OR {total(_PAYOUT_LINES)} <> 0
LIMIT 1"""


_POST_SQL = _post_sql(_LINE_RULES)
_INSERT_LINES = """
INSERT INTO finance_posting (organization_id, entry, kind, shipment_id, row_id, reverses,
  account, amount, posted_on, created_at)
SELECT %(org)s, CASE WHEN k <= 2 THEN %(base)s + dseq ELSE %(base)s + %(demands)s + seq END,
  kind, shipment_id, row_id, NULL, account, amount, day, %(now)s
FROM l WHERE amount <> 0"""
# Every entry balances, checked (on PostgreSQL) before it is written: an entry's lines all
# come from one paid row, by the rules above, so each row's sums of its demand's and its
# payout's lines are worked out from the same rules (a pass over the rows, where grouping
# the 300,000 written lines by entry cost a tenth of the whole import). SQLite reads the
# lines it wrote back (``ledger.check_balanced``).
_UNBALANCED_SQL = _unbalanced_sql(_LINE_RULES)

# the rollup's share of the payments, and how many payouts (and demands) will be posted
_CASH_SQL = f"""
SELECT m.carrier_code, m.paid_on, m.collected_on, m.rstate, COUNT(*), SUM(m.cod_amount),
  SUM(m.rcod)
FROM {MATCH} m
WHERE {_PAID}
GROUP BY m.carrier_code, m.paid_on, m.collected_on, m.rstate"""

_RECEIVABLES_SQL = f"""
UPDATE finance_receivable SET state = '{ReceivableState.PAID}',
  order_state = CASE WHEN m.outcome = '{RowOutcome.PARTIAL}' THEN '{OrderState.RETURNED}'
                     ELSE '{OrderState.COMPLETED}' END,
  paid_on = m.paid_on, paid_amount = m.cod_amount, refused_amount = m.returned_amount,
  collected_on = COALESCE(finance_receivable.collected_on, m.paid_on)
FROM {MATCH} m
WHERE {_PAID} AND finance_receivable.id = m.receivable_id"""

_COUNTS_SQL = f"SELECT outcome, COUNT(*) FROM {MATCH} GROUP BY outcome"


def run(*, organization_id: int, report: PayoutReport, lines: Sequence[formats.Line],
        today: dt.date, timings: dict[str, float] | None = None) -> dict[str, int]:
    """Matches, writes the rows, posts and moves the receivables; returns outcome counts.
    ``timings`` (if given) gets the seconds of each step."""
    from shipdesk.finance.services import receivables_ensure

    clock = _Clock(timings)
    ledger.lock(organization_id)
    args: dict[str, Any] = {"org": organization_id, "report": report.pk}
    words = {"m_unknown": _("Отправление с таким трек-номером или номером заказа не найдено"),
             "m_reversed": _("Оплата заказа сторнирована"),
             "m_nothing": _("Корректировка к неоплаченному заказу: проводок нет"),
             "m_twice": _("Заказ уже оплачен: повторная оплата не проведена"),
             "m_refused": _("Заказ возвращён, а перевозчик сообщает об оплате")}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # the joins and window sorts stay in memory; compiling these statements (JIT)
            # would cost more than running them
            cursor.execute("SET LOCAL work_mem = '64MB'")
            cursor.execute("SET LOCAL jit = off")
        _stage(cursor, lines, default_day=report.created_at.date())
        clock.tick("stage")
        match_args = {**args, **words}
        _match(cursor, match_args)
        cursor.execute(f"SELECT tracking_number, order_number FROM {MATCH} "
                       f"WHERE outcome = '{RowOutcome.UNKNOWN}'")
        unknown = cursor.fetchall()
        # COD shipments with no receivable yet (no status from tracking) get one, and the
        # lines are matched again (rare: a few statements more)
        if unknown and receivables_ensure(
                organization_id=organization_id,
                numbers=sorted({t for t, _o in unknown if t}),
                orders=sorted({o for _t, o in unknown if o})):
            _match(cursor, match_args)
        cursor.execute(_ROWS_SQL, args)
        clock.tick("rows")
        cash, payouts, demands = _cash(cursor, args)
        _corrections(organization_id, report, today, cash)
        clock.tick("cash")
        _post(cursor, organization_id, args, payouts=payouts, demands=demands)
        clock.tick("post")
        if payouts:
            cursor.execute(_RECEIVABLES_SQL, args)
        clock.tick("receivables")
        cursor.execute(_COUNTS_SQL)
        counts = {outcome: int(n) for outcome, n in cursor.fetchall()}
        cursor.execute(f"DROP TABLE {STAGE}")
        cursor.execute(f"DROP TABLE {MATCH}")
    from shipdesk.finance.services import _add_cash

    _add_cash(organization_id, cash)
    clock.tick("finish")
    return counts


def _match(cursor: Any, args: dict[str, Any]) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {MATCH}")
    if connection.vendor == "postgresql":
        # the sequence named once (looked up for each row, its name would cost more than
        # the number)
        cursor.execute("SELECT pg_get_serial_sequence('finance_payoutrow', 'id')")
        args = {**args, "row_sequence": cursor.fetchone()[0]}
        cursor.execute(_MATCH_SQL.replace("%(row_id)s", _ROW_ID_PG), args)
    else:
        cursor.execute(_MATCH_SQL.replace("%(row_id)s", _ROW_ID_SQLITE), args)


class _Clock:
    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings, self.last = timings, time.perf_counter()

    def tick(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0) + now - self.last
        self.last = now


def _stage(cursor: Any, lines: Sequence[formats.Line], *, default_day: dt.date) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {STAGE}")
    cursor.execute(
        f"CREATE TEMP TABLE {STAGE} (row_number integer, tracking_number varchar(64), "
        "order_number varchar(64), cod_amount numeric(12, 2), fee numeric(12, 2), "
        "paid_amount numeric(12, 2), returned_amount numeric(12, 2), paid_on date)")
    rows = ((ln.row_number, ln.tracking_number, ln.order_number, ln.cod_amount, ln.fee,
             ln.paid_amount, ln.returned_amount, ln.paid_on or default_day) for ln in lines)
    if connection.vendor == "postgresql":
        from shipdesk.core.pgcopy import copy_rows

        copy_rows(cursor, STAGE, _STAGE_COLUMNS, rows)
    else:
        cursor.executemany(f"INSERT INTO {STAGE} ({', '.join(_STAGE_COLUMNS)}) "
                           f"VALUES ({', '.join(['%s'] * len(_STAGE_COLUMNS))})", list(rows))
    if connection.vendor == "postgresql":
        cursor.execute(f"ANALYZE {STAGE}")


def _post(cursor: Any, organization_id: int, args: dict[str, Any], *, payouts: int,
          demands: int) -> None:
    """The paid orders' entries, numbered after the ledger's last; each checked balanced."""
    if not payouts:
        return
    counter = ledger.lock(organization_id)
    base = counter.last_entry
    counter.last_entry += payouts + demands
    counter.save(update_fields=["last_entry"])
    params = {**args, "base": base, "demands": demands, "now": timezone.now()}
    if connection.vendor == "postgresql":
        cursor.execute(_UNBALANCED_SQL)
        if bad := cursor.fetchone():
            raise ledger.Unbalanced(f"the entries of payout row {bad[0]} do not balance")
        cursor.execute(_POST_SQL + _INSERT_LINES, params)
    else:
        cursor.execute(_POST_SQL + _INSERT_LINES, params)
        ledger.check_balanced(organization_id, first=base + 1, last=counter.last_entry)


def _cash(cursor: Any, args: dict[str, Any]) -> tuple[Any, int, int]:
    """The daily rollup's share of this report's payments (before the receivables move),
    and how many orders it pays (of them, how many tracking had not seen delivered)."""
    from shipdesk.finance.services import Cash, _lag, cash_add

    cash: Cash = {}
    payouts = demands = 0
    cursor.execute(_CASH_SQL, args)
    for carrier, paid_on, collected_on, state, n, paid, cod in cursor.fetchall():
        paid_on, collected_on = _date(paid_on), _date(collected_on)
        collected = collected_on or paid_on
        cash_add(cash, carrier, paid_on, paid=_money(paid), paid_count=n,
                 lag_days=_lag(collected, paid_on) * n)
        payouts += n
        if state == ReceivableState.EXPECTED:
            demands += n
            cash_add(cash, carrier, paid_on, collected=_money(cod))
    return cash, payouts, demands


def _date(value: Any) -> Any:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(ledger.ZERO)


def _corrections(organization_id: int, report: PayoutReport, today: dt.date, cash: Any
                 ) -> None:
    """Negative rows for paid orders: the payment's entries reversed, the order open again
    (few rows: done one order at a time)."""
    from shipdesk.finance.services import _lag, cash_add

    rows = (PayoutRow.objects.filter(report=report, outcome=RowOutcome.CORRECTION,
                                     receivable__state=ReceivableState.PAID)
            .order_by("row_number").values_list("pk", "receivable_id"))
    done: set[int] = set()
    for row_id, receivable_id in rows:
        if receivable_id in done:
            continue
        done.add(receivable_id)
        r = Receivable.objects.get(pk=receivable_id)
        entries = set(Posting.objects.filter(
            organization_id=organization_id, shipment_id=r.shipment_id, row_id__isnull=False,
            kind__in=("payment_in", "services", "agent_report", "offset", "sales_return",
                      "adjustment"))
            .values_list("entry", flat=True))
        ledger.post(organization_id, ledger.reversals(
            organization_id, entries, posted_on=today, row_id=row_id,
            shipment_ids=[r.shipment_id]))
        if r.paid_on:  # the rollup forgets the payment too
            cash_add(cash, r.carrier_code, r.paid_on, paid=-r.paid_amount, paid_count=-1,
                     lag_days=-_lag(r.collected_on, r.paid_on))
        Receivable.objects.filter(pk=r.pk).update(
            state=ReceivableState.COLLECTED, order_state=OrderState.OPEN, paid_on=None,
            paid_amount=ledger.ZERO, refused_amount=ledger.ZERO)
