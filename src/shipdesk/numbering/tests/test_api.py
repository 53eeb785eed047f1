from __future__ import annotations

from typing import Any

from shipdesk.numbering.validation import rp14_compose, validate_tracking_number

FIRST = rp14_compose("800847", "40", 0)
LAST = rp14_compose("800847", "40", 99)


def _create(api: Any, **extra: Any) -> Any:
    body = {"carrier_code": "russian_post", "first_number": FIRST, "last_number": LAST,
            "low_threshold": 10, **extra}
    return api.post("/api/v1/numbering/pools", body, content_type="application/json")


def test_create_list_issue_and_see_remaining(api: Any) -> None:
    created = _create(api)
    assert created.status_code == 201, created.content
    pool = created.json()
    assert (pool["size"], pool["remaining"], pool["kind"]) == (100, 100, "rp14")
    issued = api.post("/api/v1/numbering/issue", {"carrier_code": "russian_post", "count": 91},
                      content_type="application/json")
    assert issued.status_code == 201
    numbers = issued.json()["numbers"]
    assert len(set(numbers)) == 91
    from shipdesk.tenancy.models import AuditEntry

    entry = AuditEntry.objects.get(action="numbering.issued")
    assert entry.data == {"carrier_code": "russian_post", "count": 91, "first": numbers[0],
                          "last": numbers[-1]}
    assert all(validate_tracking_number(n) == n for n in numbers)
    listed = api.get("/api/v1/numbering/pools").json()
    assert listed[0]["remaining"] == 9
    assert listed[0]["is_low"] is True
    assert listed[0]["low_since"] is not None
    low = api.get("/api/v1/numbering/pools?low=true").json()
    assert [p["id"] for p in low] == [pool["id"]]
    assert api.get("/api/v1/numbering/warnings").json() == [
        {"carrier_code": "russian_post", "kind": "rp14", "series": "", "remaining": 9,
         "threshold": 10}]


def test_exhausted_pool_is_a_409_problem(api: Any) -> None:
    _create(api)
    response = api.post("/api/v1/numbering/issue", {"carrier_code": "russian_post", "count": 101},
                        content_type="application/json")
    assert response.status_code == 409
    assert response["Content-Type"].startswith("application/problem+json")
    assert "исчерпан" in response.json()["detail"]


def test_bad_bound_points_at_the_field(api: Any) -> None:
    response = _create(api, first_number="80084740000000")
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["loc"] == ["first_number"]
    assert "контрольная цифра" in error["message"]


def test_validate_endpoint(api: Any) -> None:
    ok = api.get("/api/v1/numbering/validate", {"number": "ee 123 456 785 us"}).json()
    assert ok == {"valid": True, "number": "EE123456785US", "kind": "s10", "carrier_code": "",
                  "error": ""}
    bad = api.get("/api/v1/numbering/validate", {"number": "10944022440322"}).json()
    assert bad["valid"] is False
    assert "должна быть 1" in bad["error"]


def test_validate_endpoint_by_the_carriers_format(api: Any) -> None:
    cdek = api.get("/api/v1/numbering/validate",
                   {"number": "1106000001", "carrier_code": "cdek"}).json()
    assert cdek == {"valid": True, "number": "1106000001", "kind": None, "carrier_code": "cdek",
                    "error": ""}
    as_post = api.get("/api/v1/numbering/validate", {"number": "1106000001"}).json()
    assert as_post["valid"] is False and "14" in as_post["error"]
    wrong = api.get("/api/v1/numbering/validate",
                    {"number": "11060000010001", "carrier_code": "cdek"}).json()
    assert wrong["valid"] is False and "СДЭК" in wrong["error"]


