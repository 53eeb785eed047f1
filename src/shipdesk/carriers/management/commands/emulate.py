"""``shipdesk emulate CARRIER --port N``: serve a carrier's protocol emulator."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipdesk.carriers import registry


class Command(BaseCommand):
    help = (
        "Starts a carrier's emulator: a local server speaking that carrier's protocol (auth, "
        "validation errors, rate limits, tracking scenarios on a clock). Carriers: "
        "see `shipdesk emulate --list`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("carrier", nargs="?", help="carrier code, e.g. sandbox, cdek, pickpoint")
        parser.add_argument("--port", type=int, default=None, help="port (default: the carrier's own)")
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
        parser.add_argument("--list", action="store_true", help="list carriers with an emulator")
        parser.add_argument("--ticket-delay", type=float, default=None,
                            help="Russian Post: seconds before a tracking ticket's answer is ready "
                                 "(default 900, as the real service)")
        parser.add_argument("--step-seconds", type=float, default=None,
                            help="Russian Post: seconds between a parcel's scripted operations "
                                 "(default 0: the scenario's own hours and days)")

    def handle(self, *args: Any, **options: Any) -> None:
        codes = registry.all_codes()
        others = _other_emulators()  # emulators other apps declare (MoySklad)
        if options["carrier"] in others:
            module = others[options["carrier"]]
            module.serve(options["host"], options["port"] or module.DEFAULT_PORT)
            return
        if options["list"] or not options["carrier"]:
            for name, module in others.items():
                self.stdout.write(f"{name}\t{module.DEFAULT_PORT}")
            for code in codes:
                try:
                    port = registry.emulator_module(code).DEFAULT_PORT
                except (ImportError, AttributeError):
                    continue
                self.stdout.write(f"{code}\t{port}")
            return
        code = options["carrier"]
        try:
            emulator = registry.emulator_module(code)
        except registry.UnknownCarrier:
            raise CommandError(f"unknown carrier {code!r}; known: {', '.join(codes)}") from None
        except ImportError as exc:
            raise CommandError(f"carrier {code!r} has no emulator: {exc}") from exc
        port = options["port"] if options["port"] is not None else emulator.DEFAULT_PORT
        timing = {k: options[k] for k in ("ticket_delay", "step_seconds") if options[k] is not None}
        if not timing:
            emulator.serve(options["host"], port)
            return
        config_type = getattr(emulator, "Config", None)
        if config_type is None or not hasattr(config_type, "ticket_delay_seconds"):
            raise CommandError(f"--ticket-delay and --step-seconds apply to russian_post only, not {code!r}")
        config = config_type(
            ticket_delay_seconds=max(0.0, timing.get("ticket_delay", emulator.ticket_delay_from_env())),
            step_seconds=max(0.0, timing.get("step_seconds", emulator.step_seconds_from_env())))
        emulator.serve(options["host"], port, config=config)


def _other_emulators() -> dict[str, Any]:
    """``{name: module}`` from the apps' ``emulators()`` hooks (a module with ``serve`` and
    ``DEFAULT_PORT``)."""
    from django.apps import apps

    found: dict[str, Any] = {}
    for config in apps.get_app_configs():
        hook = getattr(config, "emulators", None)
        if callable(hook):
            found.update(hook())
    return found
