from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from shipdesk.core.sandbox_ports import Emulator


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

    def sandbox_emulators(self) -> list[Emulator]:
        """Each carrier emulator with sandbox credentials, named by the carrier's code."""
        from functools import partial

        from shipdesk.carriers.services import sandbox_emulators
        from shipdesk.core.sandbox_ports import Emulator

        return [Emulator(code, module.DEFAULT_PORT, partial(module.start, "127.0.0.1"))
                for code, module in sandbox_emulators().items()]

    def embedded_prepare(self) -> None:
        from shipdesk.carriers.services import sandbox_accounts_repoint

        sandbox_accounts_repoint()

    def load_demo(self, organization: Any) -> None:
        from shipdesk.carriers.services import sandbox_accounts_connect

        sandbox_accounts_connect(organization=organization)
