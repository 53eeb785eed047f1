from __future__ import annotations

from django.contrib import admin

from shipdesk.numbering.models import NumberPool


@admin.register(NumberPool)
class NumberPoolAdmin(admin.ModelAdmin):
    list_display = ("organization", "carrier_code", "kind", "prefix", "country", "serial_first",
                    "serial_last", "next_serial", "low_threshold", "is_active")
    list_filter = ("carrier_code", "kind", "is_active", "source")
    search_fields = ("organization__name", "prefix")
    # The range and the counter are never edited by hand: lowering the counter would issue
    # numbers twice. New ranges go through the page or the API, which check overlaps.
    readonly_fields = ("organization", "carrier_code", "kind", "source", "prefix", "country",
                       "serial_first", "serial_last", "next_serial", "low_since")

    def has_add_permission(self, request: object) -> bool:
        return False
