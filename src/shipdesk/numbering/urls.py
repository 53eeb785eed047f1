from django.urls import path

from shipdesk.numbering import views

app_name = "numbering"
urlpatterns = [
    path("", views.pool_list, name="pools"),
    path("add/", views.pool_add, name="pool_add"),
    path("from-carrier/", views.pool_request, name="pool_request"),
    path("<int:pool_id>/toggle/", views.pool_toggle, name="pool_toggle"),
]
