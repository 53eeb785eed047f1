from django.apps import AppConfig
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class FinanceConfig(AppConfig):
    name = "shipdesk.finance"
    label = "finance"
    verbose_name = _("Деньги: наложенный платёж, отчёты перевозчиков, учёт")
    nav_items = [(47, "finance:index", _("Обзор"), "money")]  # the «Деньги» group's first
    tenant_walker_params = {"report_id": "finance.PayoutReport", "row_id": "finance.PayoutRow",
                            "account_id": "carriers.CarrierAccount"}

    def ready(self) -> None:
        from shipdesk.core import duework
        from shipdesk.finance import tasks
        from shipdesk.finance.models import FinanceJob, FinanceTerms, Mailbox

        duework.register(duework.DueWork(
            name="finance.mailboxes", model=Mailbox, due_field="due_at",
            task=tasks.poll_mailboxes, chunk_size=10))
        duework.register(duework.DueWork(
            name="finance.registries", model=FinanceTerms, due_field="pull_due_at",
            task=tasks.pull_registries, chunk_size=5,
            extra_filter=lambda: Q(pull_registries=True)))
        duework.register(duework.DueWork(
            name="finance.jobs", model=FinanceJob, due_field="due_at", task=tasks.run_jobs,
            chunk_size=10))
