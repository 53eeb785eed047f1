"""The short SMS unsubscribe link, mounted at the site root as ``/u/<code>`` (every
character of an SMS counts)."""

from django.urls import path

from shipdesk.notifications import views

app_name = "notifications_short"
urlpatterns = [
    path("<str:code>", views.short_unsubscribe, name="unsubscribe"),
]
