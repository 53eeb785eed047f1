from __future__ import annotations

from datetime import datetime

from ninja import Schema

from shipdesk.core.apitypes import Omitted, refuse_null


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

    name: str | Omitted = None
    legal_name: str | Omitted = None
    inn: str | Omitted = None
    kpp: str | Omitted = None
    ogrn: str | Omitted = None
    legal_address: str | Omitted = None
    postal_address: str | Omitted = None
    phone: str | Omitted = None
    email: str | Omitted = None
    bank_name: str | Omitted = None
    bik: str | Omitted = None
    bank_account: str | Omitted = None
    correspondent_account: str | Omitted = None
    timezone: str | Omitted = None

    _no_null = refuse_null("*")


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
