from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PostageConfig(AppConfig):
    name = "shipdesk.postage"
    label = "postage"
    verbose_name = _("Франкирование")
