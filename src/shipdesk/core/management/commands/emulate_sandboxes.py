"""``shipdesk emulate_sandboxes``: every sandbox emulator, from one process."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any, NoReturn

from django.core.management.base import BaseCommand, CommandError

from shipdesk.core import sandbox_ports


def _interrupt(_signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = ("Serves every sandbox emulator the apps declare (the sandbox carriers, the sms.ru "
            "gateway, MoySklad) from this one process on 127.0.0.1, each on its own port: this "
            "instance's under `make run`, else its usual one. Prints `name :port` for each; "
            "stops them all on Ctrl-C or SIGTERM.")

    def handle(self, *args: Any, **options: Any) -> None:
        # the supervisor of `shipdesk embedded` stops its children with SIGTERM
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)
        started: list[sandbox_ports.Stoppable] = []
        try:
            for emulator in sandbox_ports.declared():
                port = sandbox_ports.port(emulator.name, emulator.usual_port)
                try:
                    started.append(emulator.start(port))
                except OSError as exc:
                    raise CommandError(f"{emulator.name}: cannot listen on :{port}: {exc}") from exc
                self.stdout.write(f"{emulator.name} :{port}")
                self.stdout.flush()
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            # at once: each waits up to its server's poll interval
            stopping = [threading.Thread(target=server.stop) for server in started]
            for thread in stopping:
                thread.start()
            for thread in stopping:
                thread.join(10)
