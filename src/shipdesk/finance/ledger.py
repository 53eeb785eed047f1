"""The double-entry ledger's write primitives: balanced entries written in bulk (binary COPY
on PostgreSQL), reversals, balances. Callers hold the transaction."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q, Sum
from django.utils import timezone

from shipdesk.finance.models import EntryKind, LedgerCounter, Posting

ZERO = Decimal("0.00")


@dataclass
class Entry:
    kind: str
    shipment_id: int | None  # None: an entry of no shipment (an advance to a carrier)
    posted_on: dt.date
    lines: list[tuple[str, Decimal]]  # (account, signed amount)
    row_id: int | None = None
    reverses: int | None = None
    number: int = field(default=0)
    # each line's own kind, where an entry's lines tell several operations (a paid order's
    # payout: payment in, the carrier's services, a customer return — as matching writes it)
    line_kinds: Sequence[str] = ()


class Unbalanced(ValueError):
    pass


def lock(organization_id: int) -> LedgerCounter:
    """Takes the organization's ledger lock (one poster at a time per organization)."""
    LedgerCounter.objects.get_or_create(organization_id=organization_id)
    return LedgerCounter.objects.select_for_update().get(organization_id=organization_id)


def post(organization_id: int, entries: Sequence[Entry]) -> int:
    """Writes the entries (each must balance); returns how many lines were written."""
    entries = [e for e in entries if any(amount for _a, amount in e.lines)]
    if not entries:
        return 0
    for e in entries:
        if sum((a for _acc, a in e.lines), ZERO) != ZERO:
            raise Unbalanced(f"entry {e.kind} of shipment {e.shipment_id} does not balance")
    counter = lock(organization_id)
    first = counter.last_entry + 1
    counter.last_entry += len(entries)
    counter.save(update_fields=["last_entry"])
    now = timezone.now()
    rows = []
    for number, e in enumerate(entries, start=first):
        e.number = number
        kinds = e.line_kinds or [e.kind] * len(e.lines)
        for (account, amount), kind in zip(e.lines, kinds, strict=True):
            if amount:
                rows.append((organization_id, number, kind, e.shipment_id, e.row_id,
                             e.reverses, account, amount, e.posted_on, now))
    _write(rows)
    return len(rows)


_COLUMNS = ("organization_id", "entry", "kind", "shipment_id", "row_id", "reverses",
            "account", "amount", "posted_on", "created_at")


def _write(rows: Sequence[tuple[object, ...]]) -> None:
    if connection.vendor == "postgresql":
        from shipdesk.core.pgcopy import copy_rows

        with connection.cursor() as cursor:
            copy_rows(cursor, Posting._meta.db_table, _COLUMNS, rows)
        return
    Posting.objects.bulk_create(
        [Posting(**dict(zip(_COLUMNS, r, strict=True))) for r in rows], batch_size=2000)


def reversals(organization_id: int, entry_numbers: Iterable[int], *, posted_on: dt.date,
              row_id: int | None, shipment_ids: Iterable[int] | None = None) -> list[Entry]:
    """Entries that undo the given ones (those not reversed already). Lines are found
    through their shipments' index when ``shipment_ids`` (the entries' shipments) is given,
    else by entry number alone (a scan of the organization's ledger: fine for a few)."""
    numbers = set(entry_numbers)
    if not numbers:
        return []
    lines: dict[int, list[tuple[str, Decimal]]] = defaultdict(list)
    shipment: dict[int, int | None] = {}
    done: set[int] = set()
    fields = ("entry", "account", "amount", "shipment_id", "kind", "reverses")
    if shipment_ids is not None:
        ids = sorted(set(shipment_ids))
        found: Iterable[tuple[Any, ...]] = (
            row for start in range(0, len(ids), 5000) for row in Posting.objects.filter(
                organization_id=organization_id, shipment_id__in=ids[start:start + 5000]
            ).values_list(*fields))
    else:
        ordered = sorted(numbers)
        found = (row for start in range(0, len(ordered), 5000) for row in Posting.objects.filter(
            Q(entry__in=ordered[start:start + 5000]) | Q(reverses__in=ordered[start:start + 5000]),
            organization_id=organization_id).values_list(*fields))
    for entry, account, amount, shipment_id, kind, reverses in found:
        if kind == EntryKind.REVERSAL and reverses in numbers:
            done.add(reverses)
        if entry in numbers:
            lines[entry].append((account, -amount))
            shipment[entry] = shipment_id
    return [Entry(kind=EntryKind.REVERSAL, shipment_id=shipment[n], posted_on=posted_on,
                  lines=lines[n], row_id=row_id, reverses=n)
            for n in sorted(lines) if n not in done]


def balances(organization_id: int, *, shipment_id: int | None = None,
             up_to: dt.date | None = None) -> dict[str, Decimal]:
    qs = Posting.objects.filter(organization_id=organization_id)
    if shipment_id is not None:
        qs = qs.filter(shipment_id=shipment_id)
    if up_to is not None:
        qs = qs.filter(posted_on__lte=up_to)
    # SQLite sums decimals as floats: rounded back to kopecks here
    sums = {r["account"]: Decimal(r["total"] or 0).quantize(ZERO)
            for r in qs.values("account").annotate(total=Sum("amount"))}
    return {account: total for account, total in sums.items() if total}


def check_balanced(organization_id: int, *, first: int, last: int) -> None:
    """Raises :class:`Unbalanced` if any entry numbered ``first``…``last`` does not sum to
    zero (entries written by SQL are checked here, as :func:`post` checks its own)."""
    from django.db.models import Func

    bad = (Posting.objects.filter(organization_id=organization_id, entry__gte=first,
                                  entry__lte=last)
           .values("entry").annotate(total=Sum("amount"))
           .annotate(off=Func("total", function="ABS")).filter(off__gte=Decimal("0.005"))
           .values_list("entry", flat=True)[:1])
    found = list(bad)
    if found:
        raise Unbalanced(f"entry {found[0]} does not balance")
