from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShipmentsConfig(AppConfig):
    name = "shipdesk.shipments"
    label = "shipments"
    verbose_name = _("Отправления")
    # the import opens from the list's «Загрузить файл» (the top bar must fit 1366 px)
    nav_items = [(10, "shipments:list", _("Отправления")),
                 (61, "shipments:senders", _("Отправители")),
                 (62, "shipments:delivery_rules", _("Правила выбора перевозчика"))]
    tenant_walker_exempt = {
        "shipments:export": "{fmt} is a file format; the list is always the caller's own",
        "shipments:import_error_list": (
            "{fmt} is a file format; another organization's job is a 404 "
            "(shipments/tests/test_import_mapping.py)"),
    }

    @property
    def periodic_tasks(self) -> tuple[tuple[str, float, str], ...]:
        """Beat entries: in embedded mode (the demo), the demo's autopilot."""
        from shipdesk import env

        if not env.EMBEDDED:
            return ()
        return (("shipments: demo autopilot", 60.0, "shipdesk.shipments.tasks.demo_autopilot_task"),)

    def ready(self) -> None:
        from django.db.models import Q

        from shipdesk.core import duework
        from shipdesk.shipments import registration, tasks
        from shipdesk.shipments.models import Registration, Shipment

        # registrations whose dispatched message was lost, read-backs of asynchronous
        # carriers and retries after a carrier was down
        duework.register(duework.DueWork(
            name="shipments.register", model=Shipment, due_field="register_due_at",
            task=tasks.register_task, chunk_size=1000, lease=registration.REGISTRATION_LEASE,
            extra_filter=lambda: Q(registration=Registration.PENDING)))

    def load_demo(self, organization: Any) -> None:
        """A sender profile and a few hundred shipments in various states."""
        from shipdesk.shipments.demo import demo_shipments_create

        demo_shipments_create(organization=organization)
