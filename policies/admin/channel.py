"""Channels: where incidents are sent. Credentials are secrets: written, never shown whole
(the form is in ``channel_form``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypedDict

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
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
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.views.decorators.debug import sensitive_post_parameters

from alerting_console.moments import shown
from policies import channels
from policies.admin import test_event
from policies.admin.channel_form import (
    CLEAR_PREFIX,
    SETTING_PREFIX,
    ChannelForm,
    setting_rows,
)
from policies.admin.common import RECORD_DESCRIPTION, History, NoSecretLookups, TeamScoped
from policies.models import Channel, Delivery, Probe, Route
from policies.models.channel import mask_credential, secret_setting_names
from policies.routing import preview_for_team

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django_stubs_ext import WithAnnotations

    class _Counts(TypedDict):
        route_count: int

    AnnotatedChannel = WithAnnotations[Channel, _Counts]


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


class DisabledFilter(admin.SimpleListFilter):
    title = "disabled"
    parameter_name = "disabled"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Iterable[tuple[str, str]]:
        return [("yes", "Disabled"), ("no", "Enabled")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(disabled_at__isnull=self.value() == "no")
        return queryset


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Iterable[tuple[str, str]]:
        return channels.choices()

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(Channel)
class ChannelAdmin(NoSecretLookups, TeamScoped[Channel], History):
    form = ChannelForm
    secret_fields = (
        "secret",
        "secret_hint",
        "signing_secret",
        "public_settings",
        "secret_settings",
    )
    own_team_choices = {"team": "pk"}
    own_team_required = ("team",)
    change_form_template = "admin/policies/channel/change_form.html"
    list_display = [
        "name",
        "kind_label",
        "masked_credential",
        "team",
        "route_count",
        "health",
        "last_success_at",
        "updated_at",
    ]
    list_filter = [KindFilter, DisabledFilter, InUseFilter, "team"]
    list_select_related = ["team"]
    actions = ["send_test_event", "enable_again"]
    # Not the credential: a search would tell whoever tries a guessed one that it is right.
    search_fields = ["name", "description"]
    readonly_fields = [
        "kind_label",
        "used_by_routes",
        "current_credential",
        "signing_secret_hint",
        "health",
        "last_success_at",
        "refused_at",
        "refusal",
        "refusals_in_a_row",
        "disabled_at",
        "disabled_reason",
        "recent_deliveries",
        "created_at",
        "updated_at",
        "recent_changes",
    ]

    class Media:
        js = ["policies/channel_form.js"]

    def get_fieldsets(self, request: HttpRequest, obj: Channel | None = None) -> _FieldsetSpec:
        if obj is None:
            rows = ("name", "kind", "secret", *setting_rows(None), "team", "description")
            return [(None, {"fields": rows})]
        # Without the change permission Django shows every form field as read-only text,
        # which for the credential would be the whole of it, and so for a secret setting.
        writable = self.has_change_permission(request, obj)
        kind = channels.KINDS.get(obj.kind)
        credential: list[str] = []
        if kind is None or kind.credential_label or obj.secret:
            credential = ["current_credential"] + (["secret"] if writable else [])
        if obj.signing_secret:
            credential.append("signing_secret_hint")
        return [
            (
                None,
                {
                    "fields": [
                        "name",
                        "kind" if writable else "kind_label",
                        "team",
                        "used_by_routes",
                        "description",
                    ]
                },
            ),
            (
                "Credential and settings",
                {"fields": [*credential, *(setting_rows(obj) if writable else [])]},
            ),
            (
                "Delivery health",
                {
                    "fields": [
                        "health",
                        "last_success_at",
                        "refused_at",
                        "refusal",
                        "refusals_in_a_row",
                        "disabled_at",
                        "disabled_reason",
                        "recent_deliveries",
                    ],
                    "description": "A refusal usually means the credential is wrong or was "
                    "revoked: messages refused are not retried, and a channel refused "
                    "repeatedly is disabled until a person enables it again. “Send a test "
                    "message” (above) checks it end to end.",
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

    def get_readonly_fields(self, request: HttpRequest, obj: Channel | None = None) -> Any:
        return self.readonly_fields

    def get_form(
        self, request: HttpRequest, obj: Channel | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # The kinds' settings are the form's own fields (ChannelForm makes them from the
        # registry), not model fields for the admin's form factory to look up.
        names = kwargs.get("fields") or flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [n for n in names if not n.startswith((SETTING_PREFIX, CLEAR_PREFIX))]
        return super().get_form(request, obj, change, **kwargs)

    def teams_of(self, obj: Channel) -> set[int | None]:
        # A channel that other routes send to (another team's, a key alias's, the default) is
        # theirs too: its owning team's editors must not be able to redirect those messages.
        if obj.pk is None:
            return {obj.team_id}
        routed = {
            team_id if scope == Route.Scope.TEAM else None
            for scope, team_id in obj.routes.values_list("scope", "team_id")
        }
        return {obj.team_id, *routed}

    def save_model(self, request: HttpRequest, obj: Channel, form: Any, change: bool) -> None:
        kind = channels.KINDS.get(obj.kind)
        make_secret = getattr(kind, "new_signing_secret", None)
        made = ""
        if make_secret is not None and not obj.signing_secret:
            made = obj.signing_secret = make_secret()
        super().save_model(request, obj, form, change)
        if made:
            self.message_user(
                request,
                format_html(
                    "The signing secret of “{}” is <code>{}</code>. Copy it now into the "
                    "receiver: it is not shown again.",
                    obj.name,
                    made,
                ),
                messages.WARNING,
            )
        if not obj.routes.exists():
            self.message_user(request, no_route_warning(obj), messages.WARNING)

    def get_urls(self) -> list[URLPattern]:
        test = [
            path(
                "<path:object_id>/test-event/",
                self.admin_site.admin_view(self.test_event_view),
                name="policies_channel_test_event",
            ),
            path(
                "<path:object_id>/test-event/<int:probe_id>/",
                self.admin_site.admin_view(self.test_event_result_view),
                name="policies_channel_test_event_result",
            ),
            path(
                "<path:object_id>/enable-again/",
                self.admin_site.admin_view(self.enable_again_view),
                name="policies_channel_enable_again",
            ),
        ]
        return [*test, *super().get_urls()]

    def _channel_for(self, request: HttpRequest, object_id: str) -> Channel:
        channel = self.get_object(request, object_id)
        if channel is None:
            raise Http404("No such channel.")
        if not self.has_change_permission(request, channel):
            raise PermissionDenied
        return channel

    def test_event_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Send a test message" button on the channel's page, by who may change it: GET
        says what would be sent (nothing is), POST sends it and shows what went."""
        channel = self._channel_for(request, object_id)
        if request.method == "GET":
            return test_event.confirm_page(self, request, [channel], from_list=False)
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"])
        result = test_event.send_and_report(self, request, channel)
        return HttpResponseRedirect(test_event.result_url(result.record))

    def enable_again_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Enable again" button on a disabled channel's page (a POST)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        channel = self._channel_for(request, object_id)
        if channel.disabled:
            self._enable(request, channel)
        return HttpResponseRedirect(reverse("admin:policies_channel_change", args=[channel.pk]))

    def test_event_result_view(
        self, request: HttpRequest, object_id: str, probe_id: int
    ) -> HttpResponse:
        channel = self.get_object(request, object_id)
        if channel is None or not self.has_view_permission(request, channel):
            raise Http404("No such channel.")
        return test_event.result_page(self, request, channel, str(probe_id))

    @admin.display(description="used by routes")
    def used_by_routes(self, channel: Channel) -> SafeString:
        """What sends to this channel: its routes. The owning team is not one of them."""
        routes = [
            (reverse("admin:policies_route_change", args=[route.pk]), describe_route(route))
            for route in channel.routes.select_related("team").order_by("scope", "pk")
        ]
        if not routes:
            return format_html(
                '<strong>None: nothing is sent to this channel.</strong> <a href="{}">Add a '
                "route</a> to it.",
                add_route_url(channel),
            )
        return format_html(
            "<ul>{}</ul>", format_html_join("", '<li><a href="{}">{}</a></li>', routes)
        )

    @admin.display(description="recent deliveries")
    def recent_deliveries(self, channel: Channel) -> SafeString:
        """Its deliveries and its test messages, newest first."""
        deliveries = Delivery.objects.filter(channel=channel).order_by("-created_at")[:5]
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
                f"Test message by {p.sent_by}",
                ("accepted" if p.ok else "not accepted") + f" ({p.trigger_answer})",
            )
            for p in Probe.objects.filter(channel=channel).order_by("-sent_at")[:5]
        ]
        if not rows:
            return format_html("{}", "none yet")
        rows.sort(key=lambda row: row[0], reverse=True)
        return format_html(
            "<ul>{}</ul>",
            format_html_join("", '<li><a href="{}">{}</a> {}: {}</li>', (r[1:] for r in rows[:5])),
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Channel]:
        return super().get_queryset(request).annotate(route_count=Count("routes"))

    # Should a save ever fail, the error report must not carry the credential either.
    @method_decorator(
        sensitive_post_parameters(
            "secret", *(SETTING_PREFIX + name for name in sorted(secret_setting_names()))
        )
    )
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return super().changeform_view(request, object_id, form_url, extra_context)

    @admin.action(description="Send a test message (and its resolve)", permissions=["change"])
    def send_test_event(
        self, request: HttpRequest, queryset: QuerySet[Channel]
    ) -> TemplateResponse | None:
        """First what would be sent, to confirm; then (confirm=yes) each channel's answers."""
        self.check_rows(request, queryset)
        if request.POST.get("confirm") != "yes":
            return test_event.confirm_page(self, request, list(queryset), from_list=True)
        for channel in queryset:
            test_event.send_and_report(self, request, channel)
        return None

    @admin.action(
        description="Enable again (after fixing what made it fail)", permissions=["change"]
    )
    def enable_again(self, request: HttpRequest, queryset: QuerySet[Channel]) -> None:
        self.check_rows(request, queryset)
        disabled = list(queryset.exclude(disabled_at=None))
        for channel in disabled:
            self._enable(request, channel)
        if not disabled:
            self.message_user(request, "None of them was disabled: nothing to do.", messages.INFO)

    def _enable(self, request: HttpRequest, channel: Channel) -> None:
        channel.disabled_at = None
        channel.disabled_reason = ""
        channel.refusals_in_a_row = 0
        channel._change_reason = f"enabled again by {request.user.get_username()}"  # type: ignore[attr-defined]
        channel.save(update_fields=["disabled_at", "disabled_reason", "refusals_in_a_row"])
        self.message_user(
            request, f"{channel.name} is enabled again: messages go to it.", messages.SUCCESS
        )

    @admin.display(description="kind")
    def kind_label(self, channel: Channel) -> str:
        return channel.kind_label

    @admin.display(description="credential")
    def masked_credential(self, channel: Channel) -> str:
        return channel.masked_secret or "—"

    @admin.display(description="current credential")
    def current_credential(self, channel: Channel) -> str:
        # The one saved: on a form shown again with errors, the instance holds the refused one.
        saved = Channel.objects.filter(pk=channel.pk).values_list("secret", flat=True).first()
        return mask_credential(saved or "") or "none"

    @admin.display(description="signing secret")
    def signing_secret_hint(self, channel: Channel) -> str:
        if not channel.signing_secret:
            return "none"
        return f"{channel.signing_secret[:10]}… (shown whole once, when it was made)"

    @admin.display(description="health")
    def health(self, channel: Channel) -> SafeString:
        if channel.disabled:
            return format_html(
                '<strong class="channel-disabled">DISABLED</strong> since {}: {}',
                shown(channel.disabled_at) if channel.disabled_at else "?",
                channel.disabled_reason,
            )
        if channel.refusals_in_a_row:
            return format_html(
                "refused {} times in a row (last: {})", channel.refusals_in_a_row, channel.refusal
            )
        return format_html("{}", "ok" if channel.last_success_at else "never used")

    @admin.display(description="routes", ordering="route_count")
    def route_count(self, channel: AnnotatedChannel) -> int:
        return channel.route_count


