from django.urls import path

from shipdesk.finance import views

app_name = "finance"
urlpatterns = [
    path("", views.index, name="index"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:report_id>/", views.report, name="report"),
    path("reports/<int:report_id>/mapping/", views.report_map, name="report_map"),
    path("orders/", views.orders, name="orders"),
    path("pnl/", views.pnl, name="pnl"),
    path("ledger.xlsx", views.ledger_xlsx, name="ledger_xlsx"),
    path("reports/<int:report_id>/rows/<int:row_id>/resolve/", views.row_resolve,
         name="row_resolve"),
    path("settings/", views.settings, name="settings"),
    path("settings/<int:account_id>/pull/", views.registries_pull, name="registries_pull"),
]
