from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from alerting_console import health, metrics

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("admin/", admin.site.urls),
    path("ingest/", include("ingest.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("engine-health", health.engine_health, name="engine-health"),
    path("metrics", metrics.metrics, name="metrics"),
]
