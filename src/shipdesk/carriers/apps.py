import sys
from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CarriersConfig(AppConfig):
    name = "shipdesk.carriers"
    label = "carriers"
    verbose_name = _("Перевозчики")
    nav_items = [(60, "carriers:accounts", _("Перевозчики"))]
    tenant_walker_exempt = {
        "carriers:account_create": "{carrier_code} names a carrier kind, not an object",
        "POST /api/v1/carriers/webhooks/{token}": (
            "a carrier calls it without a session or key; an unknown token is a 404 "
            "(tested in carriers/tests/test_accounts.py)"),
    }

    def embedded_processes(self) -> list[tuple[str, list[str]]]:
        """Every carrier emulator on its default port: the sandbox carriers of ``make run``."""
        from shipdesk.carriers import registry

        processes = []
        for code in registry.all_codes():
            try:
                emulator = registry.emulator_module(code)
            except ImportError:
                continue
            port = getattr(emulator, "DEFAULT_PORT", None)
            if port is not None and hasattr(emulator, "SANDBOX_CREDENTIALS"):
                processes.append(
                    (
                        f"emulator-{code}",
                        [sys.executable, "-m", "shipdesk.cli", "emulate", code, "--port", str(port)],
                    )
                )
        return processes

    def load_demo(self, organization: Any) -> None:
        from shipdesk.carriers.services import sandbox_accounts_connect

        sandbox_accounts_connect(organization=organization)
