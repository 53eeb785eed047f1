from django.contrib import admin

from shipdesk.tenancy.models import ApiKey, AuditEntry, Invitation, Membership, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ("name", "inn", "kpp", "created_at")
    search_fields = ("name", "inn")
    inlines = [MembershipInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "organization", "prefix", "role", "last_used_at", "revoked_at")
    readonly_fields = ("key_hash", "prefix")


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ("created_at", "organization", "user", "action", "object_type", "object_id")
    list_filter = ("action",)


admin.site.register(Invitation)
