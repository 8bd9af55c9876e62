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

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """The internals (policies.admin.system) are listed under one "System" section, last;
        people who may not open them do not see them (their admin classes say so)."""
        from policies.admin.system import SECTION, SYSTEM_MODELS

        apps = super().get_app_list(request, app_label)
        system: list[dict[str, Any]] = []
        for app in apps:
            is_system = [
                (app["app_label"], m["object_name"].lower()) in SYSTEM_MODELS for m in app["models"]
            ]
            system += [m for m, inside in zip(app["models"], is_system, strict=True) if inside]
            app["models"] = [
                m for m, inside in zip(app["models"], is_system, strict=True) if not inside
            ]
        apps = [app for app in apps if app["models"]]
        if system and app_label is None:
            apps.append(
                {
                    "name": SECTION,
                    "app_label": "system",
                    "app_url": "",
                    "has_module_perms": True,
                    "models": sorted(system, key=lambda m: str(m["name"])),
                }
            )
        return apps
