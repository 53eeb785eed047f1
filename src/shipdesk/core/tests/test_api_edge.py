"""The API's edge: numbers out of any column's range, unknown ids, missing or wrong keys and
null where a value is required are answered 4xx problem+json, never 500; the OpenAPI
document names each schema after the class actually used."""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import DataError
from django.test import Client
from pydantic import BaseModel

from shipdesk.api import api as ninja_api
from shipdesk.tenancy.models import ApiKey, Organization

pytestmark = pytest.mark.django_db
PROBLEM = "application/problem+json"
HUGE = 2**63
# 2^63 and beyond any bigint, -1 and 0 (never an id), 2^31 (beyond an integer column)
BAD_IDS = (HUGE, 2**64, -1, 0, -(2**63) - 1)
WRITE = ("post", "put", "patch", "delete")


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("urn:shipdesk:")
    return body


def _call(client: Client, method: str, url: str, body: Any = None, **extra: Any) -> Any:
    if method == "get":
        return client.get(url, body or {}, **extra)
    return getattr(client, method)(url, json.dumps(body if body is not None else {}),
                                   content_type="application/json", **extra)


def _openapi() -> dict[str, Any]:
    """The document as served (the same the routes are collected from)."""
    return json.loads(json.dumps(ninja_api.get_openapi_schema(), default=str))


def test_served_document_is_the_one_walked(api: Client) -> None:
    assert api.get("/api/v1/openapi.json").json() == _openapi()


def _routes_with_id_parameter() -> list[tuple[str, str]]:
    routes = [(method, path) for path, operations in _openapi()["paths"].items()
              if re.search(r"\{\w+_id\}", path) for method in operations]
    assert len(routes) > 40  # every domain's routers were collected
    return routes


# --- integers bounded at the edge --------------------------------------------------------

@pytest.mark.parametrize(("method", "path"), _routes_with_id_parameter())
def test_route_with_an_impossible_id_answers_422_naming_it(api: Client, method: str,
                                                           path: str) -> None:
    names = re.findall(r"\{(\w+_id)\}", path)
    for value in BAD_IDS:
        url = re.sub(r"\{\w+\}", str(value), path)
        response = _call(api, method, url, headers={"Idempotency-Key": f"edge-{method}-{url}"})
        body = _problem(response, 422)
        assert {e["loc"][0] for e in body["errors"]} >= set(names), (method, url, body)


@pytest.mark.parametrize(("method", "path"), _routes_with_id_parameter())
def test_route_with_an_unknown_id_in_range_answers_404(api: Client, method: str,
                                                       path: str) -> None:
    # 2^31 and 2^63-1 fit every id column (bigint): simply nobody's
    for value in (2**31, 2**63 - 1):
        url = re.sub(r"\{\w+\}", str(value), path)
        response = _call(api, method, url, headers={"Idempotency-Key": f"unknown-{method}-{url}"})
        assert response.status_code in (404, 422), (method, url, response.content)
        assert response["Content-Type"] == PROBLEM


@pytest.mark.parametrize(("url", "name"), [
    ("/api/v1/tracking/deliveries/", "endpoint_id"),
    ("/api/v1/carriers/exchanges", "account_id"),
    ("/api/v1/carriers/exchanges", "shipment_id"),
    ("/api/v1/notifications/outbox/", "shipment_id"),
    ("/api/v1/notifications/outbox/", "before_id"),
    ("/api/v1/documents/batches", "before_id"),
])
def test_query_filter_beyond_any_id_is_422_naming_the_filter(api: Client, url: str,
                                                             name: str) -> None:
    for value in (HUGE, -1):
        body = _problem(api.get(url, {name: value}), 422)
        assert body["errors"][0]["loc"] == [name]
    assert api.get(url, {name: 2**63 - 1}).status_code == 200  # the largest id: just nothing


def test_batch_of_an_impossible_shipment_id_is_422_and_nothing_created(api: Client) -> None:
    from shipdesk.documents.models import Batch

    for value in (HUGE, 0):
        body = _problem(_call(api, "post", "/api/v1/documents/batches",
                              {"shipment_ids": [value]},
                              headers={"Idempotency-Key": f"batch-{value}"}), 422)
        assert body["errors"][0]["loc"] == ["shipment_ids", 0]
    assert not Batch.objects.exists()


