from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from shipdesk.core.sandbox_ports import Emulator


class IntegrationsConfig(AppConfig):
    name = "shipdesk.integrations"
    label = "integrations"
    verbose_name = _("Интеграции")
    # Shop platforms, MoySklad
    nav_items = [(56, "integrations:moysklad", _("МойСклад"), "integrations"),
                 (57, "integrations:shops", _("Магазины"), "integrations")]
    tenant_walker_exempt = {
        "integrations:shop_hook": "the webhook's token names the connection",
        "POST /api/v1/integrations/moysklad/webhook/{token}": (
            "MoySklad calls it without a session or key: {token} is an unguessable "
            "per-connection secret; unknown tokens are a 404 (tested in test_moysklad.py)"),
    }

    def emulators(self) -> dict[str, object]:
        """``shipdesk emulate NAME``: emulators of the services this app talks to."""
        # MoySklad
        from shipdesk.integrations.moysklad import emulator as moysklad

        return {"moysklad": moysklad}

    def sandbox_emulators(self) -> list[Emulator]:
        # MoySklad: its emulator beside the sandbox carriers (``make run``)
        from functools import partial

        from shipdesk.core.sandbox_ports import Emulator
        from shipdesk.integrations.moysklad import emulator
        from shipdesk.integrations.moysklad.demo import SANDBOX

        return [Emulator(SANDBOX, emulator.DEFAULT_PORT, partial(emulator.start, "127.0.0.1"))]

    def embedded_prepare(self) -> None:
        # MoySklad: a sandbox connection follows this instance's emulator port
        from shipdesk.integrations.moysklad.demo import demo_connections_repoint

        demo_connections_repoint()

    def load_demo(self, organization: Any) -> None:
        """The demo shop is connected to the MoySklad emulator ``make run`` starts."""
        from shipdesk.integrations.moysklad.demo import demo_connection_create

        demo_connection_create(organization=organization)

    def demo_started(self, organization: Any, public_url: str) -> None:
        """Once the web app and the emulator answer: states read, webhook subscribed."""
        from shipdesk.integrations.moysklad.demo import demo_connection_start

        demo_connection_start(organization=organization, public_url=public_url)

    def ready(self) -> None:
        from django.db.models import Q

        from shipdesk.core import duework
        from shipdesk.integrations import tasks
        from shipdesk.integrations.models import MoySkladConnection, ShopOrder
        from shipdesk.integrations.shops import tasks as shop_tasks

        # MoySklad
        duework.register(duework.DueWork(
            name="integrations.moysklad", model=MoySkladConnection, due_field="due_at",
            task=tasks.moysklad_run, chunk_size=10,
            extra_filter=lambda: Q(is_active=True, paused_at__isnull=True)))
        # Shop platforms
        duework.register(duework.DueWork(
            name="integrations.shop_orders_push", model=ShopOrder, due_field="push_due_at",
            task=shop_tasks.push_orders, chunk_size=50))
