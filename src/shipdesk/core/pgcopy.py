"""PostgreSQL's binary COPY for the bulk paths (spreadsheet intake, tracking ingest): C
dumpers for every value, about three times cheaper than COPY's text format."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import postgres

_JSONB, _BYTEA = postgres.types["jsonb"].oid, postgres.types["bytea"].oid
# (table whose columns give the types, columns) -> the type of each column
_TYPES: dict[tuple[str, tuple[str, ...]], list[int]] = {}


def copy_rows(cursor: Any, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]],
              *, shaped_like: str = "") -> None:
    """Binary COPY of ``rows`` into ``table`` (or a temporary table ``shaped_like`` a real
    one) through a Django cursor. The column types are read once per table. A ``jsonb``
    column takes its binary form ready made (:func:`jsonb`), which the C bytes dumper writes
    as it is: the wire carries no type per field."""
    source = shaped_like or table
    key = (source, tuple(columns))
    oids = _TYPES.get(key)
    if oids is None:
        cursor.execute("SELECT attname, atttypid FROM pg_attribute "
                       "WHERE attrelid = %s::regclass AND attnum > 0", [source])
        by_name = dict(cursor.fetchall())
        oids = _TYPES[key] = [_BYTEA if by_name[c] == _JSONB else by_name[c] for c in columns]
    names = ", ".join(f'"{c}"' for c in columns)
    with cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN (FORMAT BINARY)') as copy:
        copy.set_types(oids)
        for row in rows:
            copy.write_row(row)


def jsonb(text: str) -> bytes:
    """Binary ``jsonb`` of JSON text: the format's version byte, then the text."""
    return b"\x01" + text.encode()
