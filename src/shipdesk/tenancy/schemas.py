from __future__ import annotations

from datetime import datetime

from ninja import Schema


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
    name: str | None = None
    legal_name: str | None = None
    inn: str | None = None
    kpp: str | None = None
    ogrn: str | None = None
    legal_address: str | None = None
    postal_address: str | None = None
    phone: str | None = None
    email: str | None = None
    bank_name: str | None = None
    bik: str | None = None
    bank_account: str | None = None
    correspondent_account: str | None = None
    timezone: str | None = None


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
