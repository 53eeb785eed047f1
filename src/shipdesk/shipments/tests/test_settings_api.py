"""/api/v1/shipments/senders/ and /api/v1/shipments/delivery-rules/ as an integrator uses them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from shipdesk.carriers.models import CarrierAccount
from shipdesk.shipments import delivery_rules, senders, services
from shipdesk.shipments.models import DeliveryRule, SenderProfile
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Role
from shipdesk.tenancy.services import Actor, system_actor

pytestmark = pytest.mark.django_db

SENDERS = "/api/v1/shipments/senders/"
RULES = "/api/v1/shipments/delivery-rules/"
SENDER = {"name": "Склад", "phone": "8 495 123-45-67", "index": "101000", "city": "Москва",
          "street": "ул. Мясницкая", "house": "1"}


def post(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def patch(client: Client, url: str, body: Any) -> Any:
    return client.patch(url, json.dumps(body), content_type="application/json")


def account(org: Any, carrier_code: str = "cdek", name: str = "СДЭК (песочница)") -> CarrierAccount:
    return CarrierAccount.objects.create(organization=org, carrier_code=carrier_code, name=name,
                                         base_url="http://127.0.0.1:9", credentials={})


def test_sender_create_list_get_patch_and_default(api: Client) -> None:
    created = post(api, SENDERS, SENDER)
    assert created.status_code == 201, created.content
    first = created.json()
    assert first["phone"] == "+74951234567" and first["region"] == "Москва"
    assert first["is_default"] is True
    second = post(api, SENDERS, {**SENDER, "name": "Второй склад", "drop_off_point": "101700"})
    assert second.status_code == 201 and second.json()["is_default"] is False
    second_id = second.json()["id"]
    listed = api.get(SENDERS).json()
    assert [(s["name"], s["is_default"]) for s in listed] == [("Склад", True),
                                                               ("Второй склад", False)]
    assert api.get(f"{SENDERS}{second_id}").json()["drop_off_point"] == "101700"
    changed = patch(api, f"{SENDERS}{second_id}", {"house": "2", "phone": "+7 903 111-22-33"})
    assert changed.status_code == 200
    assert (changed.json()["house"], changed.json()["phone"]) == ("2", "+79031112233")
    made_default = post(api, f"{SENDERS}{second_id}/default", {})
    assert made_default.status_code == 200 and made_default.json()["is_default"] is True
    assert [s["name"] for s in api.get(SENDERS).json() if s["is_default"]] == ["Второй склад"]


def test_sender_errors_are_problems_pointing_at_fields(api: Client) -> None:
    answer = post(api, SENDERS, {**SENDER, "index": "1010", "email": "нет"})
    assert answer.status_code == 422
    assert answer["Content-Type"].startswith("application/problem+json")
    errors = {tuple(e["loc"]): e["message"] for e in answer.json()["errors"]}
    assert errors == {("index",): "Индекс «1010»: нужно ровно 6 цифр",
                      ("email",): "«нет» — не адрес e-mail"}
    missing = post(api, SENDERS, {"name": "Склад"})
    assert missing.status_code == 422
    assert {e["loc"][0] for e in missing.json()["errors"]} == {"index", "city"}


def test_sender_delete_and_the_conflict_while_shipments_name_it(api: Client,
                                                                actor: Actor) -> None:
    used = post(api, SENDERS, SENDER).json()["id"]
    spare = post(api, SENDERS, {**SENDER, "name": "Запасной"}).json()["id"]
    services.shipment_create(actor=actor, data=shipment_data(sender_id=used), draft=True)
    refused = api.delete(f"{SENDERS}{used}")
    assert refused.status_code == 409
    assert "удалить его нельзя" in refused.json()["detail"]
    assert api.delete(f"{SENDERS}{spare}").status_code == 204
    assert [s["id"] for s in api.get(SENDERS).json()] == [used]


def test_sender_create_is_idempotent_by_key(api: Client) -> None:
    first = post(api, SENDERS, SENDER, **{"Idempotency-Key": "sender-1"})
    again = post(api, SENDERS, SENDER, **{"Idempotency-Key": "sender-1"})
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert SenderProfile.objects.count() == 1


def test_another_organizations_senders_are_404_and_untouched(api: Client, other_org: Any) -> None:
    alien = senders.sender_create(actor=system_actor(other_org), **{**SENDER, "name": "Чужой"}).pk
    assert api.get(SENDERS).json() == []
    assert api.get(f"{SENDERS}{alien}").status_code == 404
    assert patch(api, f"{SENDERS}{alien}", {"name": "Мой"}).status_code == 404
    assert post(api, f"{SENDERS}{alien}/default", {}).status_code == 404
    assert api.delete(f"{SENDERS}{alien}").status_code == 404
    assert SenderProfile.objects.get(pk=alien).name == "Чужой"


def test_rule_create_list_patch_move_delete(api: Client, org: Any) -> None:
    cdek = account(org)
    post_ = account(org, "russian_post", "Почта России")
    created = post(api, RULES, {"name": "Столицы", "carrier_account_id": cdek.pk,
                                "index_prefixes": "101, 190", "max_weight_g": 2000,
                                "cod": "with", "service_code": "136"})
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["index_prefixes"] == ["101", "190"] and rule["position"] == 1
    assert rule["description"] == ("Индексы 101, 190; вес до 2 кг; с НП → СДЭК (песочница), "
                                   "Посылка склад-склад")
    other = post(api, RULES, {"name": "Остальное", "carrier_account_id": post_.pk,
                              "index_prefixes": ["1", "6"], "service_code": "ONLINE_PARCEL"})
    assert other.status_code == 201
    assert other.json()["description"] == "Индексы 1, 6 → Почта России, Посылка онлайн"
    changed = patch(api, f"{RULES}{rule['id']}", {"max_weight_g": None, "cod": "without"})
    assert changed.status_code == 200
    assert changed.json()["description"] == "Индексы 101, 190; без НП → СДЭК (песочница), Посылка склад-склад"
    moved = post(api, f"{RULES}{other.json()['id']}/move", {"position": 1})
    assert moved.status_code == 200
    assert [(r["position"], r["name"]) for r in moved.json()] == [(1, "Остальное"), (2, "Столицы")]
    assert [r["name"] for r in api.get(RULES).json()] == ["Остальное", "Столицы"]
    assert api.delete(f"{RULES}{other.json()['id']}").status_code == 204
    assert [(r["position"], r["name"]) for r in api.get(RULES).json()] == [(1, "Столицы")]


def test_rule_errors_point_at_fields(api: Client, org: Any) -> None:
    post_ = account(org, "russian_post", "Почта России")
    answer = post(api, RULES, {"name": "x", "carrier_account_id": post_.pk,
                               "index_prefixes": "10a", "min_weight_g": 5, "max_weight_g": 1,
                               "service_code": "136"})
    assert answer.status_code == 422
    locs = [e["loc"] for e in answer.json()["errors"]]
    assert locs == [["index_prefixes"], ["max_weight_g"], ["service_code"]]
    assert answer.json()["errors"][0]["message"] == "«10a» — не начало индекса: от 1 до 6 цифр"
    negative = post(api, RULES, {"name": "x", "carrier_account_id": post_.pk, "max_weight_g": -1})
    assert negative.status_code == 422 and negative.json()["errors"][0]["loc"] == ["max_weight_g"]


def test_another_organizations_rules_and_accounts_are_404(api: Client, org: Any,
                                                          other_org: Any) -> None:
    alien_account = account(other_org)
    alien_id = delivery_rules.delivery_rule_create(
        actor=system_actor(other_org), name="Чужое", carrier_account_id=alien_account.pk).pk
    # an account of another organization is "not found", never "forbidden" or named
    refused = post(api, RULES, {"name": "Моё", "carrier_account_id": alien_account.pk})
    assert refused.status_code == 404
    assert "СДЭК" not in refused.content.decode()
    assert api.get(RULES).json() == []
    assert api.get(f"{RULES}{alien_id}").status_code == 404
    assert patch(api, f"{RULES}{alien_id}", {"name": "Моё"}).status_code == 404
    assert post(api, f"{RULES}{alien_id}/move", {"position": 1}).status_code == 404
    assert api.delete(f"{RULES}{alien_id}").status_code == 404
    assert DeliveryRule.objects.get(pk=alien_id).name == "Чужое"
    mine = post(api, RULES, {"name": "Моё", "carrier_account_id": account(org).pk}).json()
    assert patch(api, f"{RULES}{mine['id']}",
                 {"carrier_account_id": alien_account.pk}).status_code == 404


def test_shipment_routes_still_answer_beside_the_settings_routes(api: Client,
                                                                 actor: Actor) -> None:
    shipment = services.shipment_create(actor=actor, data=shipment_data(), draft=True)
    assert api.get(f"/api/v1/shipments/{shipment.pk}").json()["id"] == shipment.pk
    assert api.get("/api/v1/shipments/").status_code == 200


def test_an_operator_key_reads_but_may_not_change(actor: Actor) -> None:
    _key, plain = tenancy.api_key_create(actor=actor, name="склад", role=Role.OPERATOR)
    operator = Client(headers={"X-API-Key": plain})
    sender = senders.sender_create(actor=actor, **SENDER)
    assert [s["id"] for s in operator.get(SENDERS).json()] == [sender.pk]
    refused = post(operator, SENDERS, {**SENDER, "name": "Ещё"})
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:shipdesk:problem:forbidden"
    assert operator.delete(f"{SENDERS}{sender.pk}").status_code == 403
    assert SenderProfile.objects.count() == 1
