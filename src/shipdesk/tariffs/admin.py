from __future__ import annotations

from django.contrib import admin

from shipdesk.tariffs.models import RatingRule, TariffTable


@admin.register(TariffTable)
class TariffTableAdmin(admin.ModelAdmin):
    list_display = ("carrier_code", "effective_from", "organization", "name", "source",
                    "updated_at")
    list_filter = ("carrier_code",)
    # Tables are loaded with ``shipdesk load-tariffs FILE``, which checks them whole.
    readonly_fields = ("carrier_code", "effective_from", "organization", "data", "source")

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(RatingRule)
class RatingRuleAdmin(admin.ModelAdmin):
    list_display = ("organization", "prefer")
