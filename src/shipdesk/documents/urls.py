from django.urls import URLPattern, path

from shipdesk.documents import views

app_name = "documents"
urlpatterns: list[URLPattern] = [
    path("batches/", views.batch_list, name="batches"),
    path("batches/auto-group/", views.batch_auto_group, name="auto_group"),
    path("batches/form/", views.batch_form, name="batch_form"),
    path("batches/<int:batch_id>/", views.batch_detail, name="batch"),
    path("batches/<int:batch_id>/close/", views.batch_close, name="batch_close"),
    path("batches/<int:batch_id>/remove/", views.batch_remove, name="batch_remove"),
    path("batches/<int:batch_id>/courier/", views.courier_order, name="courier_order"),
    path("courier-pickups/<int:pickup_id>/refresh/", views.courier_refresh, name="courier_refresh"),
    path("batches/<int:batch_id>/documents/", views.document_request, name="document_request"),
    path("documents/<int:document_id>/", views.document_status, name="document_status"),
    path("certificates/", views.certificates, name="certificates"),
    path("documents/<int:document_id>/download/", views.document_download,
         name="document_download"),
]
