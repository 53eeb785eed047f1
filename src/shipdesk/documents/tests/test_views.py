from __future__ import annotations

from typing import Any

from django.test import Client

from shipdesk.documents import services
from shipdesk.documents.models import Batch
from shipdesk.documents.tests import factories as f
from shipdesk.tenancy.services import Actor


def test_batch_pages_auto_group_and_print_the_batch_in_one_click(
        web: Client, actor: Actor, org: Any, django_capture_on_commit_callbacks: Any) -> None:
    sp = f.sender(org)
    ships = [f.shipment(org, sender_profile=sp) for _ in range(2)]
    r = web.post("/documents/batches/auto-group/", follow=True)
    assert r.status_code == 200
    batch = Batch.objects.get(organization=org)
    page = r.content.decode()
    assert "Партии" in page and batch.display_number in page
    detail = web.get(f"/documents/batches/{batch.pk}/").content.decode()
    assert "Напечатать партию" in detail
    assert all(s.tracking_number in detail for s in ships)
    with django_capture_on_commit_callbacks(execute=True):
        r = web.post(f"/documents/batches/{batch.pk}/documents/", {"kind": "batch_print"},
                     HTTP_HX_REQUEST="true")
    html = r.content.decode()
    doc = batch.documents.get(kind="batch_print")
    # the partial shows progress and polls its status until the file is ready
    assert r.status_code == 200 and f'hx-get="/documents/documents/{doc.pk}/"' in html
    polled = web.get(f"/documents/documents/{doc.pk}/").content.decode()
    assert "Открыть" in polled and "hx-get" not in polled
    pdf = web.get(f"/documents/documents/{doc.pk}/download/")
    assert pdf.status_code == 200 and b"".join(pdf.streaming_content).startswith(b"%PDF")


def test_other_organizations_batch_page_is_404(web: Client, other_org: Any, make_user: Any) -> None:
    from shipdesk.tenancy.models import Membership, Role

    owner = Membership.objects.get(organization=other_org, role=Role.OWNER).user
    other = Actor(organization=other_org, role=Role.OWNER, user=owner)
    s = f.shipment(other_org, sender_profile=f.sender(other_org))
    batch = services.batch_create(actor=other, shipment_ids=[s.pk])[0]
    assert web.get(f"/documents/batches/{batch.pk}/").status_code == 404
    assert web.post(f"/documents/batches/{batch.pk}/close/").status_code == 404


def test_certificate_page_refuses_an_expired_upload_and_accepts_a_valid_one(web: Client, org: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from django.core.files.uploadedfile import SimpleUploadedFile

    from shipdesk.documents.models import SigningCertificate
    from shipdesk.documents.signing import demo_pkcs12

    old = demo_pkcs12(organization_name="Ромашка", password="pw",
                      now=datetime.now(UTC) - timedelta(days=800), days=365)
    r = web.post("/documents/certificates/", {
        "name": "старый", "password": "pw",
        "pkcs12": SimpleUploadedFile("old.p12", old, "application/x-pkcs12")})
    assert r.status_code == 422 and "истёк" in r.content.decode()
    good = demo_pkcs12(organization_name="Ромашка", password="pw", now=datetime.now(UTC))
    r = web.post("/documents/certificates/", {
        "name": "рабочий", "password": "pw",
        "pkcs12": SimpleUploadedFile("good.p12", good, "application/x-pkcs12")}, follow=True)
    assert r.status_code == 200 and "рабочий" in r.content.decode()
    assert SigningCertificate.objects.get(organization=org, is_active=True).name == "рабочий"
