"""Routes: which channels an incident goes to, by key alias, team and alert kind."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse_lazy
from django.utils.text import format_lazy

from policies.admin.channel import describe_route
from policies.admin.common import NOT_YOUR_TEAM, RECORD_DESCRIPTION, History, TeamScoped
from policies.kinds import KINDS
from policies.kinds import choices as kind_choices
from policies.models import Route, Team
from policies.roles import may_change_team_row
from policies.routing import explain


class RoutingQuestion(forms.Form):
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        help_text="The team the incident is about; empty: no team (a platform-wide incident).",
    )
    key_alias = forms.CharField(
        label="API-key alias",
        required=False,
        max_length=Route._meta.get_field("key_alias").max_length,
        help_text="LiteLLM's user_api_key_alias, if the incident is about one.",
    )
    kind = forms.ChoiceField(
        label="alert kind",
        choices=[("", "any kind (each answered)"), *kind_choices()],
        required=False,
        help_text="The kind of the incident's policy; empty: the answer for each kind.",
    )


class RouteForm(forms.ModelForm[Route]):
    kinds = forms.MultipleChoiceField(
        label="Alert kinds",
        choices=kind_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The kinds of incident it takes; none ticked: every kind. (In apply_config, "
        "LiteLLM's names llm_exceptions, llm_requests_hanging and llm_too_slow work too.)",
    )

    class Meta:
        model = Route
        fields = ["scope", "team", "key_alias", "kinds", "channels", "continue_matching"]


@admin.register(Route)
class RouteAdmin(TeamScoped[Route], History):
    form = RouteForm
    own_team_choices = {"team": "pk", "channels": "team"}
    list_display = ["scope", "matches", "kinds_display", "channels_display", "updated_at"]
    list_display_links = ["scope", "matches"]
    list_filter = ["scope", "channels"]
    list_select_related = ["team"]
    search_fields = ["key_alias", "team__name", "team__slug", "channels__name"]
    filter_horizontal = ["channels"]
    radio_fields = {"scope": admin.VERTICAL}
    readonly_fields = ["created_at", "updated_at", "recent_changes"]
    fieldsets = [
        (
            "What it matches",
            {
                "fields": ["scope", "team", "key_alias", "kinds"],
                "description": format_lazy(
                    "An incident goes to the routes of its API-key alias that take its kind, "
                    "else to its team's, else to the default ones; “continue” lets the next "
                    'level add its channels too. <a href="{}">Who would be notified for …?</a>',
                    reverse_lazy("admin:policies_route_test"),
                ),
            },
        ),
        ("Who is notified", {"fields": ["channels", "continue_matching"]}),
        (
            "Record",
            {
                "fields": ["created_at", "updated_at", "recent_changes"],
                "description": RECORD_DESCRIPTION,
            },
        ),
    ]

    def get_urls(self) -> list[URLPattern]:
        question = path(
            "test/",
            self.admin_site.admin_view(self.who_would_be_paged_view),
            name="policies_route_test",
        )
        return [question, *super().get_urls()]

    def who_would_be_paged_view(self, request: HttpRequest) -> HttpResponse:
        """Answers "who would be notified for team X, key alias Y, alert kind Z" from the
        routes, as amtool's `config routes test` does; a GET form, so nothing is written or
        sent. (Old links without a kind get the answer for each kind.)"""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RoutingQuestion(request.GET or None)
        answers: list[tuple[str, str]] = []
        if form.is_valid():
            data = form.cleaned_data
            asked = [data["kind"]] if data["kind"] else list(KINDS)
            answers = [
                (kind, explain(data["team"], data["key_alias"] or None, kind)) for kind in asked
            ]
            if len({answer for _, answer in answers}) == 1:  # the same whatever the kind
                answers = [(data["kind"] or "any kind", answers[0][1])]
        context = {
            **self.admin_site.each_context(request),
            "title": "Who would be notified?",
            "opts": self.opts,
            "form": form,
            "answers": answers,
        }
        return TemplateResponse(request, "admin/policies/route/test.html", context)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        initial: dict[str, Any] = super().get_changeform_initial_data(request)
        # Links made before routes had channels name the routing key, now a channel of the
        # same id.
        if "routing_key" in initial:
            initial.setdefault("channels", [initial.pop("routing_key")])
        return initial

    def teams_of(self, obj: Route) -> set[int | None]:
        # A team editor's route must be their team's, and send only to their team's channels.
        route_team = obj.team_id if obj.scope == Route.Scope.TEAM else None
        if obj.pk is None:
            return {route_team}
        return {route_team, *obj.channels.values_list("team_id", flat=True)}

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The channels are saved with the form's many-to-many data, after the row: checked
        # here too, so that no team editor points a route at another team's channel.
        chosen = form.cleaned_data.get("channels") or []
        teams = {form.instance.team_id if form.instance.scope == Route.Scope.TEAM else None}
        if not may_change_team_row(request.user, teams | {c.team_id for c in chosen}):
            raise PermissionDenied(NOT_YOUR_TEAM)
        super().save_related(request, form, formsets, change)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Route]:
        return super().get_queryset(request).prefetch_related("channels")

    @admin.display(description="matches")
    def matches(self, route: Route) -> str:
        return describe_route(route)

    @admin.display(description="alert kinds")
    def kinds_display(self, route: Route) -> str:
        return ", ".join(route.kinds) or "every kind"

    @admin.display(description="channels")
    def channels_display(self, route: Route) -> str:
        # str() of a channel is its name and kind, never its credential.
        return ", ".join(str(channel) for channel in route.channels.all()) or "none"
