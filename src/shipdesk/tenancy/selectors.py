from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from shipdesk.tenancy.models import ApiKey, AuditEntry, Invitation, Membership, Organization
from shipdesk.tenancy.services import Actor


def organizations_of_user(*, user: Any) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user=user).order_by("name")


def membership_list(*, actor: Actor) -> QuerySet[Membership]:
    return Membership.objects.filter(organization=actor.organization).select_related("user")


def invitation_list(*, actor: Actor) -> QuerySet[Invitation]:
    return Invitation.objects.filter(organization=actor.organization, accepted_at__isnull=True)


def api_key_list(*, actor: Actor) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organization=actor.organization).order_by("-created_at")


def audit_list(*, actor: Actor) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(organization=actor.organization).select_related(
        "user", "api_key").order_by("-created_at")


def organization_overview() -> QuerySet[Organization]:
    """Every organization of the installation with its members' count (staff only)."""
    from django.db.models import Count

    return Organization.objects.annotate(members=Count("memberships")).order_by("-pk")
