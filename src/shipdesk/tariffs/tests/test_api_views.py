from __future__ import annotations

from decimal import Decimal
from typing import Any

from shipdesk.carriers.models import CarrierAccount

BODY = {"from_index": "109440", "to_index": "644015", "weight_g": 1000, "fragile": True}


def _rp_account(org: Any) -> None:
    CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                  name="Почта России", base_url="http://127.0.0.1:9",
                                  settings={"rate_by_table": True})


def test_rate_endpoint_returns_offers_with_breakdown(api: Any, org: Any) -> None:
    _rp_account(org)
    response = api.post("/api/v1/tariffs/rate", {**BODY, "service_code": "POSTAL_PARCEL"},
                        content_type="application/json")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["rule"] == "cheapest"
    [offer] = data["offers"]
    assert offer["chosen"] is True
    assert offer["total"] == "452.81"
    assert offer["vat"] == "75.47"
    assert [(line["name"], line["amount"]) for line in offer["lines"]] == [
        ("Пересылка", "306.58"), ("Осторожно / хрупкое", "70.76"), ("НДС 20 %", "75.47")]
    assert sum(Decimal(line["amount"]) for line in offer["lines"]) == Decimal(offer["total"])


def test_bad_index_is_a_422_on_the_field(api: Any) -> None:
    response = api.post("/api/v1/tariffs/rate", {**BODY, "to_index": "6440"},
                        content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["to_index"]


def test_cod_with_three_decimals_is_refused(api: Any) -> None:
    response = api.post("/api/v1/tariffs/rate", {**BODY, "cod_amount": "10.005"},
                        content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["cod_amount"]


def test_rule_endpoints(api: Any) -> None:
    assert api.get("/api/v1/tariffs/rule").json() == {"prefer": "cheapest"}
    put = api.put("/api/v1/tariffs/rule", {"prefer": "fastest"}, content_type="application/json")
    assert put.json() == {"prefer": "fastest"}
    bad = api.put("/api/v1/tariffs/rule", {"prefer": "x"}, content_type="application/json")
    assert bad.status_code == 422


def test_other_organization_does_not_see_my_accounts(api: Any, other_api: Any, org: Any) -> None:
    _rp_account(org)
    response = other_api.post("/api/v1/tariffs/rate", BODY, content_type="application/json")
    assert response.json()["offers"] == []


def test_comparison_page(web: Any, org: Any) -> None:
    _rp_account(org)
    page = web.get("/tariffs/", {**BODY, "fragile": "1"}).content.decode()
    assert "452,81" in page or "452.81" in page
    assert "★" in page
    assert "Осторожно / хрупкое" in page
    assert 'href="/tariffs/"' in page


def test_comparison_page_points_at_the_bad_field(web: Any) -> None:
    page = web.get("/tariffs/", {**BODY, "weight_g": "-5"}).content.decode()
    assert 'data-field="weight_g"' in page
    assert "Вес" in page


def test_rule_form(web: Any, org: Any) -> None:
    from shipdesk.tariffs.services import rating_rule_get

    assert web.post("/tariffs/rule/", {"prefer": "fastest"}).status_code == 302
    assert rating_rule_get(organization=org) == "fastest"


def test_tables_in_force_and_the_next_one(api: Any) -> None:
    import copy
    import json

    from shipdesk.tariffs.services import DATA_DIR, tariff_table_load

    data = copy.deepcopy(json.loads((DATA_DIR / "russian_post.json").read_text("utf-8")))
    data["effective_from"] = "2099-01-01"
    tariff_table_load(data=data)
    rows = {t["carrier_code"]: t for t in api.get("/api/v1/tariffs/tables").json()}
    assert rows["russian_post"]["effective_from"] == "2026-01-01"
    assert rows["russian_post"]["next_effective_from"] == "2099-01-01"
    assert "POSTAL_PARCEL" in rows["russian_post"]["services"]
    assert rows["sandbox"]["version"] == "sandbox@2026-01-01"


def test_admin_pages_open(db: Any, client: Any, django_user_model: Any) -> None:
    admin = django_user_model.objects.create_superuser(
        username="root", email="root@example.test", password="Root-Pass-2026")
    client.force_login(admin)
    for url in ("/admin/tariffs/tarifftable/", "/admin/tariffs/ratingrule/",
                "/admin/numbering/numberpool/"):
        assert client.get(url).status_code == 200, url
