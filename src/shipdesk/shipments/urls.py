from django.urls import path

from shipdesk.shipments import views

app_name = "shipments"
urlpatterns = [
    path("", views.shipment_list, name="list"),
    path("bulk/", views.shipment_bulk_action, name="bulk"),
    path("new/", views.shipment_form, name="create"),
    path("validate/", views.shipment_validate, name="validate"),
    path("<int:shipment_id>/", views.shipment_detail, name="detail"),
    path("<int:shipment_id>/edit/", views.shipment_form, name="edit"),
    path("<int:shipment_id>/cancel/", views.shipment_cancel, name="cancel"),
    path("<int:shipment_id>/register/", views.shipment_register, name="register"),
    path("<int:shipment_id>/choose/", views.shipment_choose_offer, name="choose_offer"),
    path("<int:shipment_id>/rates/", views.shipment_rates, name="rates"),
    path("import/", views.import_upload, name="import"),
    path("import/template.xlsx", views.import_template, name="import_template"),
    path("import/<int:job_id>/", views.import_job, name="import_job"),
    path("import/<int:job_id>/start/", views.import_start, name="import_start"),
    path("import/<int:job_id>/progress/", views.import_progress, name="import_progress"),
    path("import/<int:job_id>/errors.xlsx", views.import_error_report, name="import_errors"),
]
