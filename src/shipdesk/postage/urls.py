from django.urls import URLPattern

app_name = "postage"
urlpatterns: list[URLPattern] = []