def describe_route(route: Route) -> str:
    if route.scope == Route.Scope.KEY_ALIAS:
        what = f"API-key alias “{route.key_alias}”"
    elif route.scope == Route.Scope.TEAM:
        what = f"team {route.team}"
    else:
        what = "everything else"
    return f"{what} ({', '.join(route.kinds)})" if route.kinds else what


def no_route_warning(channel: Channel) -> SafeString:
    """What saving a channel no route uses should say: nothing goes there, and where its
    team's incidents go meanwhile (owning a channel routes nothing to it)."""
    meanwhile = ""
    if channel.team is not None:
        answers = "; ".join(
            f"{what} go to {answer}" for what, answer in preview_for_team(channel.team)
        )
        meanwhile = f" Meanwhile {answers}."
    return format_html(
        'No route uses “{}”: nothing is sent to it.{} <a href="{}">Add a route</a> to send '
        "incidents to it.",
        channel.name,
        meanwhile,
        add_route_url(channel),
    )


def add_route_url(channel: Channel) -> str:
    """The route form, filled in: this channel, for its owning team (or as the default)."""
    query = f"channels={channel.pk}"
    query += f"&scope=team&team={channel.team_id}" if channel.team_id else "&scope=default"
    return f"{reverse('admin:policies_route_add')}?{query}"
