from django.urls import URLPattern

app_name = "numbering"
urlpatterns: list[URLPattern] = []
