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

    def sandbox_ports(self) -> dict[str, int]:
        """Each carrier emulator with sandbox credentials, on its usual port."""
        from shipdesk.carriers.services import sandbox_emulators

        return {code: emulator.DEFAULT_PORT for code, emulator in sandbox_emulators().items()}

    def embedded_processes(self) -> list[tuple[str, list[str]]]:
        """Every sandbox carrier's emulator, on this instance's port for it."""
        from shipdesk.core import sandbox_ports

        return [(f"emulator-{code}",
                 [sys.executable, "-m", "shipdesk.cli", "emulate", code,
                  "--port", str(sandbox_ports.port(code, usual))])
                for code, usual in self.sandbox_ports().items()]

    def embedded_prepare(self) -> None:
        from shipdesk.carriers.services import sandbox_accounts_repoint

        sandbox_accounts_repoint()

    def load_demo(self, organization: Any) -> None:
        from shipdesk.carriers.services import sandbox_accounts_connect

        sandbox_accounts_connect(organization=organization)
