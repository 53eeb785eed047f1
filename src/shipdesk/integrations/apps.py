from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "shipdesk.integrations"
    label = "integrations"
    verbose_name = _("Интеграции")
    # Shop platforms
    nav_items = [(62, "integrations:shops", _("Магазины"))]
    tenant_walker_exempt = {"integrations:shop_hook": "the webhook's token names the connection"}

    def ready(self) -> None:
        # Shop platforms
        from shipdesk.core import duework
        from shipdesk.integrations.models import ShopOrder
        from shipdesk.integrations.shops import tasks as shop_tasks

        duework.register(duework.DueWork(
            name="integrations.shop_orders_push", model=ShopOrder, due_field="push_due_at",
            task=shop_tasks.push_orders, chunk_size=50))
