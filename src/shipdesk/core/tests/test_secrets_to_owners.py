"""Secrets are shown to owners only: carrier webhook addresses with their tokens, carrier
logins, gateways' callback addresses, the shop's own webhook addresses (which often carry a
token of theirs) — on pages and in the API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.test import Client

from shipdesk.carriers import services as carriers
from shipdesk.conftest import actor_with_role
from shipdesk.notifications import services as notifications
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Role
from shipdesk.tracking import services as tracking

pytestmark = pytest.mark.django_db

HOOK = "https://shop.example.test/hooks/shipdesk?token=shop-secret-123"


@pytest.fixture
def secrets_of(actor: tenancy.Actor) -> dict[str, str]:
    account = carriers.carrier_account_create(
        actor=actor, carrier_code="cdek", name="СДЭК", base_url="https://93.184.216.34/v2",
        credentials={"client_id": "login-visible-to-owner", "client_secret": "s3cr3t-value"})
    conf = notifications.channel_config_save(actor=actor, gateway="smsru",
                                             config={"api_id": "A" * 20, "sender": "Shop"})
    tracking.webhook_endpoint_create(actor=actor, url=HOOK)
    return {"account": str(account.pk), "webhook_token": account.webhook_token,
            "callback_token": conf.callback_token, "login": "login-visible-to-owner"}


def _api(owner: tenancy.Actor, role: str) -> Client:
    _key, plain = tenancy.api_key_create(actor=owner, name="k", role=role)
    return Client(headers={"X-API-Key": plain})


def _session(actor: tenancy.Actor) -> Client:
    client = Client()
    client.force_login(actor.user)
    return client


def _seen(client: Client, account_id: str) -> str:
    """What the pages and answers show, as a person reads them (JSON unescaped)."""
    texts = []
    for url in ("/api/v1/carriers/accounts", f"/api/v1/carriers/accounts/{account_id}",
                "/api/v1/tracking/webhooks/", f"/carriers/{account_id}/",
                "/notifications/settings/"):
        response = client.get(url)
        texts.append(json.dumps(response.json(), ensure_ascii=False)
                     if "json" in response.get("Content-Type", "")
                     else response.content.decode())
    return "\n".join(texts)


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ACCOUNTANT, Role.VIEWER])
def test_other_roles_see_no_secret(org: Any, actor: tenancy.Actor, make_user: Any,
                                   secrets_of: dict[str, str], role: str) -> None:
    someone = actor_with_role(org, role, make_user)
    for client in (_api(actor, role), _session(someone)):
        seen = _seen(client, secrets_of["account"])
        assert "СДЭК" in seen  # the pages and answers are there
        for name in ("webhook_token", "callback_token", "login"):
            assert secrets_of[name] not in seen, name
        assert "shop-secret-123" not in seen
        assert "https://shop.example.test/…" in seen
        assert "s3cr3t-value" not in seen


def test_owners_see_them(actor: tenancy.Actor, secrets_of: dict[str, str]) -> None:
    api, page = _api(actor, Role.OWNER), _session(actor)
    seen = _seen(api, secrets_of["account"]) + _seen(page, secrets_of["account"])
    for name in ("webhook_token", "callback_token", "login"):
        assert secrets_of[name] in seen, name
    assert HOOK.replace("&", "&amp;") in seen or HOOK in seen


def test_a_webhook_token_sent_to_the_carrier_is_masked_in_the_exchange_log(
        actor: tenancy.Actor) -> None:
    from shipdesk.carriers.http import client_for_account
    from shipdesk.carriers.models import CarrierAccount, CarrierExchange

    account = carriers.carrier_account_create(
        actor=actor, carrier_code="cdek", name="СДЭК", base_url="https://93.184.216.34/v2",
        credentials={"client_id": "id", "client_secret": "secret"})
    account = CarrierAccount.objects.get(pk=account.pk)
    transport = client_for_account(account)._transport
    request = httpx.Request(
        "POST", "https://93.184.216.34/v2/webhooks",
        json={"type": "ORDER_STATUS", "url": f"https://ship.example/api/v1/carriers/webhooks/"
                                             f"{account.webhook_token}"})
    response = httpx.Response(200, content=b"{}", request=request)
    transport._log(request, response, b"{}", 0.0, 1)
    logged = CarrierExchange.objects.get(account=account)
    assert account.webhook_token not in logged.request_body
    assert "***" in logged.request_body
