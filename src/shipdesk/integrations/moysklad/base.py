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
    """Writes these fields of many orders: one ``UPDATE … FROM (VALUES …)`` per 1,000 on
    PostgreSQL (Django's ``bulk_update`` builds a CASE per field and row: minutes for
    10,000), ``bulk_update`` elsewhere."""
    if not rows:
        return
    if db.vendor != "postgresql":
        MoySkladOrder.objects.bulk_update(rows, list(fields), batch_size=500)
        return
    columns = [c for c in (MoySkladOrder._meta.get_field(f) for f in fields)
               if isinstance(c, Field)]
    types = [c.db_type(db) for c in columns]
    names = ", ".join(f'"{c.column}"' for c in columns)
    assign = ", ".join(f'"{c.column}" = v."{c.column}"' for c in columns)
    row_sql = "(%s::bigint, " + ", ".join(f"%s::{t}" for t in types) + ")"
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
                f'UPDATE "{table}" AS t SET {assign} FROM (VALUES '  # noqa: S608 - our columns
                f'{", ".join([row_sql] * len(chunk))}) AS v(id, {names}) WHERE t.id = v.id',
                params)
