"""Bad input to the API: each answer is a clear problem+json, nothing half-written."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from shipdesk.core.models import IdempotencyRecord
from shipdesk.tenancy.models import ApiKey, AuditEntry, Invitation

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"].startswith("urn:shipdesk:")
    return body


def test_wrong_api_key_is_401_problem():
    body = _problem(Client(headers={"X-API-Key": "sd_not-a-key"}).post(
        "/api/v1/api-keys", {"name": "x"}, content_type="application/json"), 401)
    assert body["type"].endswith(":unauthenticated")
    assert not ApiKey.objects.exists()


def test_expired_session_is_401_problem(owner):
    client = Client()
    client.force_login(owner)
    assert client.get("/api/v1/organization").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    body = _problem(client.get("/api/v1/organization"), 401)
    assert body["type"].endswith(":unauthenticated")


def test_oversized_body_is_413_problem_and_nothing_written(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    payload = json.dumps({"name": "x" * 5000})
    body = _problem(api.post("/api/v1/api-keys", payload, content_type="application/json",
                             headers={"Idempotency-Key": "big-1"}), 413)
    assert body["type"].endswith(":payload_too_large")
    assert ApiKey.objects.count() == 1  # only the fixture's key


def test_malformed_json_is_400_problem_and_nothing_written(api):
    before = AuditEntry.objects.count()
    body = _problem(api.post("/api/v1/invitations", '{"email": "a@b.test", ',
                             content_type="application/json"), 400)
    assert "JSON" in body["title"]
    assert not Invitation.objects.exists() and AuditEntry.objects.count() == before


def test_schema_error_points_at_the_field(api):
    body = _problem(api.post("/api/v1/invitations", {"role": "viewer"},
                             content_type="application/json"), 422)
    assert body["errors"][0]["loc"] == ["email"]


def test_service_error_points_at_the_field(api):
    body = _problem(api.post("/api/v1/invitations", {"email": "not-an-email", "role": "boss"},
                             content_type="application/json"), 422)
    assert {tuple(e["loc"]) for e in body["errors"]} == {("email",), ("role",)}
    assert not Invitation.objects.exists()


def test_replayed_idempotency_key_with_another_body_is_409(api):
    headers = {"Idempotency-Key": "inv-1"}
    first = api.post("/api/v1/invitations", {"email": "a@example.test", "role": "viewer"},
                     content_type="application/json", headers=headers)
    assert first.status_code == 201
    same = api.post("/api/v1/invitations", {"email": "a@example.test", "role": "viewer"},
                    content_type="application/json", headers=headers)
    assert same.status_code == 201 and same["Idempotent-Replayed"] == "true"
    assert same.json() == first.json()
    body = _problem(api.post("/api/v1/invitations", {"email": "b@example.test", "role": "viewer"},
                             content_type="application/json", headers=headers), 409)
    assert body["type"].endswith(":idempotency_key_reused")
    assert list(Invitation.objects.values_list("email", flat=True)) == ["a@example.test"]


def test_idempotency_keys_of_two_organizations_do_not_collide(api, other_org):
    from shipdesk.tenancy import services
    from shipdesk.tenancy.models import Membership, Role

    their_owner = Membership.objects.get(organization=other_org, role=Role.OWNER).user
    _key, plain = services.api_key_create(actor=services.Actor(
        organization=other_org, role=Role.OWNER, user=their_owner), name="o", role=Role.OWNER)
    other_api = Client(headers={"X-API-Key": plain})
    headers = {"Idempotency-Key": "same-key"}
    mine = api.post("/api/v1/api-keys", {"name": "A"}, content_type="application/json",
                    headers=headers)
    theirs = other_api.post("/api/v1/api-keys", {"name": "A"}, content_type="application/json",
                            headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["key"] != theirs.json()["key"]
    assert IdempotencyRecord.objects.filter(key="same-key").count() == 2


def test_session_writes_need_csrf(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    refused = client.post("/api/v1/api-keys", {"name": "x"}, content_type="application/json")
    assert _problem(refused, 403)["type"].endswith(":csrf_failed")
    assert not ApiKey.objects.filter(name="x").exists()
    client.get("/organization/settings/")  # sets the CSRF cookie, as a page load does
    token = client.cookies["csrftoken"].value
    accepted = client.post("/api/v1/api-keys", {"name": "x"}, content_type="application/json",
                           headers={"X-CSRFToken": token})
    assert accepted.status_code == 201


def test_api_key_writes_need_no_csrf(api):
    assert api.post("/api/v1/api-keys", {"name": "y"},
                    content_type="application/json").status_code == 201


def test_viewer_key_cannot_invite(actor):
    from shipdesk.tenancy import services

    _key, plain = services.api_key_create(actor=actor, name="ro", role="viewer")
    body = _problem(Client(headers={"X-API-Key": plain}).post(
        "/api/v1/invitations", {"email": "a@example.test"}, content_type="application/json"), 403)
    assert body["type"].endswith(":forbidden")
    assert not Invitation.objects.exists()


def test_docs_page_uses_only_local_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("swagger-ui-bundle" in a for a in assets)
    assert all(a.startswith("/") and not a.startswith("//") for a in assets), assets
    for asset in assets:
        if asset.endswith((".js", ".css")):
            fetched = client.get(asset)
            assert fetched.status_code == 200, asset
            fetched.close()


def test_openapi_document_lists_the_routes(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/invitations" in schema["paths"]
    assert "/api/v1/members/{membership_id}" in schema["paths"]


def test_problem_is_english_on_request():
    response = Client(headers={"X-API-Key": "sd_wrong", "Accept-Language": "en"}).get(
        "/api/v1/organization")
    assert response.json()["title"] == "Authentication required"
    russian = Client(headers={"X-API-Key": "sd_wrong"}).get("/api/v1/organization")
    assert russian.json()["title"] == "Нужна авторизация"
