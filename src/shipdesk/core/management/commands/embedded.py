"""``shipdesk embedded``: what ``make run`` starts."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import urllib.request
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipdesk.core import demo, sandbox_ports
from shipdesk.core.supervisor import Supervisor


def celery_queues() -> list[str]:
    """Every queue a task can be routed to: an embedded worker listens on all of them."""
    from shipdesk.celery import app

    queues = {app.conf.task_default_queue or "default"}
    for route in (app.conf.task_routes or {}).values():
        if isinstance(route, dict) and route.get("queue"):
            queues.add(route["queue"])
    return sorted(queues)


# seconds (one try a second) the demo's set-up waits for the emulators once the web app
# answers: they start beside it, and a loaded machine is slow to bring them up
DEMO_START_TRIES = 30


def child_processes(*, host: str, port: int, web_workers: int = 2) -> list[tuple[str, list[str]]]:
    py = sys.executable
    children: list[tuple[str, list[str]]] = [
        # the same gunicorn settings as the scale-out web processes (see the README)
        ("web", [py, "-m", "gunicorn", "shipdesk.wsgi:application",
                 "--config", "python:shipdesk.core.gunicorn_conf", "--bind", f"{host}:{port}",
                 "--workers", str(web_workers), "--access-logfile", "-"]),
        ("worker", [py, "-m", "celery", "-A", "shipdesk", "worker", "--pool", "threads",
                    "--concurrency", "4", "-Q", ",".join(celery_queues()), "--loglevel", "INFO",
                    "--without-gossip", "--without-mingle", "--hostname", "embedded@%h"]),
        ("beat", [py, "-m", "celery", "-A", "shipdesk", "beat", "--loglevel", "INFO",
                  "--schedule", str(settings.CELERY_BEAT_SCHEDULE_FILENAME)]),
    ]
    if sandbox_ports.declared():
        # every app's sandbox emulators, each on this instance's port, in one process
        children.append(("emulators", [py, "-m", "shipdesk.cli", "emulate_sandboxes"]))
    for config in apps.get_app_configs():
        hook = getattr(config, "embedded_processes", None)
        if callable(hook):
            children.extend((name, list(argv)) for name, argv in hook())
    return children


class Command(BaseCommand):
    help = ("Embedded mode: migrate, create the demo organization and data, then run the web app, "
            "a Celery worker, the scheduler and the sandbox carriers until Ctrl-C.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address the web app listens on")
        parser.add_argument("--port", type=int, default=8000, help="port of the web app (8000)")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
        parser.add_argument("--no-demo", action="store_true", help="do not create demo data")
        parser.add_argument("--setup-only", action="store_true",
                            help="migrate and create the demo data, start nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SHIPDESK_MODE == "embedded":
            raise CommandError("shipdesk embedded runs only with SHIPDESK_MODE=embedded")
        host, port = options["host"], options["port"]
        url = f"http://{host}:{port}/"
        # the sandbox carriers' pace, before the sandbox accounts and the emulators see it
        demo.demo_pace_apply(os.environ)
        # this instance's own emulator ports, before any sandbox account is written
        sandbox_ports.allocate(host=host, web_port=port)
        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        for config in apps.get_app_configs():
            prepare = getattr(config, "embedded_prepare", None)
            if callable(prepare):
                prepare()
        if not (settings.STATIC_ROOT / "core" / "shipdesk.css").exists():
            call_command("collectstatic", interactive=False, verbosity=0)
        login = None
        if not options["no_demo"]:
            login = demo.demo_login_ensure()
            loaded = demo.demo_load(organization=login.organization)
            if loaded:
                self.stdout.write(f"Demo data loaded: {', '.join(loaded)}")
        if options["setup_only"]:
            self._banner(url, login, running=False)
            return

        env = dict(os.environ)
        env.update(SHIPDESK_MODE="embedded", SHIPDESK_DATA_DIR=str(settings.DATA_DIR),
                   PYTHONUNBUFFERED="1", DJANGO_SETTINGS_MODULE="shipdesk.settings")
        env.setdefault("SHIPDESK_PUBLIC_URL", url.rstrip("/"))
        supervisor = Supervisor(child_processes(host=host, port=port,
                                                web_workers=options["web_workers"]), env=env)
        threading.Thread(target=self._announce_when_up, args=(supervisor, url, login),
                         daemon=True).start()
        code = supervisor.run()
        if code:
            raise SystemExit(code)

    def _announce_when_up(self, supervisor: Supervisor, url: str, login: demo.DemoLogin | None) -> None:
        for _attempt in range(240):
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            return
        if login is not None:
            public_url = os.environ.get("SHIPDESK_PUBLIC_URL") or url
            self._subscribe_demo_webhooks(login, public_url)
            self._demo_started(login, public_url)
        with supervisor._lock:
            self._banner(url, login)

    def _subscribe_demo_webhooks(self, login: demo.DemoLogin, public_url: str) -> None:
        """The demo's sandbox carriers post their events as they happen (see core.demo)."""
        from django.db import connection

        failed: list[str] | None = None
        try:
            for _attempt in range(DEMO_START_TRIES):  # the emulators start beside the web app
                problems = demo.demo_webhooks_subscribe(
                    organization=login.organization, public_url=public_url, carriers=failed)
                failed = [code for code, problem in problems.items() if problem]
                if not failed:
                    break
                time.sleep(1)
        except Exception:  # the demo runs on without webhooks: polls still bring the events
            logging.getLogger(__name__).exception("demo webhooks not subscribed")
        finally:
            connection.close()  # this thread's own connection

    def _demo_started(self, login: demo.DemoLogin, public_url: str) -> None:
        """Every app's ``demo_started(organization, public_url)`` hook, once the web app
        answers (e.g. MoySklad's sandbox connection reads its emulator's states)."""
        from django.db import connection

        try:
            for config in apps.get_app_configs():
                hook = getattr(config, "demo_started", None)
                if not callable(hook):
                    continue
                for attempt in range(DEMO_START_TRIES):  # the emulators start beside the web app
                    try:
                        hook(login.organization, public_url.rstrip("/"))
                        break
                    except Exception:
                        if attempt == DEMO_START_TRIES - 1:
                            logging.getLogger(__name__).exception(
                                "demo: %s not started", config.label)
                        time.sleep(1)
        finally:
            connection.close()  # this thread's own connection

    def _banner(self, url: str, login: demo.DemoLogin | None, *, running: bool = True) -> None:
        head = (f"  Shipdesk is running: {url}" if running
                else "  Shipdesk is ready; start it with `make run`.")
        lines = ["", "=" * 60, head]
        ports = sandbox_ports.current()
        if ports:
            lines.append("  Sandbox emulators: " + ", ".join(f"{name} :{number}"
                                                           for name, number in ports.items()))
        if login is not None:
            lines += [f"  Login:    {login.email}", f"  Password: {login.password}",
                      f"  Organization: {login.organization.name} (id {login.organization.pk};"
                      f" the CLI's --org {login.organization.pk})"]
        lines += ["  Stop with Ctrl-C." if running else "", "=" * 60, ""]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()
