"""Alert history: incidents, what happened to them, and every delivery attempt. Read-only:
history is written by the engine, not edited by people."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Case, Max, Model, QuerySet, Value, When
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from alerting_console.moments import shown
from ingest.models import GatewayRequest
from policies.engine import resolve
from policies.models import (
    Delivery,
    DeliveryAttempt,
    Incident,
    IncidentEvent,
    IncidentStatus,
)
from policies.muting import subject_of
from policies.page_state import page_badge, state_of, with_latest_trigger
from policies.roles import own_team_ids


class ReadOnly:
    """Mixed into admin classes whose rows only the engine writes."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


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


class MutedFilter(admin.SimpleListFilter):
    title = "muted"
    parameter_name = "muted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Silenced or in maintenance"), ("no", "Not muted")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() in ("yes", "no"):
            return queryset.filter(paged=self.value() == "no")
        return queryset


@admin.register(Incident)
class IncidentAdmin(ReadOnly, admin.ModelAdmin[Incident]):
    list_display = [
        "summary", "status", "page", "policy", "team", "key_alias", "model", "severity",
        "routed_to", "detected_at", "resolved_at",
    ]  # fmt: skip
    list_filter = [
        "status",
        MutedFilter,
        "severity",
        "policy__kind",
        "policy",
        "team",
        ("key_alias", admin.AllValuesFieldListFilter),
        ("model", admin.AllValuesFieldListFilter),
        "detected_at",
    ]
    list_select_related = ["policy", "routing_key", "team"]
    search_fields = [
        "dedup_key", "summary", "group_key", "key_alias", "model", "details__sample_request_ids",
    ]  # fmt: skip
    search_help_text = "Search by dedup key, summary, group, key alias, model or a request id."
    date_hierarchy = "detected_at"
    inlines = [DeliveryInline]
    actions = ["resolve_incidents"]
    fieldsets = [
        (None, {"fields": ["summary", "status", "page_in_full", "timeline"]}),
        (
            "What tripped it",
            {
                "fields": [
                    "policy",
                    "thresholds",
                    "group_key",
                    "trigger_count",
                    "peak_count",
                    "last_count",
                    "top_errors",
                    "busiest",
                    "sample_requests",
                ]
            },
        ),
        (
            "Times",
            {
                "fields": [
                    "started_at",
                    "detected_at",
                    "noticed_at",
                    "resolved_at",
                    "resolved_by",
                    "clear_since",
                ]
            },
        ),
        (
            "PagerDuty",
            {
                "fields": [
                    "routed_to",
                    "severity",
                    "team",
                    "key_alias",
                    "model",
                    "dedup_key",
                    "paged_at",
                ]
            },
        ),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Incident]:
        return with_latest_trigger(super().get_queryset(request))

    @admin.display(description="page")
    def page(self, incident: Incident) -> SafeString:
        """What happened to its page, from its deliveries: not "paged" for "not muted"."""
        return page_badge(state_of(incident))

    @admin.display(description="page")
    def page_in_full(self, incident: Incident) -> SafeString:
        state = state_of(incident)
        return format_html("{} {}", page_badge(state), state.detail)

    @admin.display(description="last paged at")
    def paged_at(self, incident: Incident) -> str:
        delivered = incident.deliveries.filter(
            action=Delivery.Action.TRIGGER, status=Delivery.Status.DELIVERED
        ).aggregate(at=Max("finished_at"))["at"]
        return shown(delivered) if delivered else "never: PagerDuty accepted no trigger for it"

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        # Open incidents first, newest first within each; not by the status's spelling.
        still_open = Case(When(status=IncidentStatus.OPEN, then=Value(0)), default=Value(1))
        return [still_open.asc(), "-detected_at", "-pk"]

    def has_resolve_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.has_perm("policies.change_incident"))

    @admin.display(description="timeline")
    def timeline(self, incident: Incident) -> SafeString:
        """Opened, count changes, every delivery attempt with PagerDuty's answer, renotifies,
        silences, and the resolve (and by whom), in order."""
        entries: list[tuple[datetime, str, str, str]] = []
        attempts = attempts_by_ordinal(incident)
        for event in incident.events.select_related("user"):
            who = f" ({event.user.get_username()})" if event.user else ""
            decided_on = _attempt_of(event)
            attempt = attempts.pop(decided_on, None) if decided_on else None
            if attempt is None:
                entries.append((event.at, event.get_kind_display(), event.message + who, ""))
                continue
            # One row per attempt: what PagerDuty answered, and what was decided of it.
            answer = f"HTTP {attempt.http_status}" if attempt.http_status else "no answer"
            entries.append(
                (
                    event.at,
                    f"{attempt.delivery.get_action_display()} sent",
                    f"{answer} in {attempt.duration_ms} ms. {event.message}",
                    reverse("admin:policies_delivery_change", args=[attempt.delivery_id]),
                )
            )
        for attempt in attempts.values():  # no decision recorded (its worker died)
            answer = f"HTTP {attempt.http_status}" if attempt.http_status else "no answer"
            said = attempt.response_excerpt or attempt.error
            entries.append(
                (
                    attempt.at,
                    f"{attempt.delivery.get_action_display()} sent",
                    f"{answer}{': ' + said if said else ''} ({attempt.duration_ms} ms)",
                    reverse("admin:policies_delivery_change", args=[attempt.delivery_id]),
                )
            )
        entries.sort(key=lambda entry: entry[0])
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    f"{at:%Y-%m-%d %H:%M:%S}",
                    format_html('<a href="{}">{}</a>', link, kind) if link else kind,
                    message,
                )
                for at, kind, message, link in entries
            ),
        )
        return format_html('<table id="incident-timeline"><tbody>{}</tbody></table>', rows)

    @admin.display(description="thresholds when it opened")
    def thresholds(self, incident: Incident) -> str:
        snapshot = incident.policy_snapshot or {}
        return str(snapshot.get("rule") or "—")

    @admin.display(description="top errors")
    def top_errors(self, incident: Incident) -> SafeString:
        errors = (incident.details or {}).get("top_errors") or []
        if not errors:
            return format_html("{}", "—")
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {}: {}</li>",
                (
                    (e.get("error_class") or "no class", e.get("status_code") or "", e.get("count"))
                    for e in errors
                ),
            ),
        )

    @admin.display(description="most of its requests came from")
    def busiest(self, incident: Incident) -> str:
        """Information for the responder, not the owner: the incident is routed and muted by
        its team, key alias and model above, which are only what it is surely about."""
        details = incident.details or {}
        parts = [
            f"{label} {details[key]}"
            for label, key in (
                ("team", "busiest_team"),
                ("key alias", "busiest_key_alias"),
                ("model", "busiest_model"),
            )
            if details.get(key)
        ]
        return ", ".join(parts) or "—"

    @admin.display(description="sample requests")
    def sample_requests(self, incident: Incident) -> SafeString:
        ids = [str(i) for i in (incident.details or {}).get("sample_request_ids") or []]
        if not ids:
            return format_html("{}", "—")
        rows = dict(
            GatewayRequest.objects.filter(request_id__in=ids).values_list("request_id", "pk")
        )
        links = [
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:ingest_gatewayrequest_change", args=[rows[i]]),
                i,
            )
            if i in rows
            else format_html("{} (pruned)", i)
            for i in ids
        ]
        return format_html(
            "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((link,) for link in links))
        )

    @admin.action(
        description="Resolve selected incidents (and send the resolve)",
        permissions=["resolve"],
    )
    def resolve_incidents(self, request: HttpRequest, queryset: QuerySet[Incident]) -> None:
        own = own_team_ids(request.user)
        if own is not None:
            # The incident's team as known for sure (its group, or its policy's team): not the
            # team most of its requests came from, which for a platform-wide one is a guess.
            for selected in queryset.select_related("policy"):
                if subject_of(selected).team_id not in own:
                    raise PermissionDenied("You may only resolve your own teams' incidents.")
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


def attempts_by_ordinal(incident: Incident) -> dict[tuple[int, int], DeliveryAttempt]:
    """Each delivery's attempts by (delivery, 1 for its first attempt, 2, ...)."""
    attempts = (
        DeliveryAttempt.objects.filter(delivery__incident=incident)
        .select_related("delivery")
        .order_by("delivery_id", "at", "pk")
    )
    numbered: dict[tuple[int, int], DeliveryAttempt] = {}
    counts: Counter[int] = Counter()
    for attempt in attempts:
        counts[attempt.delivery_id] += 1
        numbered[(attempt.delivery_id, counts[attempt.delivery_id])] = attempt
    return numbered


def _attempt_of(event: IncidentEvent) -> tuple[int, int] | None:
    """The (delivery, attempt) a delivery event decided on: it records both in its data."""
    data = event.data or {}
    if event.kind != IncidentEvent.Kind.DELIVERY or "delivery" not in data:
        return None
    return int(data["delivery"]), int(data.get("attempts") or 0)
