from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Model, QuerySet
from django.db.models.expressions import RawSQL
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from ingest.models import GatewayRequest, IngestToken
from ingest.paging import EstimatedCountPaginator
from policies import team_key
from policies.admin.common import History, NoSecretLookups
from policies.models import Team

SHOW_ONCE_KEY = "ingest_token_to_show_once"


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
        # Post, redirect, get: a reload of the page that shows the token must not post the
        # form again and make a second token. The token waits in the session for that one
        # page, which takes it out.
        request.session[SHOW_ONCE_KEY] = {"pk": obj.pk, "token": token}
        return HttpResponseRedirect(reverse("admin:ingest_ingesttoken_created", args=[obj.pk]))

    def get_urls(self) -> list[URLPattern]:
        created = path(
            "<int:object_id>/created/",
            self.admin_site.admin_view(self.created_view),
            name="ingest_ingesttoken_created",
        )
        return [created, *super().get_urls()]

    def created_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The new token, shown once, with a curl line to try it; a reload shows it no more."""
        row = self.get_object(request, str(object_id))
        if row is None or not self.has_view_permission(request, row):
            raise PermissionDenied
        waiting = request.session.get(SHOW_ONCE_KEY) or {}
        token = waiting.get("token") if waiting.get("pk") == row.pk else None
        if token is not None:
            del request.session[SHOW_ONCE_KEY]
        base = settings.CONSOLE_BASE_URL or request.build_absolute_uri("/").rstrip("/")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Ingest token created",
            "token_row": row,
            "token": token,
            "events_url": f"{base}/ingest/v1/events",
        }
        response = TemplateResponse(request, "admin/ingest/token_created.html", context)
        response["Cache-Control"] = "no-store"  # not kept by the browser or a proxy either
        return response

    @admin.action(description="Disable selected tokens", permissions=["change"])
    def disable_tokens(self, request: HttpRequest, queryset: Any) -> None:
        changed = 0
        for token in queryset.filter(enabled=True):  # one by one: the history records each
            token.enabled = False
            token.save(update_fields=["enabled"])
            changed += 1
        self.message_user(request, f"{changed} token{'s' if changed != 1 else ''} disabled.")


class TeamFilter(admin.SimpleListFilter):
    """The console's own teams, matched as policies match them: no query on the requests to
    list the choices (Django's default lists every distinct value in the table)."""

    title = "team"
    parameter_name = "team"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            (str(pk), name) for pk, name in Team.objects.order_by("name").values_list("pk", "name")
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value is None:
            return queryset
        team = Team.objects.filter(pk=int(value)).first() if value.isdigit() else None
        if team is None:
            return queryset.none()
        sql, params = team_key.condition(team)
        # The condition policies count a team's requests with; the values are bound parameters.
        return queryset.filter(RawSQL(sql, params, output_field=BooleanField()))  # noqa: S611


class SourceFilter(admin.SimpleListFilter):
    """The sources of the console's ingest tokens, rather than every distinct value stored."""

    title = "source"
    parameter_name = "source"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(source, source) for source in token_sources()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset if value is None else queryset.filter(source=value)


def token_sources() -> list[str]:
    sources = IngestToken.objects.order_by("source").values_list("source", flat=True)
    return list(sources.distinct())


@admin.register(GatewayRequest)
class GatewayRequestAdmin(admin.ModelAdmin[GatewayRequest]):
    """Read-only: rows come from gateways, and nobody edits history.

    The table holds millions of rows, and any viewer may open this list: every query it makes
    reads a page through an index (tests/test_admin_gateway_requests.py checks the plans).
    The filters list their choices without reading the table, the count is the planner's
    estimate (ingest/paging.py), and there is no date hierarchy (it asks for every distinct
    date)."""

    list_display = [
        "request_id", "started_at", "finished_at", "outcome", "failure_class", "status_code",
        "latency_seconds", "model_group", "gateway_team_id", "key_alias",
    ]  # fmt: skip
    # Newest first by when the request started, read backwards through that column's index
    # (a request reported with no start comes first). Not by id: a batch is stored in request
    # id order, so ids sort a batch by request id as text. Columns sort only where an index
    # serves the order.
    ordering = ["-started_at"]
    sortable_by = ["started_at", "finished_at"]
    list_filter = ["outcome", "failure_class", "finished_at", TeamFilter, SourceFilter]
    search_fields = ["=request_id"]
    search_help_text = "An exact request id (LiteLLM: litellm_call_id)."
    show_full_result_count = False  # a second count, of the whole table
    show_facets = admin.ShowFacets.NEVER  # a count per choice, each reading the table

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: QuerySet[GatewayRequest],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> EstimatedCountPaginator:
        shown = request.GET.get(PAGE_VAR, "1")
        return EstimatedCountPaginator(
            queryset, per_page, page=int(shown) if shown.isdigit() else 1
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[GatewayRequest], search_term: str
    ) -> tuple[QuerySet[GatewayRequest], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        # With its source, a request id is found through the unique (source, request_id)
        # index; alone it would be looked for in every row. Rows of a source no token has
        # any more (deleted or renamed) are not found this way.
        return queryset.filter(source__in=token_sources(), request_id=term), False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False
