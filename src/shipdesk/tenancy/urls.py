from django.urls import path

from shipdesk.tenancy import views

app_name = "tenancy"
urlpatterns = [
    path("switch/", views.organization_switch, name="switch"),
    path("settings/", views.organization_settings, name="settings"),
    path("members/", views.member_list, name="members"),
    path("members/<int:membership_id>/role/", views.member_set_role, name="member_set_role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("invitations/<int:invitation_id>/revoke/", views.invitation_revoke,
         name="invitation_revoke"),
    path("invitations/accept/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("api-keys/", views.api_key_list, name="api_keys"),
    path("api-keys/<int:api_key_id>/revoke/", views.api_key_revoke, name="api_key_revoke"),
    path("audit/", views.audit_log, name="audit"),
    path("installation/", views.installation_organizations, name="installation"),
]
