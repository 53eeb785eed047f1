from django.urls import path

from shipdesk.analytics import views

app_name = "analytics"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export/<str:name>.<str:fmt>", views.export, name="export"),
]
