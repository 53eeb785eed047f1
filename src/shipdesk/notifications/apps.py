from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "shipdesk.notifications"
    label = "notifications"
    verbose_name = _("Уведомления получателей")
    nav_items = [(60, "notifications:outbox", _("Уведомления"))]

    def ready(self) -> None:
        from django.db.models import Q

        from shipdesk.core import duework
        from shipdesk.notifications import tasks
        from shipdesk.notifications.models import FeedCursor, Message, MessageStatus

        duework.register(duework.DueWork(
            name="notifications.send", model=Message, due_field="due_at",
            task=tasks.send_messages, chunk_size=500, max_per_sweep=200_000,
            extra_filter=lambda: Q(status=MessageStatus.PENDING)))
        duework.register(duework.DueWork(
            name="notifications.jobs", model=FeedCursor, due_field="due_at",
            task=tasks.run_jobs, chunk_size=10))
