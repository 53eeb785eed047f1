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
]
