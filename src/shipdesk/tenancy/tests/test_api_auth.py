import json

import pytest
from django.test import Client

from shipdesk.tenancy import services
from shipdesk.tenancy.models import ApiKey

pytestmark = pytest.mark.django_db


def test_api_key_reads_its_own_organization(api, org):
    response = api.get("/api/v1/organization")
    assert response.status_code == 200
    assert response.json()["name"] == org.name


def test_wrong_api_key_gets_problem_json():
    response = Client(headers={"X-API-Key": "sd_wrong"}).get("/api/v1/organization")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 401 and body["type"].endswith("unauthenticated")


def test_revoked_key_is_refused(actor):
    key, plain = services.api_key_create(actor=actor, name="temp")
    services.api_key_revoke(actor=actor, api_key_id=key.pk)
    assert Client(headers={"X-API-Key": plain}).get("/api/v1/organization").status_code == 401


def test_key_is_stored_hashed_and_shown_once(api):
    response = api.post("/api/v1/api-keys", data={"name": "1C"}, content_type="application/json")
    assert response.status_code == 201
    plain = response.json()["key"]
    assert not ApiKey.objects.filter(key_hash=plain).exists()
    listed = api.get("/api/v1/api-keys").json()
    assert all("key" not in item for item in listed)


def test_malformed_json_is_a_clear_problem(api):
    response = api.patch("/api/v1/organization", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response["Content-Type"] == "application/problem+json"


def test_invalid_inn_points_at_the_field(api):
    response = api.patch("/api/v1/organization", data={"inn": "1234567890"},
                         content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["inn"]


def test_english_errors_on_request(api, settings):
    response = api.patch("/api/v1/organization", data={"inn": "1"},
                         content_type="application/json", headers={"Accept-Language": "en"})
    assert response.status_code == 422


def test_idempotent_post_replays_and_conflicts(api):
    headers = {"Idempotency-Key": "k-1"}
    first = api.post("/api/v1/api-keys", data={"name": "A"}, content_type="application/json",
                     headers=headers)
    again = api.post("/api/v1/api-keys", data={"name": "A"}, content_type="application/json",
                     headers=headers)
    assert first.status_code == again.status_code == 201
    assert json.loads(first.content) == json.loads(again.content)
    assert again["Idempotent-Replayed"] == "true"
    assert ApiKey.objects.filter(name="A").count() == 1
    other = api.post("/api/v1/api-keys", data={"name": "B"}, content_type="application/json",
                     headers=headers)
    assert other.status_code == 409
    assert other.json()["type"].endswith("idempotency_key_reused")
