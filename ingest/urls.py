from django.urls import path

from ingest import views

app_name = "ingest"

urlpatterns = [
    path("v1/events", views.console_events, name="events"),
    path("v1/litellm", views.litellm_events, name="litellm"),
    path("v1/openapi.json", views.openapi, name="openapi"),
]
