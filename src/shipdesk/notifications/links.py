"""Links put in messages: the public tracking page, the signed unsubscribe link (e-mail) and
the short unsubscribe link (SMS, where every character costs)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

UNSUBSCRIBE_SALT = "shipdesk.notifications.unsubscribe"


def tracking_link(*, token: str) -> str:
    """The public tracking page of a parcel (the tracking domain's per-shipment token);
    empty while the parcel has no tracking yet. The one place that builds it."""
    if not token:
        return ""
    from django.urls import reverse

    return settings.PUBLIC_URL + reverse("tracking:public", kwargs={"token": token})


@dataclass(frozen=True)
class UnsubscribeTarget:
    organization_id: int
    channel: str
    address: str


def unsubscribe_token(*, organization_id: int, channel: str, address: str) -> str:
    raw = f"{organization_id}|{channel}|{address}".encode()
    value = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return signing.Signer(salt=UNSUBSCRIBE_SALT).sign(value)


def unsubscribe_link(*, organization_id: int, channel: str, address: str) -> str:
    token = unsubscribe_token(organization_id=organization_id, channel=channel, address=address)
    return f"{settings.PUBLIC_URL}/notifications/u/{token}/"


def unsubscribe_parse(token: str) -> UnsubscribeTarget:
    """Raises ``signing.BadSignature`` for a tampered or foreign token."""
    value = signing.Signer(salt=UNSUBSCRIBE_SALT).unsign(token)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        org, channel, address = raw.split("|", 2)
        return UnsubscribeTarget(int(org), channel, address)
    except (ValueError, UnicodeDecodeError) as exc:
        raise signing.BadSignature("malformed unsubscribe token") from exc


SHORT_SALT = b"shipdesk.notifications.short-unsubscribe:"


def short_code(*, organization_id: int, channel: str, address: str) -> str:
    """12 URL-safe characters = 72 bits of a keyed hash of the recipient: unguessable
    without the installation's secret, the same for one recipient every time (so making the
    table rows for a batch is one idempotent insert). The table maps it back."""
    digest = hmac.new(settings.SECRET_KEY.encode(),
                      SHORT_SALT + f"{organization_id}|{channel}|{address}".encode(),
                      hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def short_unsubscribe_link(code: str) -> str:
    return f"{settings.PUBLIC_URL}/u/{code}"
