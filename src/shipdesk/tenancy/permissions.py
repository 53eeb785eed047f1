"""Roles and what each may do. Services check these; the API and UI only reflect them."""

from __future__ import annotations

import enum

from shipdesk.tenancy.models import Role


class Perm(enum.StrEnum):
    VIEW = "view"
    MANAGE_SHIPMENTS = "manage_shipments"  # create, edit, cancel, import, batches, documents
    MANAGE_FINANCE = "manage_finance"
    MANAGE_SETTINGS = "manage_settings"  # carrier accounts, templates, channels, org details
    MANAGE_MEMBERS = "manage_members"
    MANAGE_API_KEYS = "manage_api_keys"
    # secrets shown on pages and in the API: webhook addresses with their tokens, gateway
    # callback addresses, non-secret credentials (logins) too — owners only
    VIEW_SECRETS = "view_secrets"


ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.OPERATOR: frozenset({Perm.VIEW, Perm.MANAGE_SHIPMENTS}),
    Role.ACCOUNTANT: frozenset({Perm.VIEW, Perm.MANAGE_FINANCE}),
    Role.VIEWER: frozenset({Perm.VIEW}),
}
