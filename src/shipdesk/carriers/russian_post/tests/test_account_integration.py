"""The adapter as the core uses it: a carrier account (encrypted credentials), the registry and the
resilient HTTP client of ``carriers.http`` (retries, exchange log), against the emulator."""

from __future__ import annotations

from typing import Any

import pytest

from shipdesk.carriers import registry
from shipdesk.carriers import services as carriers
from shipdesk.carriers.base import AuthenticationFailed, CarrierError
from shipdesk.carriers.models import CarrierExchange
from shipdesk.carriers.russian_post.emulator import SANDBOX_CREDENTIALS, EmulatorServer
from shipdesk.carriers.russian_post.tests.conftest import Admin, parcel

pytestmark = pytest.mark.django_db


def account(actor: Any, url: str, **credentials: str) -> Any:
    return carriers.carrier_account_create(
        actor=actor,
        carrier_code="russian_post",
        name="Почта России",
        base_url=url,
        credentials={**SANDBOX_CREDENTIALS, **credentials},
        settings={"index_from": "101000"},
    )


def test_registry_finds_the_russian_post_adapter() -> None:
    assert registry.adapter_class("russian_post").name == "Почта России"
    assert registry.emulator_module("russian_post").DEFAULT_PORT == 18100


def test_test_connection_from_an_account(actor: Any, server: EmulatorServer) -> None:
    good = account(actor, server.url)
    assert carriers.carrier_account_test(actor=actor, account_id=good.pk).ok
    bad = account(actor, server.url, token="revoked")
    check = carriers.carrier_account_test(actor=actor, account_id=bad.pk)
    assert not check.ok
    assert "токен" in check.message


def test_exchanges_are_logged_without_secrets(actor: Any, server: EmulatorServer) -> None:
    acc = account(actor, server.url, token="very-secret-token-1")
    with pytest.raises(AuthenticationFailed):  # refused (the emulator knows another token), but logged
        registry.adapter_for_account(acc).test_connection()
    exchange = CarrierExchange.objects.filter(account=acc).latest("created_at")
    assert exchange.status == 401
    logged = str(exchange.request_headers) + exchange.request_body
    assert "very-secret-token-1" not in logged


def test_reads_are_retried_but_order_creation_is_not(
    actor: Any, server: EmulatorServer, admin: Admin
) -> None:
    adapter = registry.adapter_for_account(account(actor, server.url))
    admin.fault(mode="status", status=503, count=1)
    adapter.test_connection()  # GET: the client retried past the 503
    admin.fault(mode="status", status=503, count=1)
    with pytest.raises(CarrierError) as err:
        adapter.create_parcels([parcel("R-1")])  # PUT backlog creates orders: never repeated
    assert err.value.status == 503
    assert adapter.create_parcels([parcel("R-1")]).created
