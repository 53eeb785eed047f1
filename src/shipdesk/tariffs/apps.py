from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TariffsConfig(AppConfig):
    name = "shipdesk.tariffs"
    label = "tariffs"
    verbose_name = _("Тарифы")
    nav_items = [(49, "tariffs:compare", _("Тарифы"), "money")]  # what delivery costs

    def load_demo(self, organization: Any) -> None:
        """Nothing to create: the shipped tables rate the sandbox and Russian Post carriers."""
