from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TariffsConfig(AppConfig):
    name = "shipdesk.tariffs"
    label = "tariffs"
    verbose_name = _("Тарифы")
    nav_items = [(45, "tariffs:compare", _("Тарифы"))]

    def load_demo(self, organization: Any) -> None:
        """Nothing to create: the shipped tables rate the sandbox and Russian Post carriers."""
