from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ShipmentsConfig(AppConfig):
    name = "shipdesk.shipments"
    label = "shipments"
    verbose_name = _("Отправления")
    nav_items = [(10, "shipments:list", _("Отправления")),
                 (11, "shipments:import", _("Загрузка файла"))]

    def load_demo(self, organization: Any) -> None:
        """A sender profile and a few hundred shipments in various states."""
        from shipdesk.shipments.demo import demo_shipments_create

        demo_shipments_create(organization=organization)
