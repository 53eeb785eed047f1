from django.urls import URLPattern, path

from shipdesk.integrations import views

app_name = "integrations"
urlpatterns: list[URLPattern] = [
    # MoySklad
    path("moysklad/", views.moysklad, name="moysklad"),
    path("moysklad/connect/", views.moysklad_connect, name="moysklad_connect"),
    path("moysklad/rule/", views.moysklad_rule, name="moysklad_rule"),
    path("moysklad/orders/<int:order_id>/accept/", views.moysklad_accept_edit,
         name="moysklad_accept_edit"),
    path("moysklad/labels/", views.moysklad_labels, name="moysklad_labels"),
]
