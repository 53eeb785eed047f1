from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "shipdesk.analytics"
    label = "analytics"
    verbose_name = _("Статистика")
    nav_items = [(50, "analytics:dashboard", _("Статистика"))]

    def ready(self) -> None:
        from shipdesk.analytics import tasks
        from shipdesk.analytics.models import AnalyticsSettings
        from shipdesk.core import duework

        # the weekly report is due work on its settings row (one per organization)
        duework.register(duework.DueWork(
            name="analytics.weekly_report", model=AnalyticsSettings, due_field="next_report_at",
            task=tasks.weekly_report, chunk_size=50))
