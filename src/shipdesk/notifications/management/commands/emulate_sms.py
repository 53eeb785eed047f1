"""``shipdesk emulate_sms GATEWAY [--port N]``: an SMS gateway's emulator as a sandbox."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipdesk.notifications.gateways import emulators


class Command(BaseCommand):
    help = (
        "Starts an SMS gateway's emulator on 127.0.0.1 (sms.ru, SMSC or SMS Aero, speaking "
        "its HTTP API), prints the channel settings that reach it, then every SMS it accepts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("gateway", choices=sorted(emulators.SANDBOX_PORTS))
        parser.add_argument("--port", type=int, default=None,
                            help="port (default: the gateway's own, see SANDBOX_PORTS)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            server, config = emulators.sandbox(options["gateway"], options["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen: {exc}") from exc
        settings = ", ".join(f"{k}={v}" for k, v in config.items())
        self.stdout.write(f"{options['gateway']} emulator: {server.base_url} ({settings})")
        server.on_message = lambda msg: self.stdout.write(emulators.sms_line(msg))
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