def test_issue_endpoint_gives_s10_numbers_for_international_parcels(api: Any) -> None:
    from shipdesk.numbering.validation import s10_compose

    _create(api)
    created = api.post("/api/v1/numbering/pools", {
        "carrier_code": "russian_post", "first_number": s10_compose("CA", 0, "RU"),
        "last_number": s10_compose("CA", 99, "RU")}, content_type="application/json")
    assert created.status_code == 201, created.content
    issued = api.post("/api/v1/numbering/issue", {
        "carrier_code": "russian_post", "count": 2, "international": True,
        "service_code": "PARCEL_INTERNATIONAL"}, content_type="application/json")
    assert issued.status_code == 201, issued.content
    assert issued.json()["numbers"] == [s10_compose("CA", 0, "RU"), s10_compose("CA", 1, "RU")]
    ems = api.post("/api/v1/numbering/issue", {
        "carrier_code": "russian_post", "count": 1, "international": True,
        "service_code": "EMS_INTERNATIONAL"}, content_type="application/json")
    assert ems.status_code == 409
    assert "Нет пула номеров S10 для международных отправлений" in ems.json()["detail"]
    assert "E…" in ems.json()["detail"]


def test_issue_endpoint_refuses_a_carrier_that_numbers_its_parcels(api: Any) -> None:
    response = api.post("/api/v1/numbering/issue", {"carrier_code": "cdek", "count": 1},
                        content_type="application/json")
    assert response.status_code == 409
    assert response.json()["type"] == "urn:shipdesk:problem:numbers_from_carrier"
    assert "присваивает номер сам" in response.json()["detail"]


def test_other_organization_gets_404_and_cannot_touch(api: Any, other_api: Any) -> None:
    pool_id = _create(api).json()["id"]
    assert other_api.get(f"/api/v1/numbering/pools/{pool_id}").status_code == 404
    # The other key is an operator's: refused before any lookup, so nothing leaks either way.
    assert other_api.patch(f"/api/v1/numbering/pools/{pool_id}", {"is_active": False},
                           content_type="application/json").status_code in (403, 404)
    assert other_api.delete(f"/api/v1/numbering/pools/{pool_id}").status_code in (403, 404)
    assert other_api.get("/api/v1/numbering/pools").json() == []
    assert api.get(f"/api/v1/numbering/pools/{pool_id}").json()["is_active"] is True


def test_patch_and_delete(api: Any) -> None:
    pool_id = _create(api).json()["id"]
    patched = api.patch(f"/api/v1/numbering/pools/{pool_id}", {"low_threshold": 500},
                        content_type="application/json").json()
    assert patched["low_threshold"] == 500
    assert patched["is_low"] is True
    assert api.delete(f"/api/v1/numbering/pools/{pool_id}").status_code == 204
    assert api.get(f"/api/v1/numbering/pools/{pool_id}").status_code == 404


def test_other_owner_cannot_update_or_delete(actor: Any, api: Any, make_org: Any) -> None:
    from shipdesk.core.errors import NotFound
    from shipdesk.numbering import services
    from shipdesk.tenancy.models import Membership, Role
    from shipdesk.tenancy.services import Actor

    pool_id = _create(api).json()["id"]
    stranger_org = make_org("Третий")
    stranger = Actor(organization=stranger_org, role=Role.OWNER,
                     user=Membership.objects.get(organization=stranger_org).user)
    import pytest

    with pytest.raises(NotFound):
        services.pool_update(actor=stranger, pool_id=pool_id, is_active=False)
    with pytest.raises(NotFound):
        services.pool_delete(actor=stranger, pool_id=pool_id)


def test_a_viewer_cannot_issue_numbers(api: Any, org: Any, make_user: Any) -> None:
    from django.test import Client

    from shipdesk.tenancy import services as tenancy
    from shipdesk.tenancy.models import Membership, Role

    _create(api)
    owner = Membership.objects.get(organization=org, role=Role.OWNER).user
    _key, plain = tenancy.api_key_create(
        actor=tenancy.Actor(organization=org, role=Role.OWNER, user=owner), name="ro",
        role=Role.VIEWER)
    viewer = Client(headers={"X-API-Key": plain})
    response = viewer.post("/api/v1/numbering/issue", {"carrier_code": "russian_post", "count": 1},
                           content_type="application/json")
    assert response.status_code == 403
    assert api.get("/api/v1/numbering/pools").json()[0]["issued"] == 0
