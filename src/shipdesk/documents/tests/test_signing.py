from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from shipdesk.documents.rendering.registry import render_registry_pdf
from shipdesk.documents.signing import CertificateInvalid, demo_pkcs12, inspect_pkcs12, sign_pdf
from shipdesk.documents.tests.test_registry import registry

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _root(p12: bytes, password: str) -> asn1_x509.Certificate:
    _key, cert, _chain = pkcs12.load_key_and_certificates(p12, password.encode())
    assert cert is not None
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _validate(pdf: bytes, root: asn1_x509.Certificate):
    reader = PdfFileReader(io.BytesIO(pdf))
    (signature,) = reader.embedded_signatures
    return validate_pdf_signature(signature, ValidationContext(trust_roots=[root]))


@pytest.fixture(scope="module")
def p12() -> bytes:
    return demo_pkcs12(organization_name="Ромашка", password="секрет", now=datetime.now(UTC))


def test_signed_registry_validates_and_a_changed_byte_breaks_it(p12: bytes) -> None:
    pdf = render_registry_pdf(registry(5))
    signed = sign_pdf(pdf, pkcs12_data=p12, password="секрет", reason="Список ф.103")
    status = _validate(signed, _root(p12, "секрет"))
    assert status.intact and status.valid and status.trusted
    assert status.bottom_line
    assert status.coverage.name == "ENTIRE_FILE"
    reader = PdfFileReader(io.BytesIO(signed))
    assert reader.embedded_signatures[0].sig_object["/SubFilter"] == "/ETSI.CAdES.detached"

    tampered = bytearray(signed)
    # flip one byte inside the first content stream of the signed revision
    stream_at = tampered.find(b"stream", 200) + 40
    assert 200 < stream_at < len(pdf)
    tampered[stream_at] ^= 0x01
    broken = _validate(bytes(tampered), _root(p12, "секрет"))
    assert not broken.intact and not broken.bottom_line


def test_expired_certificate_is_refused_with_the_date(p12: bytes) -> None:
    with pytest.raises(CertificateInvalid, match="истёк"):
        inspect_pkcs12(p12, "секрет", now=datetime.now(UTC) + timedelta(days=400))


def test_wrong_password_or_not_a_certificate_is_a_clear_error(p12: bytes) -> None:
    with pytest.raises(CertificateInvalid, match="пароль"):
        inspect_pkcs12(p12, "не тот", now=NOW)
    with pytest.raises(CertificateInvalid, match="PKCS#12"):
        inspect_pkcs12(b"not a certificate", "", now=NOW)
