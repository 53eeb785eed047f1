"""Fast bulk inserts for the intake path.

Django's ``bulk_create`` compiles every value of every row through the SQL compiler, and
building a model instance per row costs more than validating it. Here rows are plain
records (:class:`Record`: attributes named as the model's ``attname``), the ids are reserved
first (one query), then the rows go in as tuples: ``COPY`` on PostgreSQL, ``executemany``
on SQLite. Values are converted as the ORM converts them (decimals, aware datetimes, JSON),
so what is stored is what ``bulk_create`` would store.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from functools import cache
from operator import attrgetter
from typing import Any

from django.db import connection, models

from shipdesk.core import pgcopy


class Record:
    """A row to insert: the model's defaults, then the given values, as attributes."""

    def __init__(self, defaults: dict[str, Any], values: dict[str, Any]) -> None:
        self.__dict__.update(defaults)
        self.__dict__.update(values)


@cache
def defaults_for(model: type[models.Model]) -> dict[str, Any]:
    """Each concrete field's default (``None`` for the pk). Mutable defaults are shared by
    the records: the intake replaces them, never mutates them."""
    return {field.attname: (None if field.primary_key else field.get_default())
            for field in model._meta.concrete_fields}


def _converter(field: models.Field, *, copy: bool = False) -> Callable[[Any], Any] | None:
    """How a value of ``field`` goes to the driver (None: as it is). ``copy``: for
    :func:`fast_insert`'s COPY/executemany, where JSON goes as its text (the server parses
    it; on PostgreSQL in binary ``jsonb`` form: a version byte, then the text), the same
    text for the same object or an empty one (an intake's rows share them)."""
    kind = field.get_internal_type()
    postgres = connection.vendor == "postgresql"
    if kind == "JSONField":
        encoder = field.encoder  # type: ignore[attr-defined]
        if postgres and not copy:
            from psycopg.types.json import Jsonb

            return lambda value: None if value is None else Jsonb(value)
        memo: dict[int, tuple[Any, Any]] = {}  # id -> (the object, kept alive; its form)
        form: Callable[[str], Any] = pgcopy.jsonb if postgres else str
        empty = {dict: form("{}"), list: form("[]")}

        def to_json(value: Any) -> Any:
            if value is None:
                return None
            if not value and value.__class__ in empty:
                return empty[value.__class__]
            known = memo.get(id(value))
            if known is not None and known[0] is value:
                return known[1]
            text = form(json.dumps(value, cls=encoder))
            if len(memo) < 10_000:
                memo[id(value)] = (value, text)
            return text
        return to_json
    if kind == "DateTimeField" and not postgres:
        last: list[Any] = [object(), None]  # the same "now" on every row: convert it once

        def convert(value: Any) -> Any:
            if value is not last[0]:
                last[0], last[1] = value, connection.ops.adapt_datetimefield_value(value)
            return last[1]
        return convert
    if kind in ("DecimalField", "DateTimeField", "DateField") or kind in _PLAIN:
        return None  # the driver adapts these as Django would (sqlite3 adapters, psycopg)
    return lambda value: field.get_db_prep_save(value, connection)


_PLAIN = frozenset({
    "AutoField", "BigAutoField", "CharField", "TextField", "EmailField", "SlugField",
    "IntegerField", "BigIntegerField", "SmallIntegerField", "PositiveIntegerField",
    "PositiveSmallIntegerField", "PositiveBigIntegerField", "BooleanField", "ForeignKey",
})


def _reserve_ids(model: type[models.Model], count: int) -> list[int]:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                           "FROM generate_series(1, %s)", [table, model._meta.pk.column, count])
            return [row[0] for row in cursor.fetchall()]
        # SQLite: a write transaction holds the database's only write lock, so nothing can
        # take these ids between reading the high-water mark and inserting.
        cursor.execute(f'SELECT COALESCE(MAX("{model._meta.pk.column}"), 0) FROM "{table}"')  # noqa: S608
        top = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
        top = max(top, row[0] if row else 0)
        return list(range(top + 1, top + 1 + count))


