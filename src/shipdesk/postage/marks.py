"""The online postage mark's payload, its Ed25519 signature and its DataMatrix (pure: no
database).

Payload (text, ``|``-separated, printed as a DataMatrix)::

    SDZ1|<mark number>|<item number>|<sender INN>|<amount 0.00>|<YYYY-MM-DD>|<key id>|<signature>

The signature is Ed25519 over the UTF-8 bytes of everything before the last ``|``, in
base64url without padding (86 characters). The key id names the organization's public key.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAGIC = "SDZ1"
_DARK_RUN = re.compile(rb"\x00+")  # zxing-cpp's images: 0 = dark module


@dataclass(frozen=True)
class MarkData:
    number: str
    tracking_number: str
    sender_inn: str
    amount: Decimal
    issued_on: dt.date
    key_id: str

    def message(self) -> str:
        return "|".join((MAGIC, self.number, self.tracking_number, self.sender_inn,
                         f"{self.amount:.2f}", self.issued_on.isoformat(), self.key_id))


class BadMark(ValueError):
    """The payload is not a mark of ours (wrong shape) — distinct from a bad signature."""


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def sign(data: MarkData, key: Ed25519PrivateKey) -> str:
    message = data.message()
    return f"{message}|{_b64(key.sign(message.encode()))}"


def parse(payload: str) -> tuple[MarkData, bytes]:
    parts = payload.strip().split("|")
    if len(parts) != 8 or parts[0] != MAGIC:
        raise BadMark("not a Shipdesk postage mark")
    try:
        amount = Decimal(parts[4])
        issued_on = dt.date.fromisoformat(parts[5])
        signature = base64.urlsafe_b64decode(parts[7] + "=" * (-len(parts[7]) % 4))
    except (InvalidOperation, ValueError, binascii.Error) as exc:
        raise BadMark(str(exc)) from exc
    return MarkData(number=parts[1], tracking_number=parts[2], sender_inn=parts[3],
                    amount=amount, issued_on=issued_on, key_id=parts[6]), signature


def signature_valid(data: MarkData, signature: bytes, public_key_hex: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(signature, data.message().encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def new_key() -> tuple[str, str]:
    """(private hex, public hex) of a fresh Ed25519 key."""
    from cryptography.hazmat.primitives import serialization

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    return private.hex(), public.hex()


def private_key(private_hex: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_hex))


# --- the DataMatrix ---------------------------------------------------------------------

MatrixImage = tuple[int, int, str]  # (columns, rows, 8-bit grey samples as hex)


def datamatrix_bits(payload: str) -> MatrixImage:
    """The symbol (zxing-cpp's writer), one grey byte per module (0 dark, 255 light), as
    hex for a PDF inline image (compressed with the page)."""
    import zxingcpp

    code = zxingcpp.create_barcode(payload.encode(), zxingcpp.BarcodeFormat.DataMatrix)
    image = code.to_image(scale=1, add_quiet_zones=False)
    raw = bytes(memoryview(image))  # type: ignore[arg-type]
    return image.shape[1], image.shape[0], raw.hex()


def datamatrix_png(payload: str, scale: int = 6) -> bytes:
    import io

    import zxingcpp
    from PIL import Image

    code = zxingcpp.create_barcode(payload.encode(), zxingcpp.BarcodeFormat.DataMatrix)
    image = code.to_image(scale=scale, add_quiet_zones=True)
    out = io.BytesIO()
    Image.frombytes("L", (image.shape[1], image.shape[0]),
        bytes(memoryview(image))).save(  # type: ignore[arg-type]
        out, format="PNG")
    return out.getvalue()


def read_codes(image_bytes: bytes) -> list[str]:
    """The DataMatrix texts found in an image (PNG, JPEG...) or in each page of a PDF."""
    import io

    import zxingcpp
    from PIL import Image

    images = []
    if image_bytes[:5] == b"%PDF-":
        import pypdfium2

        pdf = pypdfium2.PdfDocument(image_bytes)
        images = [page.render(scale=4).to_pil() for page in pdf]
    else:
        images = [Image.open(io.BytesIO(image_bytes))]
    found: list[str] = []
    for image in images:
        found += [r.text for r in zxingcpp.read_barcodes(
            image.convert("L"), formats=zxingcpp.BarcodeFormat.DataMatrix)]  # type: ignore[arg-type]
    return found
