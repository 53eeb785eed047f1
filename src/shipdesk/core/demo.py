"""Demo data for embedded mode: a demo organization and user, then every app's demo hook.

Any AppConfig may define ``load_demo(self, organization) -> None``. The hooks are called in
``INSTALLED_APPS`` order, each at most once per organization (remembered in the audit log as
``demo.load``), so ``make run`` can be started again and again without doubling the data.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, MutableMapping
from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction

from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import AuditEntry, Membership, Organization, Role

log = logging.getLogger(__name__)

DEMO_EMAIL = "demo@shipdesk.local"
DEMO_ORGANIZATION = "Демо-магазин «Ромашка»"
DEMO_ACTION = "demo.load"

# The pace of the sandbox carriers that ``make run`` starts. Their clocks are the real time
# (events are never in the future); a demo parcel moves because each scripted step of its
# journey comes SHIPDESK_SANDBOX_STEP_SECONDS after the one before (a delivery in a couple of
# minutes), and Russian Post's tracking tickets are answered after
# SHIPDESK_SANDBOX_TICKET_DELAY seconds instead of 15 minutes. Set either in the environment
# to override; an emulator started on its own (``shipdesk emulate``) keeps the real-life pace.
DEMO_PACE = {
    "SHIPDESK_SANDBOX_STEP_SECONDS": "20",
    "SHIPDESK_SANDBOX_TICKET_DELAY": "2.5",
}


@dataclass(frozen=True)
class DemoLogin:
    organization: Organization
    email: str
    password: str


def demo_pace_apply(environ: MutableMapping[str, str]) -> dict[str, str]:
    """Puts the demo pace into ``environ`` where it is not set already (before the sandbox
    accounts are made and the emulators started, so both see it); returns the pace in effect."""
    for name, value in DEMO_PACE.items():
        environ.setdefault(name, value)
    return {name: environ[name] for name in DEMO_PACE}


def demo_webhooks_subscribe(*, organization: Organization, public_url: str,
                            carriers: Collection[str] | None = None) -> dict[str, str]:
    """Asks each sandbox carrier of the organization that can post its events (the sandbox,
    CDEK) to post them to our webhook receiver at ``public_url``, so that a demo parcel's
    steps arrive as they happen instead of at the next poll. ``make run`` calls it once the
    web app answers (a restarted emulator has forgotten the subscriptions). Returns, per
    carrier, "" when subscribed or why not; a carrier without webhooks is left out, and so is
    one not in ``carriers`` when given (a second try after some failed)."""
    from shipdesk.carriers import registry
    from shipdesk.carriers.base import Capability
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.carriers.services import carrier_webhooks_subscribe
    from shipdesk.core.errors import Conflict

    actor = tenancy.system_actor(organization)
    outcome: dict[str, str] = {}
    accounts = CarrierAccount.objects.filter(organization=organization, is_sandbox=True, is_active=True)
    for account in accounts.order_by("pk"):
        if carriers is not None and account.carrier_code not in carriers:
            continue
        try:
            posts = Capability.WEBHOOKS in registry.adapter_class(account.carrier_code).capabilities
        except registry.UnknownCarrier:
            continue
        if not posts:  # Russian Post, PickPoint: polled
            continue
        url = f"{public_url.rstrip('/')}/api/v1/carriers/webhooks/{account.webhook_token}"
        try:
            carrier_webhooks_subscribe(actor=actor, account_id=account.pk, url=url)
        except Conflict as exc:
            outcome[account.carrier_code] = str(exc)
            log.warning("demo: %s webhooks not subscribed: %s", account.carrier_code, exc)
            continue
        outcome[account.carrier_code] = ""
    return outcome


def demo_hooks() -> list[AppConfig]:
    """The app configs that contribute demo data, in INSTALLED_APPS order."""
    return [config for config in apps.get_app_configs() if callable(getattr(config, "load_demo", None))]


def demo_load(*, organization: Organization) -> list[str]:
    """Calls every app's ``load_demo`` hook not yet run for ``organization``; returns their labels."""
    loaded = []
    actor = tenancy.system_actor(organization)
    for config in demo_hooks():
        done = AuditEntry.objects.filter(organization=organization, action=DEMO_ACTION,
                                         data__app=config.label).exists()
        if done:
            continue
        with transaction.atomic():
            config.load_demo(organization)  # type: ignore[attr-defined]
            tenancy.audit(actor, DEMO_ACTION, organization, app=config.label)
        loaded.append(config.label)
    return loaded


def _password_file() -> Any:
    return settings.DATA_DIR / "demo_password"


def demo_login_ensure() -> DemoLogin:
    """The demo user and organization, created on the first run; the password is kept in
    the data folder (readable only by its owner) so that it can be printed on every start."""
    User = get_user_model()
    path = _password_file()
    user = User.objects.filter(username=DEMO_EMAIL).first()
    password = path.read_text().strip() if path.exists() else ""
    if user is None:
        password = password or secrets.token_urlsafe(9)
        user = tenancy.user_create(email=DEMO_EMAIL, password=password, first_name="Демо")
    elif not password or not user.check_password(password):
        password = secrets.token_urlsafe(9)
        user.set_password(password)
        user.save(update_fields=["password"])
    path.write_text(password)
    path.chmod(0o600)
    membership = (Membership.objects.select_related("organization")
                  .filter(user=user, role=Role.OWNER).order_by("pk").first())
    if membership is None:
        organization = tenancy.organization_create(
            owner=user, name=DEMO_ORGANIZATION, legal_name="ООО «Ромашка»", email=DEMO_EMAIL)
    else:
        organization = membership.organization
    return DemoLogin(organization=organization, email=DEMO_EMAIL, password=password)
