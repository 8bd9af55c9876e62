"""Alert history: incidents, what happened to them, and every delivery attempt. Read-only:
history is written by the engine, not edited by people."""

from __future__ import annotations

from django.contrib import admin
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from policies.engine import resolve
from policies.models import (
    Delivery,
    DeliveryAttempt,
    Heartbeat,
    Incident,
    IncidentEvent,
    IncidentStatus,
    PolicyState,
)


class ReadOnly:
    """Mixed into admin classes whose rows only the engine writes."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class IncidentEventInline(ReadOnly, admin.TabularInline[IncidentEvent, Incident]):
    model = IncidentEvent
    fields = readonly_fields = ("at", "kind", "message", "user")
    extra = 0


class DeliveryInline(ReadOnly, admin.TabularInline[Delivery, Incident]):
    model = Delivery
    fields = readonly_fields = (
        "action",
        "status",
        "attempts",
        "created_at",
        "finished_at",
        "last_error",
    )
    extra = 0
    show_change_link = True


@admin.register(Incident)
class IncidentAdmin(ReadOnly, admin.ModelAdmin[Incident]):
    list_display = [
        "summary", "status", "policy", "group_key", "severity", "routed_to", "detected_at",
        "resolved_at",
    ]  # fmt: skip
    list_filter = ["status", "severity", "policy__kind", "policy"]
    list_select_related = ["policy", "routing_key"]
    search_fields = ["dedup_key", "summary", "group_key", "key_alias"]
    date_hierarchy = "detected_at"
    inlines = [IncidentEventInline, DeliveryInline]
    actions = ["resolve_incidents"]
    fieldsets = [
        (None, {"fields": ["summary", "status", "policy", "group_key", "severity"]}),
        (
            "Counts",
            {"fields": ["trigger_count", "peak_count", "last_count", "policy_snapshot", "details"]},
        ),
        (
            "Times",
            {"fields": ["started_at", "detected_at", "resolved_at", "resolved_by", "clear_since"]},
        ),
        ("PagerDuty", {"fields": ["routed_to", "team", "key_alias", "dedup_key", "last_paged_at"]}),
    ]

    def get_ordering(self, request: HttpRequest) -> list[str]:
        return ["-status", "-detected_at"]  # "resolved" > "open": open incidents first

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("policies.change_incident"))

    @admin.action(
        description="Resolve selected incidents (and send the resolve)",
        permissions=["resolve"],
    )
    def resolve_incidents(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        now = timezone.now()
        resolved = 0
        for pk in queryset.filter(status=IncidentStatus.OPEN).values_list("pk", flat=True):
            with transaction.atomic():
                incident = (
                    Incident.objects.select_for_update()
                    .filter(pk=pk, status=IncidentStatus.OPEN)
                    .first()
                )
                if incident is not None:  # the engine may have resolved it meanwhile
                    who = request.user.get_username()
                    resolve(incident, now, f"Resolved by hand by {who}.", user=request.user)
                    resolved += 1
        self.message_user(request, f"{resolved} incident{'s' if resolved != 1 else ''} resolved.")

    @admin.display(description="routed to")
    def routed_to(self, incident: Incident) -> str:
        return str(incident.routing_key) if incident.routing_key else "no route"


class DeliveryAttemptInline(ReadOnly, admin.TabularInline[DeliveryAttempt, Delivery]):
    model = DeliveryAttempt
    fields = readonly_fields = ("at", "http_status", "duration_ms", "response_excerpt", "error")
    extra = 0


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin[Delivery]):
    list_display = ["incident", "action", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "action"]
    list_select_related = ["incident"]
    search_fields = ["incident__dedup_key", "incident__summary"]
    date_hierarchy = "created_at"
    inlines = [DeliveryAttemptInline]
    fields = readonly_fields = (
        "incident", "action", "status", "attempts", "created_at", "next_attempt_at",
        "finished_at", "last_error",
    )  # fmt: skip


@admin.register(PolicyState)
class PolicyStateAdmin(ReadOnly, admin.ModelAdmin[PolicyState]):
    list_display = ["policy", "evaluated_at"]
    list_select_related = ["policy"]
    search_fields = ["policy__name"]
    fields = readonly_fields = ("policy", "evaluated_at", "pending")


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnly, admin.ModelAdmin[Heartbeat]):
    list_display = ["name", "at"]
