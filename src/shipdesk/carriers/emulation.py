"""A small HTTP server kit for carrier emulators (stdlib only, no Django).

An emulator is an :class:`App` (routes + state) served by :func:`serve_app` (blocking, for
``shipdesk emulate``) or :func:`start` (a background thread: tests, benchmarks, and the one
process that serves every sandbox emulator under ``make run``, see ``core.sandbox_ports``).
Every emulator has the same control endpoints under ``/__emulator__/``:

* ``POST /__emulator__/clock {"advance_hours": 24}`` or ``{"now": "2026-01-01T00:00:00+00:00"}``
  moves its clock (tracking scenarios advance with it; a test hook: left alone, the clock is
  the real time, so no event is ever stamped in the future); ``{"step_seconds": 20}`` paces
  the scenarios (each step that many seconds after the one before; 0: as scripted);
* ``POST /__emulator__/fail {"mode": "outage"|"slow"|"html"|"truncated"|"rate_limit"|"",
  "count": N, "seconds": S}`` makes the next N requests fail that way;
* ``GET /__emulator__/state`` dumps the state as JSON (for tests and support).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

STEP_SECONDS_ENV = "SHIPDESK_SANDBOX_STEP_SECONDS"


def step_seconds_from_env() -> float:
    """The pace of a served emulator's scenarios: ``SHIPDESK_SANDBOX_STEP_SECONDS`` (``make
    run`` sets it, see ``core.demo``), else 0: the scripted, realistic hours and days."""
    try:
        return max(0.0, float(os.environ.get(STEP_SECONDS_ENV) or 0))
    except ValueError:
        return 0.0


class Clock:
    """The emulator's own time: the real time, plus whatever a test tells it to jump
    (``advance``/``set``). It never runs faster than real time: demos go faster by pacing
    the scenarios (``App.step_seconds``), so events are never stamped in the future."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta

    def set(self, when: datetime) -> None:
        current = self.now()
        with self._lock:
            self._offset += when - current


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(status, json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"),
                    "application/json; charset=utf-8", headers or {})


Handler = Callable[[Request], Response]


class App:
    """Routes (method, path pattern with ``{name}`` parts) to handlers; failure injection."""

    def __init__(self, *, step_seconds: float = 0.0) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.clock = Clock()
        # seconds between a parcel's scripted steps; 0: the scenario's own hours and days
        self.step_seconds = step_seconds
        self.lock = threading.RLock()
        self.fail_mode = ""
        self.fail_count = 0
        self.fail_seconds = 0.0
        self.requests_seen = 0
        self.route("POST", "/__emulator__/clock", self._control_clock)
        self.route("POST", "/__emulator__/fail", self._control_fail)
        self.route("GET", "/__emulator__/state", lambda r: json_response(self.state()))

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.routes.append((method, regex, handler))

    def state(self) -> dict[str, Any]:
        return {"now": self.clock.now().isoformat(), "requests_seen": self.requests_seen,
                "step_seconds": self.step_seconds}

    def _control_clock(self, request: Request) -> Response:
        data = request.json() or {}
        if "now" in data:
            self.clock.set(datetime.fromisoformat(data["now"]))
        if "advance_hours" in data:
            self.clock.advance(timedelta(hours=float(data["advance_hours"])))
        if "step_seconds" in data:
            self.step_seconds = max(0.0, float(data["step_seconds"]))
        self.on_clock()
        return json_response({"now": self.clock.now().isoformat(), "step_seconds": self.step_seconds})

    def on_clock(self) -> None:
        """Called after the clock moved (emulators post due webhooks here)."""

    def _control_fail(self, request: Request) -> Response:
        data = request.json() or {}
        with self.lock:
            self.fail_mode = str(data.get("mode", ""))
            self.fail_count = int(data.get("count", 1))
            self.fail_seconds = float(data.get("seconds", 0))
        return json_response({"mode": self.fail_mode, "count": self.fail_count})

    def injected_failure(self) -> Response | None:
        with self.lock:
            if not self.fail_mode or self.fail_count <= 0:
                return None
            self.fail_count -= 1
            mode = self.fail_mode
            if self.fail_count == 0:
                self.fail_mode = ""
        if mode == "outage":
            return Response(503, b"<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                            "text/html")
        if mode == "html":
            return Response(200, b"<html><body>Maintenance</body></html>", "text/html")
        if mode == "truncated":
            return Response(200, b'{"entity": {"uuid": "abc', "application/json")
        if mode == "rate_limit":
            return json_response({"errors": [{"code": "rate_limit", "message": "Too many requests"}]},
                                 429, {"Retry-After": "1"})
        if mode == "slow":
            time.sleep(self.fail_seconds or 3.0)
            return None
        if mode == "status_418":
            return Response(418, b"I'm a teapot", "text/plain")
        return None

    def dispatch(self, request: Request) -> Response:
        if not request.path.startswith("/__emulator__/"):
            with self.lock:
                self.requests_seen += 1
            failure = self.injected_failure()
            if failure is not None:
                return failure
        allowed = False
        for method, regex, handler in self.routes:
            match = regex.match(request.path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            try:
                return handler(request)
            except ValueError as exc:  # malformed input: the carrier answers 400, never dies
                return json_response({"errors": [{"code": "bad_request", "message": str(exc)}]}, 400)
        if allowed:
            return json_response({"errors": [{"code": "method_not_allowed", "message": request.method}]}, 405)
        return json_response({"errors": [{"code": "not_found", "message": request.path}]}, 404)


class _Handler(BaseHTTPRequestHandler):
    app: App
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in separate writes: no 40 ms stalls

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(method=self.command, path=parts.path, query=parse_qs(parts.query),
                          headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        response = self.app.dispatch(request)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(response.body)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                return

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:  # quiet; the client logs
        return


def make_server(app: App, host: str, port: int) -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"app": app})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def serve_app(app: App, host: str, port: int) -> None:
    serve_running(start(app, host, port))


def serve_running(running: Running) -> None:
    """Blocks until Ctrl-C, then stops the emulator (``shipdesk emulate CARRIER``)."""
    print(f"emulator listening on {running.url}", flush=True)
    try:
        while running.thread.is_alive():
            running.thread.join(3600)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


@dataclass
class Running:
    app: App
    server: ThreadingHTTPServer
    thread: threading.Thread
    # set by stop(): an emulator's own background work (pushing webhooks) ends with it
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        self.stopped.set()
        self.server.shutdown()
        self.server.server_close()


def start(app: App, host: str = "127.0.0.1", port: int = 0) -> Running:
    """Serves the app from a background thread; ``port=0`` picks a free port."""
    server = make_server(app, host, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="carrier-emulator")
    thread.start()
    return Running(app, server, thread)
