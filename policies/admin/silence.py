"""Silences and maintenance mode: muting pages without losing what happened."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone

from policies.admin.common import RECORD_DESCRIPTION, History, TeamScoped
from policies.models import Maintenance, Silence

DURATIONS = [
    ("", "— or give the end below —"),
    ("1800", "30 minutes"),
    ("3600", "1 hour"),
    ("7200", "2 hours"),
    ("14400", "4 hours"),
    ("28800", "8 hours"),
    ("86400", "1 day"),
    ("259200", "3 days"),
    ("604800", "1 week"),
]


class SilenceForm(forms.ModelForm[Silence]):
    """A silence lasts for a duration or until a time; one of the two is needed."""

    duration = forms.TypedChoiceField(
        choices=DURATIONS,
        coerce=int,
        empty_value=None,
        required=False,
        help_text="How long from its start. Overrides the end below.",
    )

    class Meta:
        model = Silence
        fields = [
            "scope", "policy", "team", "key_alias", "model", "reason", "starts_at", "duration",
            "ends_at",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "ends_at" in self.fields:  # absent when the page is read-only
            self.fields["ends_at"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        starts_at = data.get("starts_at")
        duration = data.get("duration")
        if duration and starts_at:
            data["ends_at"] = starts_at + timedelta(seconds=duration)
            self.instance.ends_at = data["ends_at"]
        elif not data.get("ends_at") and "ends_at" not in self.errors:
            self.add_error("ends_at", "Give a duration or the time it ends.")
        return data


class SilenceStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Iterable[tuple[str, str]]:
        return [("active", "Active"), ("scheduled", "Scheduled"), ("expired", "Expired")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(starts_at__lte=now, ends_at__gt=now)
        if self.value() == "scheduled":
            return queryset.filter(starts_at__gt=now)
        if self.value() == "expired":
            return queryset.filter(ends_at__lte=now)
        return queryset


@admin.register(Silence)
class SilenceAdmin(TeamScoped[Silence], History):
    form = SilenceForm
    list_display = ["target", "status", "starts_at", "ends_at", "reason", "created_by", "ended_by"]
    list_filter = [SilenceStatusFilter, "scope", "team"]
    list_select_related = ["policy", "team", "created_by", "ended_by"]
    search_fields = ["reason", "key_alias", "model", "policy__name", "team__name"]
    date_hierarchy = "starts_at"
    radio_fields = {"scope": admin.VERTICAL}
    readonly_fields = ["created_by", "ended_by", "created_at", "updated_at", "recent_changes"]
    actions = ["end_now"]
    own_team_choices = {"team": "pk", "policy": "filter_team"}
    fieldsets = [
        (
            "What is muted",
            {
                "fields": ["scope", "policy", "team", "key_alias", "model"],
                "description": "Incidents that open under the silence are recorded but not "
                "paged. One still open when the silence ends is paged then.",
            },
        ),
        ("For how long, and why", {"fields": ["reason", "starts_at", "duration", "ends_at"]}),
        (
            "Record",
            {
                "fields": ["created_by", "ended_by", "created_at", "updated_at", "recent_changes"],
                "description": RECORD_DESCRIPTION,
            },
        ),
    ]

    def teams_of(self, obj: Silence) -> set[int | None]:
        if obj.scope == Silence.Scope.TEAM:
            return {obj.team_id}
        if obj.scope == Silence.Scope.POLICY and obj.policy is not None:
            return {obj.policy.filter_team_id}
        return {None}  # a key alias or a model is nobody's own: ops admins only

    def has_change_permission(self, request: HttpRequest, obj: Silence | None = None) -> bool:
        # An expired silence is history: it is kept as it was.
        if obj is not None and obj.ends_at <= timezone.now():
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Silence | None = None) -> bool:
        return False  # end it instead: what was muted, and why, stays on record

    def save_model(self, request: HttpRequest, obj: Silence, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)

    @admin.display(description="status")
    def status(self, silence: Silence) -> str:
        now = timezone.now()
        if silence.ends_at <= now:
            return "ended early" if silence.ended_by_id else "expired"
        return "active" if silence.starts_at <= now else "scheduled"

    @admin.action(description="End selected silences now", permissions=["change"])
    def end_now(self, request: HttpRequest, queryset: QuerySet[Silence]) -> None:
        self.check_rows(request, queryset)
        now = timezone.now()
        ended = 0
        with transaction.atomic():
            for silence in queryset.filter(ends_at__gt=now).select_for_update(of=("self",)):
                silence.ends_at = max(now, silence.starts_at + timedelta(microseconds=1))
                silence.ended_by = request.user  # type: ignore[assignment]
                silence.save(update_fields=["ends_at", "ended_by", "updated_at"])
                ended += 1
        self.message_user(
            request,
            f"{ended} silence{'s' if ended != 1 else ''} ended. Incidents still open under "
            "them are paged at the next evaluation.",
            messages.SUCCESS,
        )


@admin.register(Maintenance)
class MaintenanceAdmin(History):
    """One row: the list goes straight to it."""

    fields = ["enabled", "ends_at", "reason", "changed_by", "changed_at", "recent_changes"]
    readonly_fields = ["changed_by", "changed_at", "recent_changes"]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:policies_maintenance_change", args=[1]))

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Maintenance | None:
        # Before anyone saved it, the page shows it off without writing a row: a GET that
        # wrote would put a "created" into its history that nobody made.
        return Maintenance.current() if object_id == "1" else None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Maintenance, form: Any, change: bool) -> None:
        obj.changed_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
        if "enabled" in form.changed_data:
            state = "on: nobody is paged" if obj.enabled else "off: paging resumes"
            self.message_user(request, f"Maintenance mode is {state}.", messages.WARNING)
