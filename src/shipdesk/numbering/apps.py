from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NumberingConfig(AppConfig):
    name = "shipdesk.numbering"
    label = "numbering"
    verbose_name = _("Трек-номера")
    nav_items = [(63, "numbering:pools", _("Трек-номера"))]  # set up once: under «Настройки»

    def load_demo(self, organization: Any) -> None:
        """Demo number pools for the sandbox and Russian Post carriers."""
        from shipdesk.numbering.services import demo_pools_create

        demo_pools_create(organization=organization)
