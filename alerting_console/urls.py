from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from alerting_console import health, metrics
from policies.admin.audit import recent_changes_view

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Before the admin's own URLs, which would answer any other path under admin/ with a 404.
    path(
        "admin/recent-changes/",
        admin.site.admin_view(recent_changes_view),
        name="recent-changes",
    ),
    # Routing keys became PagerDuty channels, keeping their ids: bookmarks and the links in
    # old messages lead to the same rows.
    path(
        "admin/policies/routingkey/",
        RedirectView.as_view(url="/admin/policies/channel/", permanent=True, query_string=True),
    ),
    path(
        "admin/policies/routingkey/<path:rest>",
        RedirectView.as_view(
            url="/admin/policies/channel/%(rest)s", permanent=True, query_string=True
        ),
    ),
    path("admin/", admin.site.urls),
    path("ingest/", include("ingest.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("engine-health", health.engine_health, name="engine-health"),
    path("metrics", metrics.metrics, name="metrics"),
]
