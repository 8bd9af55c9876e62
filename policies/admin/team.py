"""Teams in the admin: how the gateway names them, and what pages them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from policies.admin.common import RECORD_DESCRIPTION, History, preview_table
from policies.models import Route, Team
from policies.routing import preview_for_team

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations

    class _Counts(TypedDict):
        policy_count: int
        has_route: bool

    AnnotatedTeam = WithAnnotations[Team, _Counts]


class HasRouteFilter(admin.SimpleListFilter):
    title = "own team route"
    parameter_name = "route"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Iterable[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No: paged by key-alias or default routes")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(has_route=True)
        if self.value() == "no":
            return queryset.filter(has_route=False)
        return queryset


@admin.register(Team)
class TeamAdmin(History):
    list_display = [
        "name",
        "slug",
        "gateway_team_id",
        "gateway_team_alias",
        "policy_count",
        "has_route",
    ]
    list_filter = [HasRouteFilter]
    search_fields = ["name", "slug", "gateway_team_id", "gateway_team_alias"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["would_page", "created_at", "updated_at", "recent_changes"]
    filter_horizontal = ["editors"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description"]}),
        (
            "Who is paged",
            {
                "fields": ["would_page"],
                "description": "Worked out from the routes now; nothing is sent. An incident "
                "about an API-key alias with a route of its own goes there first.",
            },
        ),
        (
            "How the gateway names this team",
            {
                "fields": ["gateway_team_id", "gateway_team_alias"],
                "description": "Events are attributed to a team by the gateway's team id, "
                "or by its team alias when they carry no id.",
            },
        ),
        (
            "Who may change its policies, routes, keys and silences",
            {
                "fields": ["editors"],
                "description": "Members of the “Team editors” group listed here. Ops admins "
                "may change everything anyway.",
            },
        ),
        (
            "Record",
            {
                "fields": ["created_at", "updated_at", "recent_changes"],
                "description": RECORD_DESCRIPTION,
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Team]:
        team_route = Route.objects.filter(scope=Route.Scope.TEAM, team=OuterRef("pk"))
        teams: QuerySet[Team] = super().get_queryset(request)
        return teams.annotate(policy_count=Count("policies"), has_route=Exists(team_route))

    @admin.display(description="policies scoped to it", ordering="policy_count")
    def policy_count(self, team: AnnotatedTeam) -> int:
        return team.policy_count

    @admin.display(description="own route", boolean=True, ordering="has_route")
    def has_route(self, team: AnnotatedTeam) -> bool:
        return team.has_route

    @admin.display(description="incidents here would page")
    def would_page(self, team: Team) -> SafeString:
        if team.pk is None:
            return format_html("{}", "— (save the team first)")
        return preview_table(preview_for_team(team))
