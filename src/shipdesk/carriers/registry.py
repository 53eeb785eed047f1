"""Finds the carriers: every sub-package of ``shipdesk.carriers`` with an ``adapter``
module exposing ``Adapter`` (and an ``emulator`` module with ``serve(host, port)`` and
``DEFAULT_PORT``). The core asks here by code and never branches on a carrier's name."""

from __future__ import annotations

import importlib
import logging
import os
import pkgutil
import threading
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx

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
    """The carrier's emulator: ``serve(host, port)`` (``shipdesk emulate``), ``DEFAULT_PORT``; one with
    ``SANDBOX_CREDENTIALS`` also ``start(host, port)``, serving from background threads and
    returning the server (with ``stop()``) for ``make run``."""
    try:
        package = _packages()[code]
    except KeyError:
        raise UnknownCarrier(code) from None
    return importlib.import_module(f"{package}.emulator")


def adapter_for_account(account: CarrierAccount) -> CarrierAdapter:
    """The account's adapter with decrypted credentials and the resilient HTTP client. The
    client comes from a per-process pool (one per account, replaced and closed when the
    account is edited), so building adapters often opens no new connections."""
    cls = adapter_class(account.carrier_code)
    http = _client_for(account, float(getattr(cls, "rate_limit_per_second", 10.0)))
    raw: Any = account.credentials or {}
    credentials: dict[str, Any] = dict(raw)
    return cls(credentials=credentials, base_url=account.base_url,
               settings=dict(account.settings or {}), http=http)


# account id -> ((updated_at, process id, default rate), client)
_clients: dict[int, tuple[tuple[Any, int, float], httpx.Client]] = {}
_clients_lock = threading.Lock()


def _client_for(account: CarrierAccount, rate_per_second: float) -> httpx.Client:
    from shipdesk.carriers.http import client_for_account

    # The process id: a client inherited through fork() shares its sockets with the parent.
    key = (account.updated_at, os.getpid(), rate_per_second)
    with _clients_lock:
        held = _clients.get(account.pk)
        if held is not None and held[0] == key:
            return held[1]
        if held is not None and held[0][1] == key[1]:
            held[1].close()  # the account changed: its old client goes
        client = client_for_account(account, rate_per_second=rate_per_second)
        _clients[account.pk] = (key, client)
        return client

