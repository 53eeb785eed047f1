from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from shipdesk.core.sandbox_ports import Emulator


class NotificationsConfig(AppConfig):
    name = "shipdesk.notifications"
    label = "notifications"
    verbose_name = _("Уведомления получателей")
    nav_items = [(60, "notifications:outbox", _("Уведомления"))]
    # Rules, templates and channels are addressed by their kind within the caller's own
    # organization; the unsubscribe link is a signed token checked in test_unsubscribe.
    tenant_walker_exempt = {
        "PATCH /api/v1/notifications/rules/{kind}/": "{kind} is a rule kind of the caller's org",
        "POST /api/v1/notifications/channels/{gateway}/test/": "{gateway} is a gateway name",
        "notifications:template": "{rule}/{channel} are kinds within the caller's org",
        "notifications:unsubscribe": "public signed link; tampering is tested",
        "notifications_short:unsubscribe": "public short link: {code} is 72 unguessable "
                                           "bits; unknown codes tested in test_short_links",
        "notifications:callback": "gateway callback: {gateway} is a name, {token} an "
                                  "unguessable per-account secret; tested in test_callbacks",
    }

    def sandbox_emulators(self) -> list[Emulator]:
        """The sms.ru emulator, the demo shop's SMS gateway under ``make run``."""
        from shipdesk.core.sandbox_ports import Emulator
        from shipdesk.notifications.services import SANDBOX_SMS, sandbox_sms_start, sandbox_sms_usual_port

        return [Emulator(SANDBOX_SMS, sandbox_sms_usual_port(), sandbox_sms_start)]

    def embedded_prepare(self) -> None:
        from shipdesk.notifications.services import demo_channels_repoint

        demo_channels_repoint()

    def load_demo(self, organization: Any) -> None:
        from shipdesk.notifications.services import demo_channels_connect

        demo_channels_connect(organization=organization)

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
