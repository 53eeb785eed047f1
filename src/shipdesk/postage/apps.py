from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostageConfig(AppConfig):
    name = "shipdesk.postage"
    label = "postage"
    verbose_name = _("Франкирование")
    # in the menu's «Деньги» group, beside payouts and tariffs
    nav_items = [(61, "postage:index", _("Франкирование"), "money")]
    tenant_walker_params = {"account_id": "postage.PostageAccount",
                            "invoice_id": "postage.Invoice", "mark_id": "postage.Mark",
                            "payment_id": "postage.StatementPayment"}
    # the page's one-button forms: {name} is the action; the ids come in the form, and every
    # service they reach scopes them to the organization (tests: another organization's
    # mark, item or invoice is refused)
    tenant_walker_exempt = {"postage:action": "action name, not an object id"}

    def ready(self) -> None:
        from shipdesk.core import duework
        from shipdesk.finance import mailin
        from shipdesk.postage import tasks
        from shipdesk.postage.models import PostageJob

        duework.register(duework.DueWork(
            name="postage.jobs", model=PostageJob, due_field="due_at",
            task=tasks.marks_from_tracking, chunk_size=10))
        mailin.register_attachment_handler(_statement_from_mail)


def _statement_from_mail(actor: object, name: str, content: bytes) -> bool:
    """A bank's e-mailed statement (1C "Client Bank" text) reaching the finance mailbox."""
    from shipdesk.postage import clientbank, services

    if not clientbank.is_statement(content):
        return False
    services.statement_import(actor=actor, filename=name, content=content,  # type: ignore[arg-type]
                              source="mail")
    return True
