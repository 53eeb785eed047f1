from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "shipdesk.documents"
    label = "documents"
    verbose_name = _("Партии и документы")
    nav_items = [(20, "documents:batches", _("Партии"))]

    def ready(self) -> None:
        from datetime import timedelta

        from shipdesk.core import duework
        from shipdesk.documents import tasks
        from shipdesk.documents.models import GeneratedDocument

        duework.register(duework.DueWork(
            name="documents.generate", model=GeneratedDocument, due_field="retry_at",
            task=tasks.generate_documents, lease=timedelta(minutes=15), chunk_size=50))
