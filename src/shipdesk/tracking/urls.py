from django.urls import path

from shipdesk.tracking import views

app_name = "tracking"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("report/", views.report, name="report"),
    path("shipments/<int:shipment_id>/", views.timeline, name="timeline"),
    path("shipments/<int:shipment_id>/refresh/", views.refresh, name="refresh"),
    path("t/<str:token>/", views.public, name="public"),
]
