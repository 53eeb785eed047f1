from django.urls import path

from shipdesk.postage import views

app_name = "postage"
urlpatterns = [
    path("", views.index, name="index"),
    path("do/<str:name>/", views.action, name="action"),
    path("invoices/<int:invoice_id>.pdf", views.invoice_pdf, name="invoice_pdf"),
    path("reconciliation.xlsx", views.reconciliation_xlsx, name="reconciliation_xlsx"),
    path("accounts/<int:account_id>/statement.xlsx", views.statement_xlsx,
         name="statement_xlsx"),
    path("verify/", views.verify, name="verify"),
    path("verify/image/", views.verify_image, name="verify_image"),
]
