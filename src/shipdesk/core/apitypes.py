"""Integer types for the API's inputs, bounded by the columns they end up in.

Every integer a caller sends (a path id, a query filter, a body field) is declared with one
of these, so that an id of 2^63 or -1 is answered 422 by validation at the edge instead of
reaching the database (SQLite: ``OverflowError``; PostgreSQL: ``integer out of range``).
``core/tests/test_api_edge.py`` fails on any integer input of the OpenAPI document left
without both bounds.
"""

from __future__ import annotations

from typing import Annotated, Any

from django.utils.translation import gettext as _
from pydantic import Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1
SMALLINT_MAX = 2**15 - 1

# a primary key (BigAutoField everywhere, settings.DEFAULT_AUTO_FIELD)
DbId = Annotated[int, Field(ge=1, le=BIGINT_MAX)]
# a number the intake checks itself (weights, sizes, money): bounded only to fit a bigint
BoundedInt = Annotated[int, Field(ge=-BIGINT_MAX, le=BIGINT_MAX)]
# a PositiveIntegerField
PositiveInt = Annotated[int, Field(ge=0, le=INTEGER_MAX)]
# a PositiveSmallIntegerField
PositiveSmallInt = Annotated[int, Field(ge=0, le=SMALLINT_MAX)]

# A PATCH field that may be left out but not sent as null: ``name: str | Omitted = None``
# (the document says "string", not nullable) with ``refuse_null("name")`` in the schema.
Omitted = SkipJsonSchema[None]


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError(
            "not_null", str(_("Поле не может быть null; чтобы очистить его, передайте пустую строку")))
    return value


def refuse_null(*fields: str) -> Any:
    """A validator of a PATCH schema answering 422, naming the field, for a null sent where
    the column cannot hold one (``"*"``: every field)."""
    return field_validator(*fields, mode="before")(_refuse_null)
