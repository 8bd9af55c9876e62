"""Routing keys (secrets: never shown whole) and the routes that pick one for an incident."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import format_lazy
from django.views.decorators.debug import sensitive_post_parameters

from alerting_console.moments import shown
from policies.admin import test_event
from policies.admin.common import RECORD_DESCRIPTION, History, NoSecretLookups, TeamScoped
from policies.models import Delivery, Probe, Route, RoutingKey, Team, validate_integration_key
from policies.routing import explain, routing_key_for

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django_stubs_ext import WithAnnotations

    class _Counts(TypedDict):
        route_count: int

    AnnotatedRoutingKey = WithAnnotations[RoutingKey, _Counts]


class RoutingKeyForm(forms.ModelForm[RoutingKey]):
    """The integration key is write-only: typed in, validated, never sent back to the browser.

    On a change, an empty input keeps the current key; the page shows it masked instead.
    """

    integration_key = forms.CharField(
        label="Integration key",
        validators=[validate_integration_key],
        # render_value=False: not even a re-displayed form with errors echoes the key back.
        widget=forms.PasswordInput(
            render_value=False, attrs={"autocomplete": "off", "spellcheck": "false", "size": 40}
        ),
        help_text=RoutingKey._meta.get_field("integration_key").help_text,
    )

    class Meta:
        model = RoutingKey
        fields = ["name", "integration_key", "team", "description"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The form must not even hold the key as initial data: nothing could render it then.
        self.initial.pop("integration_key", None)
        if self.instance.pk is not None:
            field = self.fields["integration_key"]
            field.required = False
            field.label = "New integration key"
            field.help_text = (
                "Leave empty to keep the current one. To replace it, paste the new 32-character "
                "Integration Key from the service's Events API v2 integration in PagerDuty."
            )

    def clean_integration_key(self) -> str:
        new_key: str = self.cleaned_data["integration_key"]
        if not new_key and self.instance.pk is not None:
            return self.instance.integration_key
        return new_key


class InUseFilter(admin.SimpleListFilter):
    title = "in use"
    parameter_name = "in_use"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Iterable[tuple[str, str]]:
        return [("yes", "Used by a route"), ("no", "Not used by any route")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(route_count__gt=0)
        if self.value() == "no":
            return queryset.filter(route_count=0)
        return queryset


@admin.register(RoutingKey)
class RoutingKeyAdmin(NoSecretLookups, TeamScoped[RoutingKey], History):
    form = RoutingKeyForm
    secret_fields = ("integration_key",)
    own_team_choices = {"team": "pk"}
    own_team_required = ("team",)
    change_form_template = "admin/policies/routingkey/change_form.html"
    list_display = [
        "name",
        "masked_integration_key",
        "team",
        "route_count",
        "last_success_at",
        "refused_at",
        "updated_at",
    ]
    list_filter = [InUseFilter, "team"]
    list_select_related = ["team"]
    actions = ["send_test_event"]
    # Not the key itself: a search would tell whoever tries a guessed key that it is right.
    search_fields = ["name", "description"]
    readonly_fields = [
        "used_by_routes",
        "current_integration_key",
        "last_success_at",
        "refused_at",
        "refusal",
        "recent_deliveries",
        "created_at",
        "updated_at",
        "recent_changes",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: RoutingKey | None = None) -> _FieldsetSpec:
        if obj is None:
            return [(None, {"fields": ["name", "integration_key", "team", "description"]})]
        # Without the change permission Django shows every form field as read-only text,
        # which for this one would be the whole key.
        key_fields = (
            ("current_integration_key", "integration_key")
            if self.has_change_permission(request, obj)
            else ("current_integration_key",)
        )
        return [
            (None, {"fields": ["name", "team", "used_by_routes", "description"]}),
            ("Integration key", {"fields": key_fields}),
            (
                "Delivery health",
                {
                    "fields": ["last_success_at", "refused_at", "refusal", "recent_deliveries"],
                    "description": "A refusal (HTTP 400) usually means the key is wrong or its "
                    "integration was deleted in PagerDuty: pages to it are not retried. "
                    "“Send a test event” (above) checks the key end to end.",
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

    def teams_of(self, obj: RoutingKey) -> set[int | None]:
        # A key that other routes page (another team's, a key alias's, the default) is theirs
        # too: its owning team's editors must not be able to redirect those pages.
        if obj.pk is None:
            return {obj.team_id}
        routed = {
            team_id if scope == Route.Scope.TEAM else None
            for scope, team_id in obj.routes.values_list("scope", "team_id")
        }
        return {obj.team_id, *routed}

    def get_urls(self) -> list[URLPattern]:
        test_event = [
            path(
                "<path:object_id>/test-event/",
                self.admin_site.admin_view(self.test_event_view),
                name="policies_routingkey_test_event",
            ),
            path(
                "<path:object_id>/test-event/<int:probe_id>/",
                self.admin_site.admin_view(self.test_event_result_view),
                name="policies_routingkey_test_event_result",
            ),
        ]
        return [*test_event, *super().get_urls()]

    def _key_for(self, request: HttpRequest, object_id: str) -> RoutingKey:
        key = self.get_object(request, object_id)
        if key is None:
            raise Http404("No such routing key.")
        if not self.has_change_permission(request, key):
            raise PermissionDenied
        return key

    def test_event_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Send a test event" button on the key's page, by who may change the key: GET
        says what would be sent (nothing is), POST sends it and shows what went."""
        key = self._key_for(request, object_id)
        if request.method == "GET":
            return test_event.confirm_page(self, request, [key], from_list=False)
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"])
        result = test_event.send_and_report(self, request, key)
        return HttpResponseRedirect(test_event.result_url(result.record))

    def test_event_result_view(
        self, request: HttpRequest, object_id: str, probe_id: int
    ) -> HttpResponse:
        key = self.get_object(request, object_id)
        if key is None or not self.has_view_permission(request, key):
            raise Http404("No such routing key.")
        return test_event.result_page(self, request, key, str(probe_id))

    @admin.display(description="used by routes")
    def used_by_routes(self, key: RoutingKey) -> SafeString:
        """What pages this key: its routes. The owning team is not one of them."""
        routes = [
            (reverse("admin:policies_route_change", args=[route.pk]), describe_route(route))
            for route in key.routes.select_related("team").order_by("scope", "pk")
        ]
        if not routes:
            return format_html(
                '<strong>None: no incident pages this key.</strong> <a href="{}">Add a route'
                "</a> to it.",
                add_route_url(key),
            )
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a></li>', routes)
        )

    def save_model(self, request: HttpRequest, obj: RoutingKey, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.routes.exists():
            return
        fallback = routing_key_for(obj.team, None) if obj.team else None
        goes_to = (
            f"{obj.team}'s incidents page {fallback.name if fallback else 'nobody'} meanwhile"
            if obj.team
            else "until then"
        )
        self.message_user(
            request,
            format_html(
                "No route uses “{}”: no incident pages it, {}. "
                '<a href="{}">Add a route</a> to send incidents to it.',
                obj.name,
                goes_to,
                add_route_url(obj),
            ),
            messages.WARNING,
        )

    @admin.display(description="recent deliveries")
    def recent_deliveries(self, key: RoutingKey) -> SafeString:
        """Its incidents' deliveries and its test events, newest first."""
        deliveries = (
            Delivery.objects.filter(incident__routing_key=key)
            .select_related("incident")
            .order_by("-created_at")[:5]
        )
        rows = [
            (
                d.created_at,
                reverse("admin:policies_delivery_change", args=[d.pk]),
                shown(d.created_at),
                d.get_action_display(),
                f"{d.get_status_display()} {d.last_error or ''}",
            )
            for d in deliveries
        ] + [
            (
                p.sent_at,
                test_event.result_url(p),
                shown(p.sent_at),
                f"Test event by {p.sent_by}",
                ("accepted" if p.ok else "not accepted") + f" ({p.trigger_answer})",
            )
            for p in Probe.objects.filter(routing_key=key).order_by("-sent_at")[:5]
        ]
        if not rows:
            return format_html("{}", "none yet")
        rows.sort(key=lambda row: row[0], reverse=True)
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", '<li><a href="{}">{}</a> {}: {}</li>', (r[1:] for r in rows[:5])),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[RoutingKey]:
        return super().get_queryset(request).annotate(route_count=Count("routes"))

    # Should a save ever fail, the error report must not carry the key either.
    @method_decorator(sensitive_post_parameters("integration_key"))
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.action(description="Send a test event (trigger, then resolve)", permissions=["change"])
    def send_test_event(
        self, request: HttpRequest, queryset: QuerySet[RoutingKey]
    ) -> TemplateResponse | None:
        """First what would be sent, to confirm; then (confirm=yes) each key's answers."""
        self.check_rows(request, queryset)
        if request.POST.get("confirm") != "yes":
            return test_event.confirm_page(self, request, list(queryset), from_list=True)
        for key in queryset:
            test_event.send_and_report(self, request, key)
        return None

    @admin.display(description="integration key")
    def masked_integration_key(self, key: RoutingKey) -> str:
        return key.masked_key

    @admin.display(description="current integration key")
    def current_integration_key(self, key: RoutingKey) -> str:
        return key.masked_key

    @admin.display(description="routes", ordering="route_count")
    def route_count(self, key: AnnotatedRoutingKey) -> int:
        return key.route_count


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


@admin.register(Route)
class RouteAdmin(TeamScoped[Route], History):
    own_team_choices = {"team": "pk", "routing_key": "team"}
    list_display = ["scope", "matches", "routing_key_display", "updated_at"]
    list_display_links = ["scope", "matches"]
    list_filter = ["scope", "routing_key"]
    list_select_related = ["team", "routing_key"]
    search_fields = ["key_alias", "team__name", "team__slug", "routing_key__name"]
    radio_fields = {"scope": admin.VERTICAL}
    readonly_fields = ["created_at", "updated_at", "recent_changes"]
    fieldsets = [
        (
            "What it matches",
            {
                "fields": ["scope", "team", "key_alias"],
                "description": format_lazy(
                    "An incident goes to the route of its API-key alias, else to its team's "
                    'route, else to the default route. <a href="{}">Who would be paged for …?</a>',
                    reverse_lazy("admin:policies_route_test"),
                ),
            },
        ),
        ("Who is paged", {"fields": ["routing_key"]}),
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
        """Answers "who would be paged for team X, key alias Y" from the routes, as amtool's
        `config routes test` does; a GET form, so nothing is written or sent."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        form = RoutingQuestion(request.GET or None)
        answer = None
        if form.is_valid():
            answer = explain(form.cleaned_data["team"], form.cleaned_data["key_alias"] or None)
        context = {
            **self.admin_site.each_context(request),
            "title": "Who would be paged?",
            "opts": self.opts,
            "form": form,
            "answer": answer,
        }
        return TemplateResponse(request, "admin/policies/route/test.html", context)

    def teams_of(self, obj: Route) -> set[int | None]:
        # A team editor's route must be their team's, and page one of their team's keys.
        key_team = obj.routing_key.team_id if obj.routing_key_id is not None else None
        return {obj.team_id if obj.scope == Route.Scope.TEAM else None, key_team}

    @admin.display(description="matches")
    def matches(self, route: Route) -> str:
        return describe_route(route)

    @admin.display(description="PagerDuty routing key", ordering="routing_key__name")
    def routing_key_display(self, route: Route) -> str:
        # str() of a routing key is its name and masked key, never the key itself.
        return str(route.routing_key)


def describe_route(route: Route) -> str:
    if route.scope == Route.Scope.KEY_ALIAS:
        return f"API-key alias “{route.key_alias}”"
    if route.scope == Route.Scope.TEAM:
        return f"team {route.team}"
    return "everything else"


def add_route_url(key: RoutingKey) -> str:
    """The route form, filled in: this key, for its owning team (or as the default)."""
    query = f"routing_key={key.pk}"
    query += f"&scope=team&team={key.team_id}" if key.team_id else "&scope=default"
    return f"{reverse('admin:policies_route_add')}?{query}"
