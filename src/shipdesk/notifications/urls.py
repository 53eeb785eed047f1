from django.urls import path

from shipdesk.notifications import views

app_name = "notifications"
urlpatterns = [
    path("", views.outbox, name="outbox"),
    path("<int:message_id>/requeue/", views.requeue, name="requeue"),
    path("settings/", views.settings_page, name="settings"),
    path("suppressions/<int:suppression_id>/remove/", views.suppression_remove,
         name="suppression_remove"),
    path("templates/", views.templates_index, name="templates"),
    path("templates/<str:rule>/<str:channel>/", views.template_edit, name="template"),
    path("reports/", views.reports, name="reports"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("callback/<str:gateway>/<str:token>/", views.delivery_callback, name="callback"),
]
