import datetime as dt
from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ClaimsConfig(AppConfig):
    name = "shipdesk.claims"
    label = "claims"
    verbose_name = _("Претензии")
    nav_items = [(46, "claims:index", _("Претензии"))]
    tenant_walker_params = {"claim_id": "claims.Claim", "candidate_id": "claims.Candidate",
                            "audit_id": "claims.Audit"}

    def ready(self) -> None:
        from shipdesk.claims import tasks
        from shipdesk.claims.models import Audit, Claim, ClaimsSettings
        from shipdesk.core import duework

        duework.register(duework.DueWork(
            name="claims.reminders", model=Claim, due_field="next_reminder_at",
            task=tasks.send_reminders, chunk_size=200))
        duework.register(duework.DueWork(
            name="claims.detect", model=ClaimsSettings, due_field="next_detect_at",
            task=tasks.detect, chunk_size=5, lease=dt.timedelta(hours=1)))
        duework.register(duework.DueWork(
            name="claims.audits", model=Audit, due_field="due_at", task=tasks.run_audits,
            chunk_size=1, lease=dt.timedelta(hours=2)))

    def load_demo(self, organization: Any) -> None:
        from shipdesk.claims.demo import demo_load

        demo_load(organization)
