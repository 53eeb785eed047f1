"""The electronic registry: the F103 PDF signed PAdES (``/ETSI.CAdES.detached``) with the
organization's certificate, through pyHanko. Pure functions over bytes; the certificate
model lives in ``models.SigningCertificate`` and the services choose which to use."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.utils.translation import gettext as _
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter


class CertificateInvalid(ValueError):
    """The uploaded file is not a usable signing certificate; the message says why."""


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    not_before: datetime
    not_after: datetime


def inspect_pkcs12(data: bytes, password: str, *, now: datetime) -> CertificateInfo:
    """Checks that the PKCS#12 opens with the password, holds a private key and a
    certificate valid at ``now`` that allows digital signatures."""
    try:
        key, cert, _chain = pkcs12.load_key_and_certificates(data, password.encode() or None)
    except ValueError as exc:
        raise CertificateInvalid(
            _("Не удалось открыть файл сертификата: неверный пароль или это не PKCS#12 (.p12/.pfx)")
        ) from exc
    if key is None or cert is None:
        raise CertificateInvalid(_("В файле нет закрытого ключа или сертификата"))
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if now < not_before:
        raise CertificateInvalid(_("Сертификат ещё не действует: начало срока %(d)s")
                                 % {"d": f"{not_before:%d.%m.%Y}"})
    if now > not_after:
        raise CertificateInvalid(_("Срок действия сертификата истёк %(d)s")
                                 % {"d": f"{not_after:%d.%m.%Y}"})
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not (usage.digital_signature or usage.content_commitment):
            raise CertificateInvalid(_("Сертификат не предназначен для электронной подписи"))
    except x509.ExtensionNotFound:
        pass
    return CertificateInfo(subject=cert.subject.rfc4514_string(), not_before=not_before,
                           not_after=not_after)


def demo_pkcs12(*, organization_name: str, password: str, now: datetime,
                days: int = 365) -> bytes:
    """A self-signed demonstration certificate (embedded mode), as PKCS#12."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, f"{organization_name} (демо)"[:64]),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization_name[:64] or "Shipdesk"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "RU"),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True,
                                     key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, key_cert_sign=False, crl_sign=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(key, hashes.SHA256())
    )
    return pkcs12.serialize_key_and_certificates(
        b"shipdesk-demo", key, cert, None,
        serialization.BestAvailableEncryption(password.encode()))


def sign_pdf(pdf: bytes, *, pkcs12_data: bytes, password: str, reason: str,
             location: str = "") -> bytes:
    """Signs the PDF as PAdES baseline B-B: an incremental update with one signature."""
    signer = signers.SimpleSigner.load_pkcs12_data(pkcs12_data, other_certs=(),
                                                   passphrase=password.encode() or None)
    meta = signers.PdfSignatureMetadata(field_name="Signature1", reason=reason,
                                        location=location or None,
                                        subfilter=SigSeedSubFilter.PADES,
                                        md_algorithm="sha256")
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    out = io.BytesIO()
    signers.sign_pdf(writer, meta, signer=signer, output=out)
    return out.getvalue()
