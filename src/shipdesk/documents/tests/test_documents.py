from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from django.core.files.storage import default_storage
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from shipdesk.core import crypto
from shipdesk.core.errors import Conflict, ValidationFailed
from shipdesk.documents import services
from shipdesk.documents.models import DocumentStatus, GeneratedDocument, SigningCertificate
from shipdesk.documents.signing import demo_pkcs12
from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import decode, page_texts, rasterise, save_png
from shipdesk.shipments.models import Shipment
from shipdesk.tenancy.services import Actor

DAY = date(2026, 11, 23)


@pytest.fixture
def sp(org: Any):
    return f.sender(org)


def _request(actor: Actor, batch_id: int, kind: str, capture: Any) -> GeneratedDocument:
    with capture(execute=True):
        doc = services.document_request(actor=actor, batch_id=batch_id, kind=kind)
    doc.refresh_from_db()
    return doc


def _content(actor: Actor, doc: GeneratedDocument) -> bytes:
    handle, _name, _type = services.document_open(actor=actor, document_id=doc.pk)
    with handle:
        return handle.read()


def test_f103_is_stored_reused_regenerated_when_data_changes_and_frozen_after_handover(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    ships = [f.shipment(org, sender_profile=sp) for _ in range(3)]
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk for s in ships],
                                  shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "f103_pdf", django_capture_on_commit_callbacks)
    assert (doc.status, doc.progress, doc.attempt, doc.frozen) == (DocumentStatus.DONE, 100, 1, False)
    first = _content(actor, doc)
    text = page_texts(first)[0]
    assert all(s.tracking_number in text for s in ships)
    import hashlib
    assert hashlib.sha256(first).hexdigest() == doc.content_hash

    again = _request(actor, batch.pk, "f103_pdf", django_capture_on_commit_callbacks)
    assert again.attempt == 1 and not services.document_is_stale(again)

    Shipment.objects.filter(pk=ships[0].pk).update(weight_g=7777, updated_at=datetime.now(UTC))
    assert services.document_is_stale(again)
    newer = _request(actor, batch.pk, "f103_pdf", django_capture_on_commit_callbacks)
    assert newer.attempt == 2 and newer.status == DocumentStatus.DONE
    assert "7,777" in page_texts(_content(actor, newer))[0]
    assert not default_storage.exists(doc.file.name)  # the old file is gone

    services.batch_close(actor=actor, batch_id=batch.pk)
    newer.refresh_from_db()
    assert newer.frozen
    frozen = _request(actor, batch.pk, "f103_pdf", django_capture_on_commit_callbacks)
    assert frozen.attempt == 2 and frozen.content_hash == newer.content_hash


