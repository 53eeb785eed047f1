from __future__ import annotations

from django.http import HttpRequest
from ninja import Router
from ninja.pagination import CursorPagination, paginate

from shipdesk.tenancy import selectors, services
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    AuditOut,
    MemberOut,
    OrganizationOut,
    OrganizationPatch,
)

router = Router(tags=["organization"])


@router.get("/organization", response=OrganizationOut)
def organization_get(request: HttpRequest):
    request.auth.require(Perm.VIEW)
    return request.auth.organization


@router.patch("/organization", response=OrganizationOut)
def organization_patch(request: HttpRequest, payload: OrganizationPatch):
    return services.organization_update(actor=request.auth, **payload.dict(exclude_unset=True))


@router.get("/members", response=list[MemberOut])
def member_list(request: HttpRequest):
    request.auth.require(Perm.VIEW)
    return [MemberOut(id=m.pk, email=m.user.email, role=m.role)
            for m in selectors.membership_list(actor=request.auth)]


@router.get("/api-keys", response=list[ApiKeyOut])
def api_key_list(request: HttpRequest):
    request.auth.require(Perm.MANAGE_API_KEYS)
    return selectors.api_key_list(actor=request.auth)


@router.post("/api-keys", response={201: ApiKeyCreatedOut})
def api_key_create(request: HttpRequest, payload: ApiKeyIn):
    key, plain = services.api_key_create(actor=request.auth, name=payload.name, role=payload.role)
    return 201, ApiKeyCreatedOut(key=plain, **ApiKeyOut.from_orm(key).dict())


@router.delete("/api-keys/{api_key_id}", response=ApiKeyOut)
def api_key_revoke(request: HttpRequest, api_key_id: int):
    return services.api_key_revoke(actor=request.auth, api_key_id=api_key_id)


@router.get("/audit", response=list[AuditOut])
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def audit_list(request: HttpRequest):
    request.auth.require(Perm.VIEW)
    return selectors.audit_list(actor=request.auth)
