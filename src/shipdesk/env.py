"""The one place that reads the environment (12-factor).

Embedded mode (the default) needs nothing set: data lives in ``SHIPDESK_DATA_DIR``
(``./var`` by default), the secret key is generated once and kept there. Scale-out mode
(``SHIPDESK_MODE=scale-out``) refuses to start without the secrets it needs.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

MODE = os.environ.get("SHIPDESK_MODE", "embedded").strip().lower()
if MODE not in {"embedded", "scale-out"}:
    raise RuntimeError(f"SHIPDESK_MODE must be 'embedded' or 'scale-out', not {MODE!r}")
EMBEDDED = MODE == "embedded"

DATA_DIR = Path(os.environ.get("SHIPDESK_DATA_DIR", Path.cwd() / "var")).resolve()


def get(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def get_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def get_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def get_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def secret(name: str, *, embedded_file: str | None = None) -> str:
    """A secret from the environment; in embedded mode generated once and kept on disk.

    Fails loudly in scale-out mode: a cluster whose processes each invented their own key
    would not be able to read each other's sessions or encrypted credentials.
    """
    value = os.environ.get(name)
    if value:
        if not EMBEDDED:
            for part in value.split(","):
                _require_strong(name, part.strip())
        return value
    if not EMBEDDED or embedded_file is None:
        raise RuntimeError(f"{name} must be set in scale-out mode")
    path = DATA_DIR / embedded_file
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    path.write_text(value)
    path.chmod(0o600)
    return value


# A scale-out secret (each comma-separated key of a list) must be long and varied: Django's
# ``check --deploy`` asks 50 characters of at least 5 kinds of a session key; a guessable
# key signs forged sessions and password-reset links.
MIN_SECRET_LENGTH = 50
MIN_SECRET_DISTINCT = 10


def _require_strong(name: str, value: str) -> None:
    if len(value) < MIN_SECRET_LENGTH or len(set(value)) < MIN_SECRET_DISTINCT:
        raise RuntimeError(
            f"{name} is too weak for scale-out mode: each key needs at least "
            f"{MIN_SECRET_LENGTH} characters, {MIN_SECRET_DISTINCT} of them different. Generate one "
            "with: python -c 'import secrets; print(secrets.token_urlsafe(50))'")