def test_print_the_batch_is_one_pdf_in_the_operators_order(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    plain = f.shipment(org, sender_profile=sp)
    cod = f.shipment(org, sender_profile=sp, cod_amount=Decimal("990.00"),
                     options={"inventory": True},
                     items=[{"name": "Чайник", "quantity": 1, "unit_price": Decimal("990.00")}])
    batch = services.batch_create(actor=actor, shipment_ids=[plain.pk, cod.pk],
                                  shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "batch_print", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    pdf = _content(actor, doc)
    texts = [" ".join(t.split()) for t in page_texts(pdf)]
    # F103, one A4 sheet of labels, F112EP, F107 x2
    assert len(texts) == 5
    assert "СПИСОК №" in texts[0] and "Всего отправлений: 2" in texts[0]
    assert "Кому:" in texts[1]
    assert "ф. 112ЭП" in texts[2] and "990,00" in texts[2]
    assert "ОПИСЬ ВЛОЖЕНИЯ" in texts[3] and "Чайник" in texts[3]
    labels_page = rasterise(pdf, dpi=300, pages=[1])[0]
    save_png(labels_page, f.output_dir() / "batch-print-labels.png")
    found = sorted(t for fmt, t in decode(labels_page) if fmt == "ITF")
    assert found == sorted([plain.tracking_number, cod.tracking_number])


def test_international_parcel_without_customs_items_fails_clearly_with_no_file(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    abroad = f.shipment(org, sender_profile=sp, country="DE", index="10115", region="",
                        city="Berlin", street="Unter den Linden", service_code="SMALL_PACKET",
                        tracking=f.s10())
    batch = services.batch_create(actor=actor, shipment_ids=[abroad.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "customs", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.FAILED
    assert abroad.order_number in doc.error and "таможенной декларации" in doc.error
    assert not doc.file
    with pytest.raises(Conflict):
        services.document_open(actor=actor, document_id=doc.pk)


def test_customs_declaration_is_cn22_or_cn23_by_value(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    def abroad(price: str) -> Shipment:
        return f.shipment(org, sender_profile=sp, country="DE", index="10115", city="Berlin",
                          service_code="SMALL_PACKET", tracking=f.s10(),
                          items=[{"name": "Матрёшка", "quantity": 2, "unit_price": Decimal(price),
                                  "weight_g": 200, "hs_code": "442090", "origin_country": "RU"}])
    cheap, dear = abroad("1000.00"), abroad("50000.00")
    batch = services.batch_create(actor=actor, shipment_ids=[cheap.pk, dear.pk],
                                  shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "customs", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    texts = [" ".join(t.split()) for t in page_texts(_content(actor, doc))]
    assert texts[0].startswith("CN22") and cheap.tracking_number in texts[0]
    assert texts[1].startswith("CN23") and dear.tracking_number in texts[1]
    assert "442090" in texts[1] and "100 000,00" in texts[1]


def test_label_with_an_address_too_long_for_its_box_fails_with_the_reason(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    s = f.shipment(org, sender_profile=sp, recipient_surname="Константинопольская" * 5,
                   recipient_given_name="Александра" * 9, recipient_patronymic="Вячеславовна" * 8)
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "labels_thermal", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.FAILED and not doc.file
    assert s.tracking_number in doc.error and "не помещается" in doc.error


def test_signed_registry_with_the_demo_certificate_validates(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    s = f.shipment(org, sender_profile=sp)
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = _request(actor, batch.pk, "f103_signed", django_capture_on_commit_callbacks)
    assert doc.status == DocumentStatus.DONE, doc.error
    cert = SigningCertificate.objects.get(organization=org, is_active=True)
    assert cert.is_demo  # embedded mode made one
    _k, c, _ = pkcs12.load_key_and_certificates(bytes(cert.pkcs12),
                                                crypto.decrypt(cert.password_encrypted).encode())
    root = asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
    pdf = _content(actor, doc)
    sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    assert validate_pdf_signature(sig, ValidationContext(trust_roots=[root])).bottom_line
    assert s.tracking_number in page_texts(pdf)[0]


def test_uploading_an_expired_certificate_is_refused(actor: Actor) -> None:
    old = demo_pkcs12(organization_name="Ромашка", password="pw",
                      now=datetime.now(UTC) - timedelta(days=800), days=365)
    with pytest.raises(ValidationFailed, match="истёк"):
        services.certificate_upload(actor=actor, name="старый", pkcs12_data=old, password="pw")
    assert not SigningCertificate.objects.exists()
    good = demo_pkcs12(organization_name="Ромашка", password="pw", now=datetime.now(UTC))
    cert = services.certificate_upload(actor=actor, name="новый", pkcs12_data=good, password="pw")
    assert cert.is_active and "Ромашка" in cert.subject
    assert crypto.decrypt(cert.password_encrypted) == "pw"


def test_a_lost_task_is_picked_up_again_by_the_due_work_sweep(
        actor: Actor, org: Any, sp: Any, django_capture_on_commit_callbacks: Any) -> None:
    from shipdesk.core import duework

    s = f.shipment(org, sender_profile=sp)
    batch = services.batch_create(actor=actor, shipment_ids=[s.pk], shipping_date=DAY)[0]
    doc = services.document_request(actor=actor, batch_id=batch.pk, kind="labels_a4")
    # the on-commit dispatch never ran (a lost message): the document waits
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.PENDING and doc.retry_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        dispatched = duework.sweep(now=doc.retry_at + timedelta(seconds=1),
                                   names=["documents.generate"])
    assert dispatched["documents.generate"] == 1
    doc.refresh_from_db()
    assert doc.status == DocumentStatus.DONE and doc.retry_at is None
    found = [t for fmt, t in decode(rasterise(_content(actor, doc), dpi=300)[0]) if fmt == "ITF"]
    assert found == [s.tracking_number]
