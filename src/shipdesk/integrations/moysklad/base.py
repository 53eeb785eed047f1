"""What the parts of a MoySklad connection's pass share: the statuses a connection maps,
the note we write into orders, a pass's outcome, and writing many order rows at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection as db
from django.db.models import Field

from shipdesk.integrations.models import MoySkladOrder

NOTE = "[Shipdesk] "
# Shipdesk statuses a connection can map to the account's states (in this order on the page)
MAPPABLE = ("numbered", "accepted", "in_transit", "arrived_at_pickup", "out_for_delivery",
            "delivered", "returning", "returned", "lost")
FINAL = frozenset({"delivered", "returned", "lost", "cancelled"})


@dataclass
class RunOutcome:
    fetched: int = 0
    shipments: int = 0
    problems: int = 0
    edited: int = 0
    pushed: int = 0
    operations: int = 0
    waiting: int = 0  # shipments still being registered: their numbers come soon
    paused: bool = False
    error: str = ""


def save_rows(rows: Sequence[MoySkladOrder], fields: Sequence[str]) -> None:
    """Writes these fields of many orders: one ``UPDATE … FROM (VALUES …)`` per 1,000
    (Django's ``bulk_update`` builds a CASE per field and row: minutes for 10,000)."""
    if not rows:
        return
    if db.vendor not in ("postgresql", "sqlite"):
        MoySkladOrder.objects.bulk_update(rows, list(fields), batch_size=500)
        return
    columns = [c for c in (MoySkladOrder._meta.get_field(f) for f in fields)
               if isinstance(c, Field)]
    names = ", ".join(f'"{c.column}"' for c in columns)
    assign = ", ".join(f'"{c.column}" = v."{c.column}"' for c in columns)
    if db.vendor == "postgresql":  # typed: VALUES of untyped parameters are text there
        row_sql = "(%s::bigint, " + ", ".join(f"%s::{c.db_type(db)}" for c in columns) + ")"
    else:
        row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
    table = MoySkladOrder._meta.db_table
    with db.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start:start + 1000]
            params: list[Any] = []
            for row in chunk:
                params.append(row.pk)
                params.extend(c.get_db_prep_save(getattr(row, c.attname), db)
                              for c in columns)
            cursor.execute(
                f'WITH v(id, {names}) AS (VALUES {", ".join([row_sql] * len(chunk))}) '  # noqa: S608
                f'UPDATE "{table}" SET {assign} FROM v WHERE "{table}".id = v.id', params)