def test_pool_threshold_beyond_the_column_is_422(api: Client) -> None:
    body = _problem(_call(api, "post", "/api/v1/numbering/pools",
                          {"carrier_code": "russian_post", "first_number": "x",
                           "last_number": "y", "low_threshold": 2**31},
                          headers={"Idempotency-Key": "pool-huge"}), 422)
    assert ["low_threshold"] in [e["loc"] for e in body["errors"]]


def test_shipment_weight_beyond_any_column_is_422_not_500(api: Client) -> None:
    response = _call(api, "post", "/api/v1/shipments/",
                     {"order_number": "E-1", "weight_g": HUGE},
                     headers={"Idempotency-Key": "ship-huge"})
    assert response.status_code == 422, response.content


def _integers(schema: dict[str, Any], components: dict[str, Any], where: str,
              seen: tuple[str, ...] = ()) -> Iterator[tuple[str, dict[str, Any]]]:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name not in seen:
            yield from _integers(components[name], components, where, (*seen, name))
        return
    for sub in [*schema.get("anyOf", []), *schema.get("oneOf", []), *schema.get("allOf", [])]:
        yield from _integers(sub, components, where, seen)
    if schema.get("type") == "integer":
        yield where, schema
    if "items" in schema:
        yield from _integers(schema["items"], components, f"{where}[]", seen)
    for name, sub in schema.get("properties", {}).items():
        yield from _integers(sub, components, f"{where}.{name}", seen)


def test_every_integer_the_api_accepts_is_bounded_in_its_document() -> None:
    """Any integer input added without one of core/apitypes.py's types fails here."""
    doc = _openapi()
    components = doc["components"]["schemas"]
    unbounded = []
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            found = [hit for parameter in operation.get("parameters", [])
                     # ninja's own cursor pagination clamps page_size to max_page_size
                     if parameter["name"] != "page_size"
                     for hit in _integers(parameter["schema"], components, parameter["name"])]
            for content in operation.get("requestBody", {}).get("content", {}).values():
                found += _integers(content["schema"], components, "body")
            unbounded += [f"{method} {path} {where}" for where, schema in found
                          if "maximum" not in schema
                          or not {"minimum", "exclusiveMinimum"} & schema.keys()]
    assert unbounded == []


@pytest.mark.parametrize("error", [
    OverflowError("Python int too large to convert to SQLite INTEGER"),  # SQLite
    DataError("integer out of range"),  # PostgreSQL's NumericValueOutOfRange, as Django raises it
])
def test_database_overflow_behind_the_edge_is_422_problem(api: Client, monkeypatch: Any,
                                                          error: Exception) -> None:
    from shipdesk.tenancy import selectors

    def overflow(**kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(selectors, "membership_list", overflow)
    body = _problem(api.get("/api/v1/members"), 422)
    assert body["type"].endswith(":out_of_range")


# --- PATCH /organization with null ---------------------------------------------------------

@pytest.mark.parametrize("field", ["email", "inn", "name"])
def test_organization_field_set_to_null_is_422_naming_it(api: Client, org: Organization,
                                                        field: str) -> None:
    before = getattr(org, field)
    body = _problem(_call(api, "patch", "/api/v1/organization", {field: None}), 422)
    assert [e["loc"] for e in body["errors"]] == [[field]]
    org.refresh_from_db()
    assert getattr(org, field) == before


def test_organization_field_cleared_with_empty_string(api: Client, org: Organization) -> None:
    org.email = "shop@example.test"
    org.save()
    assert _call(api, "patch", "/api/v1/organization", {"email": ""}).json()["email"] == ""


def test_organization_patch_documents_its_fields_as_non_nullable() -> None:
    schema = _openapi()["components"]["schemas"]["OrganizationPatch"]
    assert schema["properties"]["email"] == {"title": "Email", "type": "string"}


@pytest.mark.parametrize("field", ["window_start", "sms_segment_limit"])
def test_notification_setting_set_to_null_is_422_naming_it(api: Client, field: str) -> None:
    body = _problem(_call(api, "patch", "/api/v1/notifications/settings/", {field: None}), 422)
    assert [e["loc"] for e in body["errors"]] == [[field]]
    assert api.get("/api/v1/notifications/settings/").json()[field] is not None


def test_notification_review_url_null_still_clears_it(api: Client) -> None:
    _call(api, "patch", "/api/v1/notifications/settings/", {"review_url": "https://shop.test/r"})
    response = _call(api, "patch", "/api/v1/notifications/settings/", {"review_url": None})
    assert response.status_code == 200 and response.json()["review_url"] == ""


# --- 401 for calls without valid credentials ----------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "sd_not-a-key"},
                                     {"Authorization": "Bearer sd_not-a-key"}])
