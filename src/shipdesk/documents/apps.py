from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DocumentsConfig(AppConfig):
    name = "shipdesk.documents"
    label = "documents"
    verbose_name = _("Партии и документы")
    nav_items = [(20, "documents:batches", _("Партии"))]
