from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from shipdesk.api import api
from shipdesk.core import views as core_views
from shipdesk.tenancy import views as tenancy_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password-reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password-reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("password-reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password-reset/done/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("", tenancy_views.dashboard, name="dashboard"),
    path("organization/", include("shipdesk.tenancy.urls")),
    path("carriers/", include("shipdesk.carriers.urls")),
    path("shipments/", include("shipdesk.shipments.urls")),
    path("numbering/", include("shipdesk.numbering.urls")),
    path("tariffs/", include("shipdesk.tariffs.urls")),
    path("documents/", include("shipdesk.documents.urls")),
    path("tracking/", include("shipdesk.tracking.urls")),
    path("notifications/", include("shipdesk.notifications.urls")),
    path("analytics/", include("shipdesk.analytics.urls")),
    path("finance/", include("shipdesk.finance.urls")),
    path("integrations/", include("shipdesk.integrations.urls")),
    path("claims/", include("shipdesk.claims.urls")),
    path("postage/", include("shipdesk.postage.urls")),
    path("u/", include("shipdesk.notifications.short_urls")),  # short SMS unsubscribe links
]
