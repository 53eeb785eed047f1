"""Carrier accounts and their exchange log (read side), always scoped to the organization."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from shipdesk.carriers import names, registry
from shipdesk.carriers.base import Capability
from shipdesk.carriers.models import CarrierAccount, CarrierExchange
from shipdesk.core.errors import NotFound
from shipdesk.tenancy.services import Actor


def carrier_account_list(*, actor: Actor) -> QuerySet[CarrierAccount]:
    return CarrierAccount.objects.filter(organization=actor.organization).order_by("name", "id")


def carrier_account_get(*, actor: Actor, account_id: int) -> CarrierAccount:
    account = carrier_account_list(actor=actor).filter(pk=account_id).first()
    if account is None:
        raise NotFound(_("Договор с перевозчиком не найден"))
    return account


def carrier_account_public(account: CarrierAccount) -> dict[str, Any]:
    """What may be shown of an account: secrets never, only which credentials are set."""
    try:
        cls = registry.adapter_class(account.carrier_code)
        fields = cls.credential_fields
        carrier_name = names.carrier_name(account.carrier_code)
        capabilities = sorted(c.value for c in cls.capabilities)
    except registry.UnknownCarrier:
        fields, carrier_name, capabilities = (), account.carrier_code, []
    stored: dict[str, Any] = account.credentials or {}  # type: ignore[assignment]
    shown = {
        name: (("" if secret else str(stored.get(name, ""))) if stored.get(name) else "")
        for name, _label, secret in fields
    }
    return {
        "id": account.pk,
        "carrier_code": account.carrier_code,
        "carrier_name": str(carrier_name),
        "name": account.name,
        "base_url": account.base_url,
        "is_sandbox": account.is_sandbox,
        "is_active": account.is_active,
        "settings": account.settings or {},
        "credentials_set": sorted(k for k, v in stored.items() if v),
        "credentials_shown": shown,
        "capabilities": capabilities,
        "last_checked_at": account.last_checked_at,
        "last_check_error": account.last_check_error,
    }


def carrier_choices() -> list[dict[str, Any]]:
    out = []
    for code in registry.all_codes():
        cls = registry.adapter_class(code)
        out.append(
            {
                "code": code,
                "name": names.carrier_name(code),
                "default_base_url": cls.default_base_url,
                "credential_fields": [
                    {"name": n, "label": names.credential_label(label), "secret": s,
                     "required": n not in cls.optional_credentials}
                    for n, label, s in cls.credential_fields
                ],
                "capabilities": sorted(c.value for c in cls.capabilities),
            }
        )
    return out


def carrier_exchange_list(
    *, actor: Actor, account_id: int | None = None, shipment_id: int | None = None, limit: int = 100
) -> QuerySet[CarrierExchange]:
    qs = CarrierExchange.objects.filter(organization=actor.organization).select_related("account")
    if account_id is not None:
        qs = qs.filter(account_id=account_id)
    if shipment_id is not None:
        qs = qs.filter(shipment_id=shipment_id)
    return qs.order_by("-created_at", "-id")[:limit]


def carrier_exchange_get(*, actor: Actor, exchange_id: int) -> CarrierExchange:
    row = CarrierExchange.objects.filter(organization=actor.organization, pk=exchange_id).first()
    if row is None:
        raise NotFound(_("Запись не найдена"))
    return row


@dataclass(frozen=True)
class AccountChoice:
    """An active account as the shipments' intake sees it (no secrets)."""

    id: int
    name: str
    carrier_code: str
    is_sandbox: bool
    registers: bool  # the carrier creates parcels through its API (registration applies)


def active_accounts(*, organization_id: int) -> list[AccountChoice]:
    """The organization's active carrier accounts, real ones before sandboxes, oldest first
    (so the first of a carrier is the one its code alone means)."""
    out = []
    for account in (CarrierAccount.objects.filter(organization_id=organization_id, is_active=True)
                    .order_by("is_sandbox", "created_at", "id")):
        try:
            capabilities = registry.adapter_class(account.carrier_code).capabilities
        except registry.UnknownCarrier:
            continue
        out.append(AccountChoice(id=account.pk, name=account.name,
                                 carrier_code=account.carrier_code, is_sandbox=account.is_sandbox,
                                 registers=Capability.CREATE in capabilities))
    return out
