"""Carrier accounts through the API, the web pages and the services: secrets never leave,
tenancy holds, test-connection explains, webhooks are authenticated by their URL token."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from shipdesk.carriers import registry, services
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.http import ResilientTransport
from shipdesk.carriers.models import CarrierAccount, CarrierExchange
from shipdesk.carriers.sandbox.emulator import API_KEY, SandboxEmulator
from shipdesk.conftest import actor_with_role
from shipdesk.core.errors import Forbidden, ValidationFailed
from shipdesk.tenancy.models import Role
from shipdesk.tracking.models import RejectedEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def emulator() -> Iterator[Running]:
    running = start(SandboxEmulator())
    yield running
    running.stop()


@pytest.fixture
def account(actor: Any, emulator: Running) -> CarrierAccount:
    return services.carrier_account_create(
        actor=actor,
        carrier_code="sandbox",
        name="Песочница",
        base_url=emulator.url,
        credentials={"api_key": API_KEY},
        settings={"backoff_base": 0.01},
    )


def _post(client: Client, url: str, data: Any) -> Any:
    return client.post(url, data=json.dumps(data), content_type="application/json")


def test_registry_discovers_sandbox_and_builds_resilient_adapter(account: CarrierAccount) -> None:
    assert "sandbox" in registry.all_codes()
    adapter = registry.adapter_for_account(account)
    assert isinstance(adapter.http._transport, ResilientTransport)
    assert adapter.credentials == {"api_key": API_KEY}


def test_api_create_never_returns_the_secret(api: Client, emulator: Running) -> None:
    response = _post(
        api,
        "/api/v1/carriers/accounts",
        {
            "carrier_code": "sandbox",
            "name": "Мой договор",
            "base_url": emulator.url,
            "credentials": {"api_key": API_KEY},
        },
    )
    assert response.status_code == 201, response.content
    assert API_KEY not in response.content.decode()
    assert response.json()["credentials_set"] == ["api_key"]
    listing = api.get("/api/v1/carriers/accounts")
    assert API_KEY not in listing.content.decode() and len(listing.json()) == 1


def test_credentials_are_encrypted_at_rest(account: CarrierAccount) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM carriers_carrieraccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert API_KEY not in stored


def test_missing_credential_points_at_the_field(api: Client) -> None:
    response = _post(
        api, "/api/v1/carriers/accounts", {"carrier_code": "sandbox", "name": "x", "credentials": {}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["credentials", "api_key"]


def test_unknown_carrier_is_a_validation_error(api: Client) -> None:
    response = _post(
        api, "/api/v1/carriers/accounts", {"carrier_code": "nope", "name": "x", "credentials": {}}
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["carrier_code"]


@pytest.fixture
def other_owner_api(other_org: Any) -> Client:
    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Membership

    owner = Membership.objects.get(organization=other_org, role=Role.OWNER).user
    _key, plain = tenancy.api_key_create(
        actor=tenancy.Actor(organization=other_org, role=Role.OWNER, user=owner),
        name="other owner",
        role=Role.OWNER,
    )
    return Client(headers={"X-API-Key": plain})


def test_other_organization_gets_404(other_owner_api: Client, account: CarrierAccount) -> None:
    other_api = other_owner_api
    assert other_api.get(f"/api/v1/carriers/accounts/{account.pk}").status_code == 404
    assert _post(other_api, f"/api/v1/carriers/accounts/{account.pk}/test", {}).status_code == 404
    assert other_api.delete(f"/api/v1/carriers/accounts/{account.pk}").status_code == 404
    assert CarrierAccount.objects.filter(pk=account.pk).exists()


def test_operator_cannot_manage_accounts(org: Any, make_user: Any) -> None:
    operator = actor_with_role(org, Role.OPERATOR, make_user)
    with pytest.raises(Forbidden):
        services.carrier_account_create(
            actor=operator, carrier_code="sandbox", name="x", credentials={"api_key": "k"}
        )


def test_connection_test_ok_and_bad_token(api: Client, actor: Any, account: CarrierAccount) -> None:
    ok = _post(api, f"/api/v1/carriers/accounts/{account.pk}/test", {}).json()
    assert ok["ok"] is True
    services.carrier_account_update(actor=actor, account_id=account.pk, credentials={"api_key": "wrong-key"})
    bad = _post(api, f"/api/v1/carriers/accounts/{account.pk}/test", {}).json()
    assert bad["ok"] is False and bad["code"] == "bad_token"
    assert "учётные данные" in bad["message"]
    account.refresh_from_db()
    assert account.last_check_error == bad["message"]


def test_connection_test_reports_carrier_down(actor: Any, account: CarrierAccount, emulator: Running) -> None:
    emulator.stop()
    check = services.carrier_account_test(actor=actor, account_id=account.pk)
    assert not check.ok and "недоступен" in check.message


def test_update_keeps_secret_when_left_empty(actor: Any, account: CarrierAccount) -> None:
    services.carrier_account_update(
        actor=actor, account_id=account.pk, name="Новое", credentials={"api_key": ""}
    )
    account.refresh_from_db()
    assert account.name == "Новое" and account.credentials == {"api_key": API_KEY}


def test_bad_settings_are_rejected(actor: Any, account: CarrierAccount) -> None:
    with pytest.raises(ValidationFailed) as caught:
        services.carrier_account_update(actor=actor, account_id=account.pk, settings={"timeout": "abc"})
    assert caught.value.errors[0].loc == ("settings", "timeout")


def test_exchange_log_is_masked_and_scoped(
    api: Client, other_api: Client, actor: Any, account: CarrierAccount
) -> None:
    services.carrier_account_test(actor=actor, account_id=account.pk)
    rows = api.get(f"/api/v1/carriers/exchanges?account_id={account.pk}").json()
    assert rows and rows[0]["status"] == 200 and rows[0]["request_headers"]["authorization"] == "***"
    assert API_KEY not in json.dumps(rows)
    assert other_api.get("/api/v1/carriers/exchanges").json() == []


def test_pickup_points_through_the_api(api: Client, account: CarrierAccount) -> None:
    points = api.get(f"/api/v1/carriers/accounts/{account.pk}/pickup-points?city=Москва").json()
    assert {p["code"] for p in points} == {"SBX-MSK-1", "SBX-MSK-2"}


def test_webhook_with_unknown_token_is_404(client: Client, account: CarrierAccount) -> None:
    response = client.post(
        "/api/v1/carriers/webhooks/not-a-token", data=b"{}", content_type="application/json"
    )
    assert response.status_code == 404


def test_webhook_with_garbage_is_422_not_500(client: Client, account: CarrierAccount) -> None:
    response = client.post(
        f"/api/v1/carriers/webhooks/{account.webhook_token}", data=b"<html>oops", content_type="text/html"
    )
    assert response.status_code == 422
    logged = CarrierExchange.objects.get(account=account, method="HOOK")
    assert logged.status == 422 and "JSON" in logged.error and logged.request_body == "<html>oops"


def test_webhook_events_reach_tracking(client: Client, account: CarrierAccount) -> None:
    body = {
        "events": [
            {
                "tracking_number": "SBX000000999RU",
                "code": "ARRIVED",
                "text": "Прибыла",
                "at": "2026-11-23T10:00:00+00:00",
            }
        ]
    }
    response = client.post(
        f"/api/v1/carriers/webhooks/{account.webhook_token}",
        data=json.dumps(body),
        content_type="application/json",
    )
    assert response.status_code == 200 and response.json() == {"accepted": 1}
    # no such shipment here: the tracking domain keeps the event as rejected, never loses it
    assert RejectedEvent.objects.filter(tracking_number="SBX000000999RU").exists()


def test_emulator_pushes_webhooks_to_the_receiver(
    live_server: Any, actor: Any, account: CarrierAccount, emulator: Running
) -> None:
    url = f"{live_server.url}/api/v1/carriers/webhooks/{account.webhook_token}"
    services.carrier_webhooks_subscribe(actor=actor, account_id=account.pk, url=url)
    adapter = registry.adapter_for_account(account)
    from shipdesk.carriers.tests.helpers import control, parcel

    number = adapter.create_parcels([parcel("W-1", options={"scenario": "delivered"})]).created[0]
    # the sandbox of `make run`, quicker: a step every 20 ms, on the real clock
    control(emulator.url, "clock", step_seconds=0.02)
    time.sleep(0.2)
    control(emulator.url, "clock")  # the emulator pushes what happened since
    # no such shipment here: all five are kept as rejected, none refused as future
    rejected = RejectedEvent.objects.filter(tracking_number=number.tracking_number)
    assert sorted(rejected.values_list("reason", flat=True)) == ["unknown_number"] * 5


def test_sandbox_accounts_connect_is_idempotent(org: Any) -> None:
    first = services.sandbox_accounts_connect(organization=org)
    second = services.sandbox_accounts_connect(organization=org)
    assert [a.pk for a in first] == [a.pk for a in second]
    assert {a.carrier_code for a in first} >= {"sandbox"}
    sandbox = next(a for a in first if a.carrier_code == "sandbox")
    assert sandbox.is_sandbox and sandbox.base_url == "http://127.0.0.1:18200"


def test_each_sandbox_carrier_declares_its_emulator() -> None:
    from django.apps import apps

    declared = {e.name: e for e in apps.get_app_config("carriers").sandbox_emulators()}
    assert declared["sandbox"].usual_port == 18200
    assert {"sandbox", "cdek", "pickpoint", "russian_post"} <= set(declared)


def test_emulate_command_lists_carriers(capsys: Any) -> None:
    call_command("emulate", "--list")
    assert "sandbox\t18200" in capsys.readouterr().out


# --- web pages --------------------------------------------------------------------------


def test_web_list_and_create(web: Client, emulator: Running) -> None:
    page = web.get("/carriers/")
    assert page.status_code == 200 and "Песочница Shipdesk" in page.content.decode()
    form = web.get("/carriers/new/sandbox/")
    assert 'type="password"' in form.content.decode()
    bad = web.post("/carriers/new/sandbox/", {"name": "Тест", "base_url": emulator.url, "cred_api_key": ""})
    assert bad.status_code == 422
    made = web.post(
        "/carriers/new/sandbox/", {"name": "Тест", "base_url": emulator.url, "cred_api_key": API_KEY}
    )
    assert made.status_code == 302
    account = CarrierAccount.objects.get(name="Тест")
    detail = web.get(f"/carriers/{account.pk}/").content.decode()
    assert API_KEY not in detail and account.webhook_token in detail


def test_web_test_button_with_htmx(web: Client, account: CarrierAccount) -> None:
    response = web.post(f"/carriers/{account.pk}/test/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Соединение работает" in response.content.decode()
    log = web.get(f"/carriers/exchanges/?account={account.pk}").content.decode()
    assert "/api/v1/ping" in log
    row = CarrierExchange.objects.filter(account=account).first()
    assert row is not None
    detail = web.get(f"/carriers/exchanges/{row.pk}/").content.decode()
    assert API_KEY not in detail and "***" in detail


def test_web_other_org_account_is_404(web: Client, other_org: Any, make_user: Any) -> None:
    other = CarrierAccount.objects.create(
        organization=other_org,
        carrier_code="sandbox",
        name="чужой",
        base_url="http://127.0.0.1:1",
        credentials={"api_key": "x"},
    )
    assert web.get(f"/carriers/{other.pk}/").status_code == 404
    assert web.post(f"/carriers/{other.pk}/delete/").status_code == 404


def test_optional_credentials_may_be_left_empty_but_required_ones_may_not(actor: Any) -> None:
    base = {"token": "t-1", "login": "shop@example.test", "password": "p"}
    plain = services.carrier_account_create(actor=actor, carrier_code="russian_post",
                                            name="Почта", credentials=base)
    assert "tracking_login" not in CarrierAccount.objects.get(pk=plain.pk).credentials
    with_tracking = services.carrier_account_create(
        actor=actor, carrier_code="russian_post", name="Почта 2",
        credentials={**base, "tracking_login": "track", "tracking_password": "tp"})
    stored = CarrierAccount.objects.get(pk=with_tracking.pk).credentials
    assert (stored["tracking_login"], stored["tracking_password"]) == ("track", "tp")
    with pytest.raises(ValidationFailed) as refused:
        services.carrier_account_create(actor=actor, carrier_code="russian_post", name="Без токена",
                                        credentials={"login": "x", "password": "p"})
    assert [e.loc for e in refused.value.errors] == [("credentials", "token")]


def test_numbers_from_the_sandbox_become_a_pool(actor: Any, account: CarrierAccount) -> None:
    from shipdesk.numbering import services as numbering

    [pool] = numbering.pools_request_from_carrier(actor=actor, carrier_account_id=account.pk,
                                                  count=50)
    assert (pool.kind, pool.prefix, pool.serial_last - pool.serial_first + 1) == ("rp14",
                                                                                  "99999901", 50)
    issued = numbering.numbers_issue(organization=account.organization, carrier_code="sandbox",
                                     count=2)
    assert issued[0].startswith("99999901") and len(issued[0]) == 14


def test_adapters_of_one_account_share_a_client_until_the_account_changes(
        account: CarrierAccount) -> None:
    first = registry.adapter_for_account(account)
    with registry.adapter_for_account(account) as second:
        assert second.http is first.http
    assert not first.http.is_closed  # a pooled client outlives the adapter
    account.name = "Песочница 2"
    account.save()
    third = registry.adapter_for_account(account)
    assert third.http is not first.http and first.http.is_closed
