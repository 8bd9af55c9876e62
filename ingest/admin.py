from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from ingest.models import GatewayRequest, IngestToken
from policies.admin.common import History, NoSecretLookups


@admin.register(IngestToken)
class IngestTokenAdmin(NoSecretLookups, History):
    secret_fields = ("token_hash",)
    list_display = [
        "name",
        "source",
        "team",
        "enabled",
        "token_prefix",
        "created_at",
        "last_used_at",
    ]
    list_filter = ["enabled", "source", "team"]
    search_fields = ["name", "source", "token_prefix"]
    list_select_related = ["team"]
    readonly_fields = ["token_prefix", "created_at", "last_used_at", "recent_changes"]
    fieldsets = [
        (None, {"fields": ["name", "source", "team", "enabled"]}),
        ("Usage", {"fields": ["token_prefix", "created_at", "last_used_at", "recent_changes"]}),
    ]
    actions = ["disable_tokens"]

    def save_model(
        self, request: HttpRequest, obj: IngestToken, form: ModelForm[Any], change: bool
    ) -> None:
        if not change:
            # Kept on the request only, to show it on the next page; never stored or logged.
            request._new_ingest_token = obj.set_new_token()  # type: ignore[attr-defined]
        super().save_model(request, obj, form, change)

    def response_add(
        self, request: HttpRequest, obj: IngestToken, post_url_continue: str | None = None
    ) -> HttpResponse:
        token = getattr(request, "_new_ingest_token", None)
        if token is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Ingest token created",
            "token_row": obj,
            "token": token,
        }
        return TemplateResponse(request, "admin/ingest/token_created.html", context)

    @admin.action(description="Disable selected tokens", permissions=["change"])
    def disable_tokens(self, request: HttpRequest, queryset: Any) -> None:
        changed = 0
        for token in queryset.filter(enabled=True):  # one by one: the history records each
            token.enabled = False
            token.save(update_fields=["enabled"])
            changed += 1
        self.message_user(request, f"{changed} token{'s' if changed != 1 else ''} disabled.")


@admin.register(GatewayRequest)
class GatewayRequestAdmin(admin.ModelAdmin[GatewayRequest]):
    """Read-only: rows come from gateways, and nobody edits history."""

    list_display = [
        "request_id", "started_at", "finished_at", "outcome", "failure_class", "status_code",
        "latency_seconds", "model_group", "gateway_team_id", "key_alias",
    ]  # fmt: skip
    list_filter = [
        "outcome",
        "failure_class",
        "status_code",
        "finished_at",
        "source",
        "model_group",
        "gateway_team_alias",
        "gateway_team_id",
        "key_alias",
    ]
    search_fields = ["request_id", "trace_id", "key_alias", "model_group", "error_class"]
    date_hierarchy = "finished_at"
    show_full_result_count = False  # counting millions of rows on every page view is slow

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
