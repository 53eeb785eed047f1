from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from ninja import Schema
from pydantic import field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError

# a string field of a PATCH body: may be left out, never null (the schema says so too)
Text = str | SkipJsonSchema[None]


class OrganizationOut(Schema):
    id: int
    name: str
    legal_name: str
    inn: str
    kpp: str
    ogrn: str
    legal_address: str
    postal_address: str
    phone: str
    email: str
    bank_name: str
    bik: str
    bank_account: str
    correspondent_account: str
    timezone: str


class OrganizationPatch(Schema):
    """Only the fields sent change. None of them takes null: send "" to clear one."""

    name: Text = None
    legal_name: Text = None
    inn: Text = None
    kpp: Text = None
    ogrn: Text = None
    legal_address: Text = None
    postal_address: Text = None
    phone: Text = None
    email: Text = None
    bank_name: Text = None
    bik: Text = None
    bank_account: Text = None
    correspondent_account: Text = None
    timezone: Text = None

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError(
                "not_null", str(_("Поле не может быть null; чтобы очистить его, передайте пустую строку")))
        return value


class MemberOut(Schema):
    id: int
    email: str
    role: str


class ApiKeyIn(Schema):
    name: str
    role: str = "operator"


class ApiKeyOut(Schema):
    id: int
    name: str
    prefix: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreatedOut(ApiKeyOut):
    key: str


class AuditOut(Schema):
    id: int
    action: str
    object_type: str
    object_id: str
    data: dict
    created_at: datetime


class MemberRoleIn(Schema):
    role: str


class InvitationIn(Schema):
    email: str
    role: str = "operator"


class InvitationOut(Schema):
    id: int
    email: str
    role: str
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
