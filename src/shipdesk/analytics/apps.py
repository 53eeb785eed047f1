from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "shipdesk.analytics"
    label = "analytics"
    verbose_name = _("Статистика")
    # in the menu's «Деньги» group: volumes, deliveries and what they cost
    nav_items = [(50, "analytics:dashboard", _("Статистика"), "money")]
    # a table's name, not an object id: every table is summed within the caller's own
    # organization (test_another_organization_sees_none_of_it)
    tenant_walker_exempt = {
        "GET /api/v1/analytics/tables/{name}": "{name} is a table kind of the caller's org",
        "analytics:export": "{name}/{fmt} are a table kind and a file format",
    }

    def ready(self) -> None:
        from shipdesk.analytics import tasks
        from shipdesk.analytics.models import AnalyticsSettings
        from shipdesk.core import duework

        # the weekly report is due work on its settings row (one per organization)
        duework.register(duework.DueWork(
            name="analytics.weekly_report", model=AnalyticsSettings, due_field="next_report_at",
            task=tasks.weekly_report, chunk_size=50))
