from django.urls import URLPattern, path

from shipdesk.integrations import views
from shipdesk.integrations.shops import views as shop_views

app_name = "integrations"
urlpatterns: list[URLPattern] = [
    # Shop platforms
    path("shops/", shop_views.connection_list, name="shops"),
    path("shops/new/", shop_views.connection_form, name="shop_create"),
    path("shops/<int:shop_connection_id>/", shop_views.connection_detail, name="shop_detail"),
    path("shops/<int:shop_connection_id>/edit/", shop_views.connection_form, name="shop_edit"),
    path("shops/<int:shop_connection_id>/secret/", shop_views.connection_new_secret,
         name="shop_secret"),
    path("shops/<int:shop_connection_id>/delete/", shop_views.connection_delete,
         name="shop_delete"),
    path("shops/hook/<str:token>/", shop_views.shop_hook, name="shop_hook"),
    # MoySklad
    path("moysklad/", views.moysklad, name="moysklad"),
    path("moysklad/connect/", views.moysklad_connect, name="moysklad_connect"),
    path("moysklad/rule/", views.moysklad_rule, name="moysklad_rule"),
    path("moysklad/orders/<int:moysklad_order_id>/accept/", views.moysklad_accept_edit,
         name="moysklad_accept_edit"),
    path("moysklad/labels/", views.moysklad_labels, name="moysklad_labels"),
    path("moysklad/sandbox/move/", views.moysklad_sandbox_move, name="moysklad_sandbox_move"),
]