class IdReserve:
    """Primary keys of ``model`` taken from its sequence ahead of the inserts that use them,
    so that taking them is off the storing path: before a big intake (while its sheet is
    being loaded) and while the chunk before is stored. PostgreSQL only: its sequences
    stand outside any transaction. On SQLite the ids come from the table's high-water mark
    inside the write transaction that inserts them, so there :func:`fast_insert` takes
    them. Ids taken and never used leave gaps, as a rolled-back insert does."""

    def __init__(self, model: type[models.Model]) -> None:
        self.model = model
        self.ids: deque[int] = deque()

    def fill(self, count: int) -> None:
        if connection.vendor == "postgresql" and count > 0:
            self.ids.extend(_reserve_ids(self.model, count))

    def assign(self, objs: Sequence[Any]) -> None:
        if connection.vendor != "postgresql" or len(objs) <= SMALL:
            return
        self.fill(len(objs) - len(self.ids))
        pk_attname, take = self.model._meta.pk.attname, self.ids.popleft
        for obj in objs:
            setattr(obj, pk_attname, take())


def insert_rows(model: type[models.Model], objs: Sequence[Any]) -> list[list[Any]]:
    """The rows :func:`fast_insert` writes for ``objs`` (pks set), values converted as the
    ORM converts them: built ahead of the insert they can be, off the storing path, and a
    value that changes before it is set at its :func:`column_position`."""
    fields = model._meta.concrete_fields
    row_of = attrgetter(*(f.attname for f in fields))  # one C call per row for all fields
    converted = [(i, c) for i, c in enumerate(_converter(f, copy=True) for f in fields) if c]
    rows = [list(row_of(obj)) for obj in objs]
    for row in rows:
        for i, convert in converted:
            row[i] = convert(row[i])
    return rows


def column_position(model: type[models.Model], attname: str) -> int:
    return [f.attname for f in model._meta.concrete_fields].index(attname)


def fast_insert(model: type[models.Model], objs: Sequence[Any],
                rows: list[list[Any]] | None = None) -> None:
    """Inserts ``objs`` (records or unsaved instances of ``model``, every concrete field's
    attname set) and sets their pk, unless an :class:`IdReserve` gave them theirs; ``rows``:
    their :func:`insert_rows`, built ahead. Runs inside a transaction. No signals, no
    ``pre_save`` (auto_now): set such fields first."""
    if not objs:
        return
    assert connection.in_atomic_block, "fast_insert needs a transaction"
    if len(objs) <= SMALL:
        _small_insert(model, objs)
        return
    if rows is None:
        pk_attname = model._meta.pk.attname
        if getattr(objs[0], pk_attname) is None:
            for obj, pk in zip(objs, _reserve_ids(model, len(objs)), strict=True):
                setattr(obj, pk_attname, pk)
        rows = insert_rows(model, objs)
    fields = list(model._meta.concrete_fields)
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            pgcopy.copy_rows(cursor, model._meta.db_table, [str(f.column) for f in fields], rows)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({placeholders})", rows)  # noqa: S608


SMALL = 20  # up to this many rows: one INSERT ... RETURNING (a single create's path)


def _small_insert(model: type[models.Model], objs: Sequence[Any]) -> None:
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    converters = [_converter(f) for f in fields]
    params: list[Any] = []
    for obj in objs:
        for f, c in zip(fields, converters, strict=True):
            value = getattr(obj, f.attname)
            params.append(value if c is None else c(value))
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(str(f.column)) for f in fields)
    pk = connection.ops.quote_name(str(model._meta.pk.column))
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({names}) VALUES {', '.join([row] * len(objs))} "  # noqa: S608
                       f"RETURNING {pk}", params)
        ids = [r[0] for r in cursor.fetchall()]
    for obj, new_id in zip(objs, ids, strict=True):
        setattr(obj, model._meta.pk.attname, new_id)