@pytest.mark.parametrize(("method", "url"), [("get", "/api/v1/shipments/"),
                                             ("post", "/api/v1/api-keys"),
                                             ("patch", "/api/v1/organization"),
                                             ("delete", "/api/v1/api-keys/1")])
def test_call_without_a_valid_key_is_401_with_www_authenticate(
        org: Organization, headers: dict[str, str], method: str, url: str) -> None:
    client = Client(headers=headers, enforce_csrf_checks=True)
    response = _call(client, method, url, {"name": "x"})
    assert _problem(response, 401)["type"].endswith(":unauthenticated")
    assert response["WWW-Authenticate"] == 'ApiKey header="X-API-Key"'
    assert not ApiKey.objects.exists()


def test_browser_session_write_without_csrf_token_is_still_403_csrf(owner: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    body = _problem(_call(client, "post", "/api/v1/api-keys", {"name": "x"}), 403)
    assert body["type"].endswith(":csrf_failed")
    assert not ApiKey.objects.exists()
    assert client.get("/api/v1/organization").status_code == 200  # reads need no token


def test_session_write_with_csrf_token_passes(owner: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.cookies["csrftoken"] = token = "k" * 32
    response = _call(client, "post", "/api/v1/api-keys", {"name": "x"},
                     headers={"X-CSRFToken": token, "Idempotency-Key": "csrf-ok"})
    assert response.status_code == 201, response.content


# --- OpenAPI component names --------------------------------------------------------------

def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models_in(field.annotation)
    for arg in typing.get_args(annotation):
        yield from _models_in(arg)


def _schema_classes() -> dict[str, set[type[BaseModel]]]:
    _openapi()  # builds the routers
    by_name: dict[str, set[type[BaseModel]]] = {}
    for _prefix, router in ninja_api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                roots = [*operation.response_models.values(), *operation.models]
                for root in roots:
                    for model in _models_in(root):
                        if model.__module__.startswith("shipdesk."):
                            by_name.setdefault(model.__name__, set()).add(model)
    return by_name


def test_no_two_schema_classes_share_a_name() -> None:
    by_name = _schema_classes()
    assert len(by_name) > 50
    assert {name: sorted(f"{c.__module__}.{c.__qualname__}" for c in classes)
            for name, classes in by_name.items() if len(classes) > 1} == {}


@pytest.mark.parametrize(("path", "method", "class_path"), [
    ("/api/v1/shipments/{shipment_id}/history", "get", "shipdesk.shipments.api.ShipmentEventOut"),
    ("/api/v1/tariffs/rule", "get", "shipdesk.tariffs.schemas.TariffRuleOut"),
    ("/api/v1/notifications/rules/", "get", "shipdesk.notifications.api.NotificationRuleOut"),
])
def test_documented_answer_is_the_class_the_route_returns(path: str, method: str,
                                                          class_path: str) -> None:
    import importlib

    module, name = class_path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    doc = _openapi()
    schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    ref = (schema.get("items") or schema)["$ref"].rsplit("/", 1)[1]
    assert ref == name
    assert (doc["components"]["schemas"][ref]["properties"].keys()
            == cls.model_json_schema()["properties"].keys())
