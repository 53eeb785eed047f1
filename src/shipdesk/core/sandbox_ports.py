"""Where the sandbox emulators of one embedded instance listen.

Each instance (``make run``, a second ``make run`` on another ``PORT``, the tests' own
``shipdesk embedded``) takes ports of its own: the emulator's usual port moved by as much as
the web port is moved from 8000 (``PORT=8765``: Russian Post on 18865), or a free port where
that one is taken. The choice travels to the instance's children (the emulator processes,
the web app, the worker) in ``SHIPDESK_SANDBOX_PORTS`` and is written into the instance's
sandbox accounts, so that no sandbox account ever talks to another instance's emulator.

The emulators come from each app's ``sandbox_emulators()`` hook, as :class:`Emulator` data
(a name, its usual port, how to start it); ``shipdesk emulate_sandboxes`` serves them all from
one process, each on this instance's port for it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from django.apps import apps

ENV = "SHIPDESK_SANDBOX_PORTS"
USUAL_WEB_PORT = 8000


class Stoppable(Protocol):
    def stop(self) -> None: ...


@dataclass(frozen=True)
class Emulator:
    """A sandbox emulator an app serves beside ``make run``."""

    name: str  # in SHIPDESK_SANDBOX_PORTS and the banner: a carrier's code, "sms-smsru"…
    usual_port: int
    # starts it on 127.0.0.1 at that port, serving from background threads
    start: Callable[[int], Stoppable]


def declared() -> list[Emulator]:
    """Every app's sandbox emulators, by name."""
    found: dict[str, Emulator] = {}
    for config in apps.get_app_configs():
        hook = getattr(config, "sandbox_emulators", None)
        if callable(hook):
            found.update((emulator.name, emulator) for emulator in hook())
    return sorted(found.values(), key=lambda emulator: emulator.name)


def wanted() -> dict[str, int]:
    return {emulator.name: emulator.usual_port for emulator in declared()}


def current() -> dict[str, int]:
    """The ports this instance chose (empty outside ``shipdesk embedded``)."""
    ports = {}
    for item in os.environ.get(ENV, "").split(","):
        name, _sep, value = item.partition("=")
        if name and value.isdigit():
            ports[name.strip()] = int(value)
    return ports


def port(name: str, usual: int) -> int:
    return current().get(name, usual)


def _free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # as the emulators bind (http.server's allow_reuse_address): a port whose last
        # connections are still closing is free to them; one another server listens on is not
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def _any_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def allocate(*, host: str, web_port: int) -> dict[str, int]:
    """Chooses this instance's ports and puts them in the environment its children inherit."""
    shift = web_port - USUAL_WEB_PORT
    chosen: dict[str, int] = {}
    for name, usual in sorted(wanted().items()):
        candidate = usual + shift
        taken = candidate in chosen.values() or candidate == web_port
        if not 1024 <= candidate <= 65535 or taken or not _free(host, candidate):
            candidate = _any_free_port(host)
        chosen[name] = candidate
    os.environ[ENV] = ",".join(f"{name}={value}" for name, value in chosen.items())
    return chosen
