"""Links put in messages: the public tracking page and the signed unsubscribe link."""

from __future__ import annotations

import base64
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
