from __future__ import annotations

from ninja import Router, Status
from ninja.pagination import CursorPagination, paginate

from shipdesk.core.apitypes import DbId
from shipdesk.core.typing import ApiRequest
from shipdesk.tenancy import selectors, services
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.schemas import (
    ApiKeyCreatedOut,
    ApiKeyIn,
    ApiKeyOut,
    AuditOut,
    InvitationIn,
    InvitationOut,
    MemberOut,
    MemberRoleIn,
    OrganizationOut,
    OrganizationPatch,
)

router = Router(tags=["organization"])


@router.get("/organization", response=OrganizationOut, summary="Организация")
def organization_get(request: ApiRequest):
    request.auth.require(Perm.VIEW)
    return request.auth.organization


@router.patch("/organization", response=OrganizationOut, summary="Изменить реквизиты")
def organization_patch(request: ApiRequest, payload: OrganizationPatch):
    return services.organization_update(actor=request.auth, **payload.dict(exclude_unset=True))


@router.get("/members", response=list[MemberOut], summary="Участники")
def member_list(request: ApiRequest):
    request.auth.require(Perm.VIEW)
    return [MemberOut(id=m.pk, email=m.user.email, role=m.role)
            for m in selectors.membership_list(actor=request.auth)]


@router.patch("/members/{membership_id}", response=MemberOut, summary="Изменить роль участника")
def member_set_role(request: ApiRequest, membership_id: DbId, payload: MemberRoleIn):
    m = services.membership_set_role(actor=request.auth, membership_id=membership_id,
                                     role=payload.role)
    return MemberOut(id=m.pk, email=m.user.email, role=m.role)


@router.delete("/members/{membership_id}", response={204: None}, summary="Удалить участника")
def member_remove(request: ApiRequest, membership_id: DbId):
    services.membership_remove(actor=request.auth, membership_id=membership_id)
    return Status(204, None)


@router.get("/invitations", response=list[InvitationOut], summary="Приглашения")
def invitation_list(request: ApiRequest):
    request.auth.require(Perm.MANAGE_MEMBERS)
    return selectors.invitation_list(actor=request.auth).order_by("-created_at")


@router.post("/invitations", response={201: InvitationOut}, summary="Пригласить по e-mail")
def invitation_create(request: ApiRequest, payload: InvitationIn):
    """Invites a person by e-mail: the link to accept is sent to them, never returned here."""
    invitation, _token = services.invitation_create(actor=request.auth, email=payload.email,
                                                    role=payload.role)
    return Status(201, invitation)


@router.delete("/invitations/{invitation_id}", response={204: None}, summary="Отозвать приглашение")
def invitation_revoke(request: ApiRequest, invitation_id: DbId):
    services.invitation_revoke(actor=request.auth, invitation_id=invitation_id)
    return Status(204, None)


@router.get("/api-keys", response=list[ApiKeyOut], summary="Ключи API")
def api_key_list(request: ApiRequest):
    request.auth.require(Perm.MANAGE_API_KEYS)
    return selectors.api_key_list(actor=request.auth)


@router.post("/api-keys", response={201: ApiKeyCreatedOut}, summary="Создать ключ API (виден один раз)")
def api_key_create(request: ApiRequest, payload: ApiKeyIn):
    key, plain = services.api_key_create(actor=request.auth, name=payload.name, role=payload.role)
    return Status(201, ApiKeyCreatedOut(key=plain, **ApiKeyOut.from_orm(key).dict()))


@router.delete("/api-keys/{api_key_id}", response=ApiKeyOut, summary="Отозвать ключ API")
def api_key_revoke(request: ApiRequest, api_key_id: DbId):
    return services.api_key_revoke(actor=request.auth, api_key_id=api_key_id)


@router.get("/audit", response=list[AuditOut], summary="Журнал действий")
@paginate(CursorPagination, ordering=("-created_at", "-id"))
def audit_list(request: ApiRequest):
    request.auth.require(Perm.VIEW)
    return selectors.audit_list(actor=request.auth)
