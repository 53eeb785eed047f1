from django.urls import path

from shipdesk.tariffs import views

app_name = "tariffs"
urlpatterns = [
    path("", views.compare, name="compare"),
    path("rule/", views.rule_set, name="rule_set"),
    path("tables/upload/", views.table_upload, name="table_upload"),
]
