"""The REST API as an integrator sees it."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from shipdesk.shipments.tests.factories import shipment_data

BASE = "/api/v1/shipments/"


def post(client: Client, path: str, body: Any) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def test_create_returns_money_as_strings(api: Client) -> None:
    response = post(api, BASE, shipment_data(order_number="API-1"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["cod_amount"] == "2500.00" and body["declared_value"] == "2500.00"
    assert body["state"] == "ready" and body["recipient_phone"] == "+79123456789"
    assert body["address_as_given"].startswith("644010")


def test_create_answers_what_a_later_read_shows(api: Client, actor: Any) -> None:
    """The create answers from the rows it stored, not by reading them back: the answer
    must be exactly what the shipment's page in the API shows afterwards."""
    from shipdesk.shipments.models import SenderProfile
    from shipdesk.shipments.tests.factories import number_pool

    SenderProfile.objects.create(organization=actor.organization, name="Склад",
                                 index="101000", city="Москва", is_default=True)
    number_pool(actor)
    created = post(api, BASE, shipment_data(
        order_number="SAME-1", comment="хрупкое", items=[
            {"name": "Книга", "article": "B-1", "quantity": 2, "unit_price": "990.5",
             "weight_g": 300},
            {"name": "Закладка", "quantity": 1, "unit_price": "10"}]))
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["state"] == "numbered" and body["tracking_number"]
    assert body["shipping_cost"] is not None and len(body["items"]) == 2
    assert body == api.get(f"{BASE}{body['id']}").json()


def test_create_bad_input_is_problem_json_pointing_at_fields(api: Client) -> None:
    response = post(api, BASE, shipment_data(weight_g=-1, cod_amount="10.005"))
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    locs = {tuple(e["loc"]) for e in response.json()["errors"]}
    assert locs == {("weight_g",), ("cod_amount",)}


def test_bulk_create_gives_a_result_per_item(api: Client) -> None:
    items = [shipment_data(order_number=f"B-{i}") for i in range(20)]
    items[7]["index"] = "000000"
    response = post(api, BASE + "bulk", {"items": items})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["created"], body["rejected"]) == (19, 1)
    bad = body["results"][7]
    assert not bad["ok"] and bad["errors"][0]["loc"] == ["items", 7, "index"]
    assert all(r["ok"] and r["id"] for i, r in enumerate(body["results"]) if i != 7)


def test_bulk_over_the_limit_is_refused(api: Client) -> None:
    response = post(api, BASE + "bulk", {"items": [{}] * 10_001})
    assert response.status_code == 422


def test_list_filters_and_cursor_pages(api: Client) -> None:
    post(api, BASE + "bulk", {"items": [shipment_data(order_number=f"L-{i}") for i in range(7)]})
    post(api, BASE, shipment_data(order_number="PHONE", recipient_phone="+7 999 000-11-22"))
    seen: list[str] = []
    url = BASE + "?page_size=3"
    while url:
        page = api.get(url).json()
        seen += [r["order_number"] for r in page["results"]]
        url = page["next"]
    assert seen == ["PHONE"] + [f"L-{i}" for i in range(6, -1, -1)]
    assert [r["order_number"] for r in api.get(
        BASE + "?recipient_phone=89990001122").json()["results"]] == ["PHONE"]
    assert [r["order_number"] for r in api.get(BASE + "?order_number=L-3").json()["results"]] == [
        "L-3"]
    assert api.get(BASE + "?state=numbered").json()["results"] == []
    assert len(api.get(BASE + "?state=ready&created_from=2000-01-01").json()["results"]) == 8


def test_get_update_cancel_history(api: Client) -> None:
    created = post(api, BASE, shipment_data(order_number="U-1")).json()
    url = f"{BASE}{created['id']}"
    assert api.get(url).json()["order_number"] == "U-1"
    response = api.patch(url, json.dumps({"weight_g": 1500, "city": "г омск"}),
                         content_type="application/json")
    assert response.status_code == 200, response.content
    assert (response.json()["weight_g"], response.json()["city"]) == (1500, "г. Омск")
    assert post(api, url + "/cancel", {"reason": "клиент передумал"}).json()["state"] == (
        "cancelled")
    history = api.get(url + "/history").json()
    assert [h["to_state"] for h in history] == ["ready", "ready", "cancelled"]
    assert history[-1]["reason"] == "клиент передумал"
    response = api.patch(url, json.dumps({"weight_g": 1}), content_type="application/json")
    assert response.status_code == 409


