from django.urls import URLPattern

app_name = "shipments"
urlpatterns: list[URLPattern] = []
