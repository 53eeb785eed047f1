from django.urls import path

from shipdesk.tenancy import views

app_name = "tenancy"
urlpatterns = [
    path("switch/", views.organization_switch, name="switch"),
]
