"""The console's admin site: Django's, with a home page that shows what is going on."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone


class ConsoleAdminSite(admin.AdminSite):
    site_header = "Alerting Console"
    site_title = "Alerting Console"
    index_title = "Policies, routing and alert history"
    index_template = "admin/console_index.html"

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        from policies.dashboard import dashboard  # models are not ready when the site is built

        context = dict(extra_context or {})
        if request.user.has_perm("policies.view_incident"):
            context["dashboard"] = dashboard(timezone.now())
        return super().index(request, context)
