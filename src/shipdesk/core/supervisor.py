"""A small process supervisor for embedded mode: starts named children, prefixes each line of
their output with the name, stops them all on SIGINT/SIGTERM, and stops everything when one
of them dies. A closed terminal (SIGHUP) or a reader that went away (a broken pipe) stops
the children too: they run in their own sessions, so nothing else would, and they would hold
their ports against the next start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import IO

STOP_TIMEOUT = 20.0


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    reader: threading.Thread | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, children: Sequence[tuple[str, list[str]]], *, env: dict[str, str] | None = None,
                 out: IO[str] | None = None) -> None:
        self.children = [Child(name, list(argv)) for name, argv in children]
        self.env = env
        self.out = out or sys.stdout
        self.width = max((len(c.name) for c in self.children), default=0)
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def say(self, name: str, line: str) -> None:
        with self._lock:
            try:
                self.out.write(f"{name:<{self.width}} | {line}\n")
                self.out.flush()
            except (BrokenPipeError, ValueError):
                # nobody reads our output any more (``| head``, a closed terminal): stop
                self._stop.set()

    def _pump(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        for raw in iter(child.process.stdout.readline, b""):
            self.say(child.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def start(self) -> None:
        for child in self.children:
            child.process = subprocess.Popen(
                child.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=self.env,
                # Own process group: a Ctrl-C in the terminal reaches only the supervisor,
                # which then stops the children in order instead of all at once.
                start_new_session=True,
            )
            child.reader = threading.Thread(target=self._pump, args=(child,), daemon=True)
            child.reader.start()

    def request_stop(self, *_args: object) -> None:
        self._stop.set()

    def dead_child(self) -> Child | None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                return child
        return None

    def wait(self, *, poll: float = 0.3) -> int:
        """Blocks until asked to stop (returns 0) or a child dies (returns 1)."""
        while not self._stop.wait(poll):
            dead = self.dead_child()
            if dead is not None:
                assert dead.process is not None
                self.say("shipdesk", f"{dead.name} exited with code {dead.process.returncode};"
                                     " stopping everything")
                return 1
        return 0

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("shipdesk", f"{child.name} did not stop in {timeout:.0f}s; killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.process.pid, signal.SIGKILL)
                child.process.wait()
        for child in self.children:
            if child.reader is not None:
                child.reader.join(timeout=2)

    def run(self) -> int:
        """Start, supervise, stop: the exit code for the command (0 after Ctrl-C)."""
        previous = {sig: signal.signal(sig, self.request_stop)
                    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            self.start()
            code = self.wait()
            self.say("shipdesk", "stopping…")
            return code
        finally:
            self.stop()
            self.say("shipdesk", "stopped")
            for sig, handler in previous.items():
                signal.signal(sig, handler)
