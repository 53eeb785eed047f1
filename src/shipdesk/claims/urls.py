from django.urls import URLPattern

app_name = "claims"
urlpatterns: list[URLPattern] = []
