"""Secrets at rest (carrier credentials, SMS keys): Fernet with rotating keys."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEYS.split(",") if k.strip()]
    # Any string works as configured key material: it is stretched to a Fernet key.
    return MultiFernet(
        [Fernet(base64.urlsafe_b64encode(hashlib.sha256(k.encode()).digest())) for k in keys]
    )


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:  # wrong key configured: say so instead of returning garbage
        raise ValueError("stored secret cannot be decrypted with the configured keys") from exc


class EncryptedJSONField(models.TextField):
    """A JSON object stored encrypted; reads and writes plain dicts."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return json.loads(decrypt(value))

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return json.loads(decrypt(value))

    def get_prep_value(self, value: Any) -> str:
        return encrypt(json.dumps(value or {}, ensure_ascii=False))
