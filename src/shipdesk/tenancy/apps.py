from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenancyConfig(AppConfig):
    name = "shipdesk.tenancy"
    label = "tenancy"
    verbose_name = _("Организации и пользователи")
    nav_items = [(900, "tenancy:settings", _("Организация"))]
