"""Finds the carriers: every sub-package of ``shipdesk.carriers`` with an ``adapter``
module exposing ``Adapter`` (and an ``emulator`` module with ``serve(host, port)`` and
``DEFAULT_PORT``). The core asks here by code and never branches on a carrier's name."""

from __future__ import annotations

import importlib
import logging
import pkgutil
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from shipdesk.carriers.base import CarrierAdapter

if TYPE_CHECKING:
    from shipdesk.carriers.models import CarrierAccount

log = logging.getLogger(__name__)


class UnknownCarrier(LookupError):
    pass


@cache
def _packages() -> dict[str, str]:
    """Carrier code -> the module path of its package."""
    import shipdesk.carriers as root

    found: dict[str, str] = {}
    for info in pkgutil.iter_modules(root.__path__):
        if not info.ispkg or info.name.startswith("_") or info.name in {"migrations", "tests",
                                                                            "management", "templates"}:
            continue
        package = f"{root.__name__}.{info.name}"
        try:
            module = importlib.import_module(f"{package}.adapter")
        except ModuleNotFoundError as exc:
            if exc.name == f"{package}.adapter":
                continue  # not a carrier package
            log.exception("carrier package %s failed to import", package)
            continue
        except Exception:  # a broken carrier must not take the others down
            log.exception("carrier package %s failed to import", package)
            continue
        adapter = getattr(module, "Adapter", None)
        if isinstance(adapter, type) and issubclass(adapter, CarrierAdapter):
            found[adapter.code] = package
    return found


def all_codes() -> list[str]:
    return sorted(_packages())


def adapter_class(code: str) -> type[CarrierAdapter]:
    try:
        package = _packages()[code]
    except KeyError:
        raise UnknownCarrier(code) from None
    adapter: type[CarrierAdapter] = importlib.import_module(f"{package}.adapter").Adapter
    return adapter


def emulator_module(code: str) -> ModuleType:
    """The carrier's emulator: ``serve(host, port)``, ``DEFAULT_PORT``."""
    try:
        package = _packages()[code]
    except KeyError:
        raise UnknownCarrier(code) from None
    return importlib.import_module(f"{package}.emulator")


def adapter_for_account(account: CarrierAccount) -> CarrierAdapter:
    """The account's adapter with decrypted credentials and the resilient HTTP client."""
    from shipdesk.carriers.http import client_for_account

    cls = adapter_class(account.carrier_code)
    http = client_for_account(account, rate_per_second=float(getattr(cls, "rate_limit_per_second", 10.0)))
    raw: Any = account.credentials or {}
    credentials: dict[str, Any] = dict(raw)
    return cls(credentials=credentials, base_url=account.base_url,
               settings=dict(account.settings or {}), http=http)
