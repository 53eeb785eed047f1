from django.urls import path

from shipdesk.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("weekly-report/", views.weekly_report, name="weekly_report"),
    path("export/<str:name>.<str:fmt>", views.export, name="export"),
]
