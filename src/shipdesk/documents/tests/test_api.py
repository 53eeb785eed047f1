from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import page_texts
from shipdesk.shipments.models import State

BASE = "/api/v1/documents"


def post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(f"{BASE}{path}", data=json.dumps(body or {}),
                       content_type="application/json")


@pytest.fixture
def sp(org: Any):
    return f.sender(org)


def test_batch_lifecycle_and_documents_over_http(
        api: Client, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    ships = [f.shipment(org, sender_profile=sp) for _ in range(3)]
    r = post(api, "/batches/auto-group", {"shipping_date": "2026-11-23"})
    assert r.status_code == 200, r.content
    (batch,) = r.json()
    assert batch["parcel_count"] == 3 and batch["state"] == "open"
    assert batch["number"] == "1/2026"
    bid = batch["id"]

    r = post(api, f"/batches/{bid}/remove", {"shipment_ids": [ships[0].pk]})
    assert r.status_code == 200 and r.json()["parcel_count"] == 2
    r = post(api, f"/batches/{bid}/add", {"shipment_ids": [ships[0].pk]})
    assert r.status_code == 200 and r.json()[0]["parcel_count"] == 3

    with django_capture_on_commit_callbacks(execute=True):
        r = post(api, f"/batches/{bid}/documents", {"kind": "f103_pdf"})
    assert r.status_code == 202, r.content
    doc_id = r.json()["id"]
    status = api.get(f"{BASE}/documents/{doc_id}").json()
    assert status["status"] == "done" and status["progress"] == 100 and not status["stale"]
    download = api.get(status["download_url"])
    assert download.status_code == 200 and download["Content-Type"] == "application/pdf"
    pdf = b"".join(download.streaming_content)
    text = page_texts(pdf)[0]
    assert all(s.tracking_number in text for s in ships)

    r = post(api, f"/batches/{bid}/close")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    ships[0].refresh_from_db()
    assert ships[0].state == State.HANDED_OVER
    again = post(api, f"/batches/{bid}/close")
    assert again.status_code == 409
    assert again["Content-Type"].startswith("application/problem+json")
    assert "уже передана" in again.json()["detail"]
    assert api.get(f"{BASE}/documents/{doc_id}").json()["frozen"] is True


def test_mixing_mail_types_is_a_problem_pointing_at_the_parcel(api: Client, org: Any, sp: Any) -> None:
    a = f.shipment(org, sender_profile=sp)
    b = f.shipment(org, sender_profile=sp, service_code="EMS")
    r = post(api, "/batches", {"shipment_ids": [a.pk, b.pk]})
    assert r.status_code == 422
    problem = r.json()
    assert problem["errors"][0]["loc"] == ["shipment_ids", 1]
    assert b.order_number in problem["errors"][0]["message"]


def test_another_organizations_batch_and_documents_are_404(
        api: Client, other_api: Client, org: Any, sp: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    s = f.shipment(org, sender_profile=sp)
    r = post(api, "/batches", {"shipment_ids": [s.pk]})
    assert r.status_code == 201
    bid = r.json()[0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        doc_id = post(api, f"/batches/{bid}/documents", {"kind": "labels_a4"}).json()["id"]
    assert other_api.get(f"{BASE}/batches/{bid}").status_code == 404
    assert post(other_api, f"/batches/{bid}/documents", {"kind": "f103_pdf"}).status_code == 404
    assert post(other_api, f"/batches/{bid}/close").status_code == 404
    assert other_api.get(f"{BASE}/documents/{doc_id}").status_code == 404
    assert other_api.get(f"{BASE}/documents/{doc_id}/download").status_code == 404
    assert other_api.get(f"{BASE}/batches").json() == []
    assert api.get(f"{BASE}/documents/{doc_id}/download").status_code == 200


def test_unknown_document_kind_is_a_clear_error(api: Client, org: Any, sp: Any) -> None:
    s = f.shipment(org, sender_profile=sp)
    bid = post(api, "/batches", {"shipment_ids": [s.pk]}).json()[0]["id"]
    r = post(api, f"/batches/{bid}/documents", {"kind": "f999"})
    assert r.status_code == 422 and "f999" in r.json()["detail"]


def test_deleting_an_open_batch_returns_its_parcels(api: Client, other_api: Client, org: Any,
                                                   sp: Any) -> None:
    s = f.shipment(org, sender_profile=sp)
    bid = post(api, "/batches", {"shipment_ids": [s.pk]}).json()[0]["id"]
    assert other_api.delete(f"{BASE}/batches/{bid}").status_code == 404
    assert api.delete(f"{BASE}/batches/{bid}").status_code == 204
    s.refresh_from_db()
    assert s.state == State.NUMBERED
    assert api.get(f"{BASE}/batches/{bid}").status_code == 404
