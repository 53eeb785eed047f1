from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "shipdesk.core"
    label = "core"
    verbose_name = "Shipdesk core"
