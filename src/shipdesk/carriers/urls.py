from django.urls import path

from shipdesk.carriers import views

app_name = "carriers"
urlpatterns = [
    path("", views.account_list, name="accounts"),
    path("new/<str:carrier_code>/", views.account_create, name="account_create"),
    path("<int:account_id>/", views.account_detail, name="account"),
    path("<int:account_id>/test/", views.account_test, name="account_test"),
    path("<int:account_id>/delete/", views.account_delete, name="account_delete"),
    path("exchanges/", views.exchange_list, name="exchanges"),
    path("exchanges/<int:exchange_id>/", views.exchange_detail, name="exchange"),
]
