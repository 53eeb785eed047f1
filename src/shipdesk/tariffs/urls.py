from django.urls import URLPattern

app_name = "tariffs"
urlpatterns: list[URLPattern] = []
