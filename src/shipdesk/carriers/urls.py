from django.urls import URLPattern

app_name = "carriers"
urlpatterns: list[URLPattern] = []
