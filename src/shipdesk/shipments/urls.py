from django.urls import path

from shipdesk.shipments import settings_views, views

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
    path("import/<int:job_id>/error-list.<str:fmt>", views.import_error_list,
         name="import_error_list"),
    path("import/<int:job_id>/retry/", views.import_retry, name="import_retry"),
    path("import/history/", views.import_history, name="import_history"),
    # senders and delivery rules (settings_views.py)
    path("senders/", settings_views.sender_list, name="senders"),
    path("senders/new/", settings_views.sender_form, name="sender_create"),
    path("senders/<int:sender_profile_id>/", settings_views.sender_form, name="sender_edit"),
    path("senders/<int:sender_profile_id>/delete/", settings_views.sender_delete,
         name="sender_delete"),
    path("senders/<int:sender_profile_id>/default/", settings_views.sender_default,
         name="sender_default"),
    path("delivery-rules/", settings_views.rule_list, name="delivery_rules"),
    path("delivery-rules/new/", settings_views.rule_form, name="delivery_rule_create"),
    path("delivery-rules/<int:delivery_rule_id>/", settings_views.rule_form,
         name="delivery_rule_edit"),
    path("delivery-rules/<int:delivery_rule_id>/delete/", settings_views.rule_delete,
         name="delivery_rule_delete"),
    path("delivery-rules/<int:delivery_rule_id>/move/", settings_views.rule_move,
         name="delivery_rule_move"),
]