def test_other_organization_gets_404(api: Client, other_api: Client) -> None:
    created = post(api, BASE, shipment_data()).json()
    url = f"{BASE}{created['id']}"
    assert other_api.get(url).status_code == 404
    assert other_api.get(url + "/history").status_code == 404
    assert post(other_api, url + "/cancel", {}).status_code == 404
    assert other_api.get(BASE).json()["results"] == []


def test_upload_a_file_through_the_api(api: Client, django_capture_on_commit_callbacks: Any
                                       ) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from shipdesk.shipments.tests.test_importing import row, xlsx

    content = xlsx([row(1), row(2, weight=-1)])
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(BASE + "imports", {
            "file": SimpleUploadedFile("orders.xlsx", content), "mode": "valid_rows"})
    assert response.status_code == 202, response.content
    job = api.get(f"{BASE}imports/{response.json()['id']}").json()
    assert (job["status"], job["created_count"], job["rejected_count"]) == ("done", 1, 1)
    assert job["errors"][0]["row"] == 3 and job["errors"][0]["column"] == "H"
    again = api.post(BASE + "imports", {"file": SimpleUploadedFile("same.xlsx", content)})
    assert again.status_code == 200 and again.json()["id"] == job["id"]
    bad = api.post(BASE + "imports", {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04bad")})
    assert bad.status_code == 422 and "повреждён" in bad.json()["detail"]


def test_rated_when_a_sender_is_set(api: Client, actor: Any) -> None:
    from shipdesk.shipments.models import SenderProfile

    SenderProfile.objects.create(organization=actor.organization, name="Склад", index="101000",
                                 city="Москва", is_default=True)
    body = post(api, BASE, shipment_data()).json()
    assert body["sender_id"] and body["shipping_cost"] is not None
    assert body["rate_breakdown"] and all(isinstance(line["amount"], str)
                                          for line in body["rate_breakdown"])


def test_unrated_without_any_sender_says_why(api: Client, actor: Any) -> None:
    body = post(api, BASE, shipment_data()).json()
    assert body["shipping_cost"] is None and body["sender_id"] is None
    assert "нет адреса отправителя" in body["unrated_reason"]
    listed = api.get(BASE).json()["results"][0]
    assert listed["unrated_reason"] == body["unrated_reason"]


def test_default_sender_rates_an_item_naming_none(api: Client, actor: Any) -> None:
    from shipdesk.shipments.models import SenderProfile

    SenderProfile.objects.create(organization=actor.organization, name="Другой", index="190000",
                                 city="Санкт-Петербург")
    default = SenderProfile.objects.create(organization=actor.organization, name="Склад",
                                           index="101000", city="Москва", is_default=True)
    body = post(api, BASE, shipment_data()).json()
    assert body["sender_id"] == default.pk
    assert body["shipping_cost"] is not None and body["unrated_reason"] == ""


def test_unrated_by_the_table_says_why(api: Client, actor: Any) -> None:
    from shipdesk.shipments.models import SenderProfile

    SenderProfile.objects.create(organization=actor.organization, name="Склад", index="101000",
                                 city="Москва", is_default=True)
    body = post(api, BASE, shipment_data(service_code="BANDEROL", weight_g=1000)).json()
    assert body["shipping_cost"] is None, body
    assert body["unrated_reason"].startswith("Вид отправления «Бандероль» не тарифицируется")


@pytest.mark.parametrize("weight_g", [20_500, 50_000])
def test_a_heavy_parcel_within_the_limit_is_priced(api: Client, actor: Any,
                                                    weight_g: int) -> None:
    """The mail type takes parcels up to 50 kg: the shipped table prices all of them,
    a step price for every further 500 g."""
    from shipdesk.shipments.models import SenderProfile

    SenderProfile.objects.create(organization=actor.organization, name="Склад", index="101000",
                                 city="Москва", is_default=True)
    lighter = post(api, BASE, shipment_data(weight_g=weight_g - 500)).json()
    body = post(api, BASE, shipment_data(weight_g=weight_g)).json()
    assert body["unrated_reason"] == "" and body["shipping_cost"] is not None, body
    assert Decimal(body["shipping_cost"]) > Decimal(lighter["shipping_cost"])
    over = post(api, BASE, shipment_data(weight_g=50_001))
    assert over.status_code == 422 and "weight_g" in str(over.json())
