"""Claim candidates found set-based: one INSERT … SELECT per rule over the derived tracking
state, the status-change feed and the money tables, for a whole organization at once.

The rules read what the tracking ingest already derived from every event (the parcel's
status, when it last moved, its expected delivery from the route's control term) and the
status-change feed (a damage or a partial delivery seen at any point of the history), so
detection never re-reads the raw events. Per-carrier knobs (margins, minimum amounts) enter
as ``CASE`` expressions with parameters, so each rule is one statement whatever the number
of carriers. The SQL is the portable subset PostgreSQL and SQLite share.

Re-running is safe: the open (unhandled) candidates are replaced, and a candidate already
claimed or dismissed is kept as it is (the unique key on parcel + reason).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction

from shipdesk.claims import rules
from shipdesk.claims.models import Candidate, CandidateState, Kind

_STAKE = ("COALESCE(NULLIF(s.declared_value, 0), s.cod_amount, 0) "
          "+ COALESCE(s.shipping_cost, 0)")
_COLUMNS = ("organization_id, shipment_id, kind, state, carrier_code, tracking_number, since, "
            "term_ended, event_code, event_text, expected_amount, actual_amount, at_stake, "
            "payout_row_id, created_at, updated_at")
# statuses a stuck parcel may be in: on its way, not waiting for the recipient, not
# already another rule's business (lost, damaged, a return)
_MOVING = ("'info_received', 'accepted', 'in_transit', 'customs', 'out_for_delivery', "
           "'delivery_failed'")
_PARTIAL = "'partial', 'partial_delivery', 'partial_redemption'"


class _Case:
    """``CASE <column> WHEN %s THEN %s … ELSE %s END`` with its parameters."""

    def __init__(self, column: str, values: dict[Any, Any], default: Any) -> None:
        parts, self.params = [], []
        for key, value in values.items():
            parts.append("WHEN %s THEN %s")
            self.params += [key, value]
        self.sql = f"CASE {column} " + " ".join(parts) + " ELSE %s END" if parts else "%s"
        self.params.append(default)


def _ts(value: dt.datetime | None) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def _day(value: dt.date | None) -> Any:
    return connection.ops.adapt_datefield_value(value)


def _carrier_codes(organization_id: int) -> list[str]:
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.carriers.registry import all_codes

    own = CarrierAccount.objects.filter(organization_id=organization_id).values_list(
        "carrier_code", flat=True)
    return sorted({*all_codes(), *own})


def _accounts(organization_id: int) -> dict[int, tuple[str, int]]:
    """account id -> (carrier, payout lag days from the contract's money terms)."""
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.finance.models import FinanceTerms

    lags = dict(FinanceTerms.objects.filter(organization_id=organization_id).values_list(
        "carrier_account_id", "payout_lag_days"))
    return {pk: (code, int(lags.get(pk, rules.PAYOUT_DAYS_FALLBACK)))
            for pk, code in CarrierAccount.objects.filter(
                organization_id=organization_id).values_list("pk", "carrier_code")}


def detect(*, organization_id: int, now: dt.datetime) -> dict[str, int]:
    """Finds every candidate of the organization; returns how many open ones each rule has."""
    carriers = _carrier_codes(organization_id)
    effective = rules.rules_for(organization_id=organization_id, carrier_codes=carriers)
    fallback = {k: rules.default_rule(k, "") for k in Kind.values}

    def rule_case(kind: str, column: str, value: Any) -> _Case:
        """Per carrier: ``value(rule)`` for an enabled rule, NULL for a disabled one (a
        comparison with NULL is never true: the carrier's parcels are not taken)."""
        return _Case(column, {c: (value(effective[(kind, c)]) if effective[(kind, c)].enabled
                                  else None) for c in carriers}, value(fallback[kind]))

    def minimum(kind: str) -> _Case:
        case = rule_case(kind, "s.carrier_code", lambda r: str(r.min_amount))
        case.sql = f"CAST({case.sql} AS NUMERIC)"  # compared as a number on both databases
        return case

    def days_before(kind: str, extra: int = 0) -> _Case:
        return rule_case(kind, "s.carrier_code",
                         lambda r: _ts(now - dt.timedelta(days=r.margin_days + extra)))

    statements: list[tuple[str, str, Sequence[Any]]] = []
    base = "s.organization_id = %s AND s.state <> 'cancelled'"

    # 1-3. the derived state, in one scan: lost (the carrier said so); stuck (the control
    # term + margin passed, and no movement for the margin either); a return that never
    # came back. Each condition with its carrier's knobs; the kind says which one held.
    cut, cut_unknown, quiet = (days_before(Kind.STUCK), days_before(
        Kind.STUCK, rules.CONTROL_DAYS_FALLBACK), days_before(Kind.STUCK))
    least_stuck, least_lost = minimum(Kind.STUCK), minimum(Kind.LOST)
    on_lost = rule_case(Kind.LOST, "s.carrier_code", lambda _r: 1)
    back_cut, least_back = days_before(Kind.RETURN_MISSING), minimum(Kind.RETURN_MISSING)
    lost = (f"((ts.status = 'lost' OR ts.is_lost) AND {on_lost.sql} = 1 "
            f"AND {_STAKE} >= {least_lost.sql})")
    lost_p = [*on_lost.params, *least_lost.params]
    back = (f"(NOT ts.final AND ts.status IN ('returning', 'refused') "
            f"AND ts.status_at <= {back_cut.sql} AND {_STAKE} >= {least_back.sql})")
    back_p = [*back_cut.params, *least_back.params]
    stuck = f"""(NOT ts.final AND ts.status IN ({_MOVING}) AND ts.accepted_at IS NOT NULL
          AND ((ts.expected_delivery IS NOT NULL AND ts.expected_delivery <= {cut.sql})
               OR (ts.expected_delivery IS NULL AND ts.accepted_at <= {cut_unknown.sql}))
          AND COALESCE(ts.last_movement_at, ts.accepted_at) <= {quiet.sql}
          AND {_STAKE} >= {least_stuck.sql})"""
    stuck_p = [*cut.params, *cut_unknown.params, *quiet.params, *least_stuck.params]
    moving = f"ts.status IN ({_MOVING})"
    statements.append((
        f"CASE WHEN {lost} THEN 'lost' WHEN {back} THEN 'return_missing' ELSE 'stuck' END",
        f"""s.carrier_code, s.tracking_number,
               CASE WHEN {moving} THEN COALESCE(ts.last_movement_at, ts.accepted_at)
                    ELSE ts.status_at END,
               CASE WHEN {moving} THEN ts.expected_delivery END,
               ts.status, CASE WHEN {moving} THEN '' ELSE ts.substatus END, NULL, NULL,
               {_STAKE}, NULL, %s, %s
        FROM tracking_trackingstate ts JOIN shipments_shipment s ON s.id = ts.shipment_id
        WHERE {base} AND ts.organization_id = %s
          AND (ts.is_lost OR ts.status = 'lost' OR (NOT ts.final AND ts.status IN (
               'returning', 'refused', {_MOVING})))
          AND ({lost} OR {stuck} OR {back})""",
        [*lost_p, *back_p, "STAMPS", organization_id, organization_id, *lost_p, *stuck_p,
         *back_p]))

    # 4-5. damaged / partly delivered: at any point of the history (the status-change feed);
    # one statement each (an OR of the two made the planner join the whole feed first)
    for kind, where in ((Kind.DAMAGED, "sc.status = 'damaged'"),
                        (Kind.PARTIAL, f"sc.substatus IN ({_PARTIAL})")):
        least, on = minimum(kind), rule_case(kind, "s.carrier_code", lambda _r: 1)
        statements.append(("%s", f"""s.carrier_code, s.tracking_number,
                   MIN(sc.changed_at), NULL, MIN(sc.status), MIN(sc.substatus), NULL, NULL,
                   {_STAKE}, NULL, %s, %s
            FROM tracking_shipmentstatuschange sc
            JOIN shipments_shipment s ON s.id = sc.shipment_id
            WHERE {base} AND sc.organization_id = %s AND {where}
              AND {on.sql} = 1 AND {_STAKE} >= {least.sql}
            GROUP BY s.organization_id, s.id, s.carrier_code, s.tracking_number,
                     s.declared_value, s.cod_amount, s.shipping_cost""",
            [kind, "STAMPS", organization_id, organization_id, *on.params, *least.params]))

    # 4. COD unpaid: delivered, the contract's payout term + margin passed, no money
    accounts = _accounts(organization_id)
    today = now.date()

    def unpaid_cut(as_ts: bool) -> _Case:
        values: dict[Any, Any] = {}
        for pk, (code, lag) in accounts.items():
            rule = effective.get((Kind.COD_UNPAID, code), fallback[Kind.COD_UNPAID])
            days = dt.timedelta(days=lag + rule.margin_days)
            values[pk] = None if not rule.enabled else (
                _ts(now - days) if as_ts else _day(today - days))
        days = dt.timedelta(days=rules.PAYOUT_DAYS_FALLBACK
                            + fallback[Kind.COD_UNPAID].margin_days)
        return _Case("r.carrier_account_id", values,
                     _ts(now - days) if as_ts else _day(today - days))

    by_day, by_ts, least = unpaid_cut(False), unpaid_cut(True), minimum(Kind.COD_UNPAID)
    statements.append(("%s", f"""s.carrier_code, s.tracking_number,
               ts.status_at, NULL, ts.status, r.state, r.cod_amount, r.paid_amount,
               r.cod_amount - r.paid_amount, NULL, %s, %s
        FROM finance_receivable r JOIN shipments_shipment s ON s.id = r.shipment_id
        LEFT JOIN tracking_trackingstate ts ON ts.shipment_id = s.id
        WHERE {base} AND r.organization_id = %s
          AND r.state IN ('expected', 'collected', 'overdue') AND r.cod_amount > 0
          AND ((r.collected_on IS NOT NULL AND r.collected_on <= {by_day.sql})
               OR (r.collected_on IS NULL AND ts.status = 'delivered'
                   AND ts.status_at <= {by_ts.sql}))
          AND r.cod_amount - r.paid_amount >= {least.sql}""",
        [Kind.COD_UNPAID, "STAMPS", organization_id, organization_id, *by_day.params,
         *by_ts.params, *least.params]))

    # 6. overcharge in a payout report: less paid than the order's amount, or more fees
    # withheld than the contract's tariff gives
    fees = "(r.fee_commission + r.fee_delivery + r.fee_insurance + r.fee_return)"
    over = (f"(CASE WHEN pr.difference < 0 THEN -pr.difference ELSE 0 END "
            f"+ CASE WHEN pr.fee > {fees} THEN pr.fee - {fees} ELSE 0 END)")
    least = minimum(Kind.OVERCHARGE)
    on = rule_case(Kind.OVERCHARGE, "s.carrier_code", lambda _r: 1)
    statements.append(("%s", f"""s.carrier_code, s.tracking_number,
               NULL, NULL, pr.outcome, pr.message, r.cod_amount + 0, pr.cod_amount, {over},
               pr.id, %s, %s
        FROM finance_payoutrow pr JOIN finance_receivable r ON r.id = pr.receivable_id
        JOIN shipments_shipment s ON s.id = r.shipment_id
        WHERE {base} AND pr.organization_id = %s
          AND ((pr.outcome = 'amount_differs' AND pr.difference < 0)
               OR (pr.outcome IN ('matched', 'partial', 'amount_differs')
                   AND r.fees_mode = 'deducted' AND pr.fee > {fees}))
          AND {on.sql} = 1 AND {over} >= {least.sql}""",
        [Kind.OVERCHARGE, "STAMPS", organization_id, organization_id, *on.params,
         *least.params]))

    stamp = _ts(now)
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM claims_candidate WHERE organization_id = %s AND state = %s",
                    [organization_id, CandidateState.OPEN])
        for kind_sql, rest, values in statements:
            # (kind expression, the columns after the state, parameters in order): the
            # state and the two timestamps go where "STAMPS" stands
            at = list(values).index("STAMPS")
            cur.execute(f"INSERT INTO claims_candidate ({_COLUMNS}) SELECT s.organization_id, "
                        f"s.id, {kind_sql}, %s, {rest} ON CONFLICT (shipment_id, kind) DO NOTHING",
                        [*values[:at], CandidateState.OPEN, stamp, stamp, *values[at + 1:]])
    counts = dict.fromkeys(Kind.values, 0)
    for found_kind, n in _open_counts(organization_id):
        counts[found_kind] = n
    return counts


def _open_counts(organization_id: int) -> list[tuple[str, int]]:
    from django.db.models import Count

    return [(r["kind"], r["n"]) for r in Candidate.objects.filter(
        organization_id=organization_id, state=CandidateState.OPEN).values("kind").annotate(
        n=Count("id"))]
